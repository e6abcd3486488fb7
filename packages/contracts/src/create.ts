// Building a well-formed CloudEvent for a subject (validated, so a bad emit fails where it is written).
import { randomBytes, randomUUID } from 'node:crypto';
import { SPEC_VERSION } from './envelope.js';
import type { EventData, EventSubject, GraceEvent } from './subjects.js';
import { describeErrors, validate } from './validate.js';

export interface CreateEventOptions {
  /** URI-reference of the producer, e.g. `grace/trigger-mesh`. */
  source: string;
  /** Defaults to a new UUID. */
  id?: string;
  /** The correlation id of the flow this event belongs to; defaults to the event's own id. */
  correlationid?: string;
  /** Parent trace context; a new child span id is derived from it, or a new trace is started. */
  traceparent?: string;
  time?: Date;
  subject?: string;
}

export class ContractViolationError extends Error {
  constructor(
    message: string,
    readonly errors: readonly { path: string; message: string }[],
  ) {
    super(message);
    this.name = 'ContractViolationError';
  }
}

/** A child of `traceparent` (same trace, new span), or a new sampled trace. */
export function childTraceparent(traceparent?: string): string {
  const span = randomBytes(8).toString('hex');
  const parts = traceparent?.split('-');
  if (parts && parts.length === 4 && parts[1]) return `00-${parts[1]}-${span}-${parts[3]}`;
  return `00-${randomBytes(16).toString('hex')}-${span}-01`;
}

export function createEvent<S extends EventSubject>(
  subject: S,
  data: EventData<S>,
  options: CreateEventOptions,
): GraceEvent<S> {
  const id = options.id ?? randomUUID();
  const event = {
    specversion: SPEC_VERSION,
    id,
    source: options.source,
    type: subject,
    time: (options.time ?? new Date()).toISOString(),
    datacontenttype: 'application/json',
    ...(options.subject !== undefined ? { subject: options.subject } : {}),
    correlationid: options.correlationid ?? id,
    traceparent: childTraceparent(options.traceparent),
    data,
  };
  const result = validate(subject, event);
  if (!result.ok) {
    throw new ContractViolationError(
      `event ${subject} breaks its contract: ${describeErrors(result.errors)}`,
      result.errors,
    );
  }
  return result.value;
}
