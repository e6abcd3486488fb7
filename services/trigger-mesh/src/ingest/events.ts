// /ingest/events: CloudEvents 1.0 over HTTP (binary, structured and batched content modes, domain/cloudevents-http.ts)
// or plain error.reported data, one or a batch -> error.reported.
//
// A producer's CloudEvent keeps its `source` and every attribute; its `id` moves to the extension attribute
// `sourceid`, and the Grace event's id is derived from (producer, source, id): a retry of the same event is the
// same Grace event, which JetStream's duplicate window (msg id = event id) and the capture's inbox store once,
// whatever the content mode. `time` is the receive time when the producer sent none; every JSON
// `datacontenttype` becomes `application/json`. Plain data has no id of its own: each request is a new event.
import { createEvent, validate, validateData, type GraceEvent, type ValidationError } from '@grace/contracts';
import { HttpError } from '@grace/service-kit';
import type { Request } from 'express';
import {
  binaryEvent,
  binaryPath,
  BindingError,
  contentModeOf,
  normalizeEvent,
  parseEventFormatBody,
  type HeaderMap,
} from '../domain/cloudevents-http.js';
import { graceEventId } from '../domain/ids.js';
import type { Producer } from './producers.js';
import { parseJson, prefixed, type IngestRoute } from './route.js';

/** The extension attribute that keeps a producer's own event id. */
export const SOURCE_ID_ATTRIBUTE = 'sourceid';
const TYPE = 'error.reported';

type Checked = { ok: true; event: GraceEvent<'error.reported'> } | { ok: false; errors: ValidationError[] };

/**
 * A producer's CloudEvent (one of the JSON event format, or built from binary-mode headers) as a Grace
 * error.reported event: its id derived from (producer, source, id) with the original kept in `sourceid`, `time`
 * the receive time when absent. Errors carry the event's own paths (`type`, `data.severity`).
 */
export function graceEventFrom(value: unknown, producer: Producer, now: Date): Checked {
  const normalized = normalizeEvent(value);
  if (!normalized.event) return { ok: false, errors: normalized.errors };
  const ce = normalized.event;
  if (ce.type !== undefined && ce.type !== TYPE) {
    return {
      ok: false,
      errors: [
        { path: 'type', message: `type ${JSON.stringify(ce.type)} is not accepted: /ingest/events takes ${TYPE} only` },
      ],
    };
  }
  if (ce[SOURCE_ID_ATTRIBUTE] !== undefined && ce[SOURCE_ID_ATTRIBUTE] !== ce.id) {
    return {
      ok: false,
      errors: [
        {
          path: SOURCE_ID_ATTRIBUTE,
          message: `is Grace's (it keeps the event's own id); do not send it, or send it equal to id`,
        },
      ],
    };
  }
  const candidate: Record<string, unknown> = { ...ce, time: ce.time ?? now.toISOString() };
  if (typeof ce.id === 'string') candidate[SOURCE_ID_ATTRIBUTE] = ce.id;
  // The producer's attributes against the contract first (its id and source within the envelope's bounds).
  const checked = validate(TYPE, candidate);
  if (!checked.ok) return { ok: false, errors: checked.errors };
  const event = checked.value;
  return { ok: true, event: { ...event, id: graceEventId(producer.name, event.source, event.id) } };
}

interface Item {
  value: unknown;
  /** Its index in a batch ('' for one event). */
  at: string;
  /** Whether it must be a CloudEvent (structured and batched modes), or may be plain data (a plain JSON body). */
  cloudEvent: boolean;
}

/** 400 with every validation error; nothing of the request is accepted. */
function refused(errors: ValidationError[]): HttpError {
  const shown = errors
    .slice(0, 3)
    .map((e) => `${e.path || '(body)'}: ${e.message}`)
    .join('; ');
  return new HttpError(
    400,
    'invalid_request',
    `${errors.length} validation error(s); nothing was accepted: ${shown}${errors.length > 3 ? '; ...' : ''}`,
    { details: errors },
  );
}

/** Every item of the request, or every validation error (paths prefixed with the batch index) and nothing. */
function convert(items: Item[], producer: Producer, now: Date): GraceEvent<'error.reported'>[] {
  const errors: ValidationError[] = [];
  const events: GraceEvent<'error.reported'>[] = [];
  for (const { value, at, cloudEvent } of items) {
    if (cloudEvent || (value !== null && typeof value === 'object' && 'specversion' in value)) {
      const checked = graceEventFrom(value, producer, now);
      if (checked.ok) events.push(checked.event);
      else errors.push(...prefixed(at, checked.errors));
      continue;
    }
    const withOrigin =
      value !== null && typeof value === 'object' && !('origin' in value) ? { ...value, origin: 'http' } : value;
    const checked = validateData(TYPE, withOrigin);
    if (checked.ok) events.push(createEvent(TYPE, checked.value, { source: `ingest/${producer.name}` }));
    else errors.push(...prefixed(at, checked.errors));
  }
  if (errors.length > 0) throw refused(errors);
  return events;
}

/** The event of a binary-mode request; errors by the header (or `data` path) that carries what is wrong. */
function binaryConvert(headers: HeaderMap, body: Buffer, producer: Producer, now: Date) {
  const { event, errors } = binaryEvent(headers, body);
  const checked = graceEventFrom(event, producer, now);
  if (errors.length === 0 && checked.ok) return [checked.event];
  const all = [...errors];
  for (const e of checked.ok ? [] : checked.errors) {
    const path = binaryPath(e.path);
    // A header refused above is not also reported missing.
    if (!errors.some((h) => h.path === path)) all.push({ ...e, path });
  }
  throw refused(all);
}

function batchItems(body: unknown, maxBatch: number, cloudEvents: boolean): Item[] {
  const items = body as unknown[];
  if (items.length === 0 && !cloudEvents) throw new HttpError(400, 'invalid_request', 'the batch is empty');
  if (items.length > maxBatch) {
    throw new HttpError(400, 'invalid_request', `a batch holds at most ${maxBatch} events (got ${items.length})`);
  }
  return items.map((value, i) => ({ value, at: String(i), cloudEvent: cloudEvents }));
}

export interface IngestRequest {
  /** By lower-case name, each as every value it was sent with (Node's `headersDistinct`). */
  headers: HeaderMap;
  body: Buffer;
  /** For a plain JSON body: today's check of its Content-Type (`parseJson`). */
  req: Request;
}

/** The error.reported events of a request to /ingest/events, in the order it holds them. */
export function eventsFromRequest(
  { headers, body, req }: IngestRequest,
  producer: Producer,
  maxBatch: number,
  now = new Date(),
): GraceEvent<'error.reported'>[] {
  try {
    const mode = contentModeOf(headers);
    switch (mode) {
      case 'binary':
        return binaryConvert(headers, body, producer, now);
      case 'structured': {
        const value = parseEventFormatBody(mode, headers, body);
        if (Array.isArray(value)) {
          throw new HttpError(
            400,
            'invalid_request',
            'a structured-mode body is one CloudEvent (a JSON object): send a batch as application/cloudevents-batch+json',
          );
        }
        return convert([{ value, at: '', cloudEvent: true }], producer, now);
      }
      case 'batch': {
        const value = parseEventFormatBody(mode, headers, body);
        if (!Array.isArray(value)) {
          throw new HttpError(
            400,
            'invalid_request',
            'an application/cloudevents-batch+json body is a JSON array of CloudEvents',
          );
        }
        return convert(batchItems(value, maxBatch, true), producer, now);
      }
      case 'plain': {
        const value = parseJson(req, body);
        const items = Array.isArray(value)
          ? batchItems(value, maxBatch, false)
          : [{ value, at: '', cloudEvent: false }];
        return convert(items, producer, now);
      }
    }
  } catch (err) {
    if (!(err instanceof BindingError)) throw err;
    throw new HttpError(err.status, err.status === 415 ? 'unsupported_media_type' : 'invalid_request', err.message);
  }
}

export const eventsRoute: IngestRoute = {
  name: 'events',
  paths: ['/ingest/events'],
  async handle(req, { deps, producer, body, publishAll }) {
    const events = eventsFromRequest({ headers: req.headersDistinct, body, req }, producer, deps.maxBatch);
    // Items of one request that are the same event (same source and id) are published once.
    const distinct = [...new Map(events.map((e) => [e.id, e])).values()];
    await publishAll(distinct);
    return { accepted: events.length, event_ids: events.map((e) => e.id) };
  },
};
