// The typed map of every event subject to its data schema: the one source for names, schemas and types.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { cloudEvent, EnvelopeAttributes } from './envelope.js';
import { ErrorCaptured, ErrorReported, SecurityFinding } from './events/errors.js';

export interface EventDefinition {
  readonly description: string;
  readonly data: TSchema;
}

export const events = {
  'error.reported': {
    description: 'A raw error from any producer (NATS or trigger-mesh HTTP ingest).',
    data: ErrorReported,
  },
  'error.captured': {
    description: 'A normalised, redacted, fingerprinted occurrence with counts and route.',
    data: ErrorCaptured,
  },
  'security.finding': {
    description: 'A secret or an injection attempt found in a payload (what and where; never the secret).',
    data: SecurityFinding,
  },
} as const satisfies Record<string, EventDefinition>;

export type EventSubject = keyof typeof events;
export type EventData<S extends EventSubject> = Static<(typeof events)[S]['data']>;

const Envelope = Type.Object(EnvelopeAttributes);
export type Envelope = Static<typeof Envelope>;
/** A complete CloudEvent of one subject. */
export type GraceEvent<S extends EventSubject = EventSubject> = S extends EventSubject
  ? Envelope & { type: S; data: EventData<S> }
  : never;

export const eventSubjects = Object.keys(events) as EventSubject[];

export function isEventSubject(subject: string): subject is EventSubject {
  return Object.prototype.hasOwnProperty.call(events, subject);
}

const envelopeSchemas = new Map<EventSubject, TSchema>();
/** The full CloudEvent JSON Schema of a subject (envelope + data). */
export function eventSchema(subject: EventSubject): TSchema {
  let schema = envelopeSchemas.get(subject);
  if (!schema) {
    schema = cloudEvent(subject, events[subject].data);
    envelopeSchemas.set(subject, schema);
  }
  return schema;
}
