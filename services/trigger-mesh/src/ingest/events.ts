// /ingest/events: plain error.reported data or CloudEvents, one or a batch -> error.reported.
import { createEvent, validate, validateData, type GraceEvent, type ValidationError } from '@grace/contracts';
import { HttpError } from '@grace/service-kit';
import type { Producer } from './producers.js';
import { parseJson, prefixed, type IngestRoute } from './route.js';

/** error.reported events from a body of plain error.reported data or CloudEvents, one or a batch. */
export function eventsFromBody(body: unknown, producer: Producer, maxBatch: number): GraceEvent<'error.reported'>[] {
  const batch = Array.isArray(body);
  const items = batch ? body : [body];
  if (items.length === 0) throw new HttpError(400, 'invalid_request', 'the batch is empty');
  if (items.length > maxBatch) {
    throw new HttpError(400, 'invalid_request', `a batch holds at most ${maxBatch} events (got ${items.length})`);
  }
  const errors: ValidationError[] = [];
  const events: GraceEvent<'error.reported'>[] = [];
  items.forEach((item, i) => {
    const at = batch ? String(i) : '';
    if (item !== null && typeof item === 'object' && 'specversion' in item) {
      const checked = validate('error.reported', item);
      if (checked.ok) events.push(checked.value);
      else errors.push(...prefixed(at, checked.errors));
      return;
    }
    const withOrigin =
      item !== null && typeof item === 'object' && !('origin' in item) ? { ...item, origin: 'http' } : item;
    const checked = validateData('error.reported', withOrigin);
    if (checked.ok) events.push(createEvent('error.reported', checked.value, { source: `ingest/${producer.name}` }));
    else errors.push(...prefixed(at, checked.errors));
  });
  if (errors.length > 0) {
    throw new HttpError(400, 'invalid_request', `${errors.length} validation error(s); nothing was accepted`, {
      details: errors,
    });
  }
  return events;
}

export const eventsRoute: IngestRoute = {
  name: 'events',
  paths: ['/ingest/events'],
  async handle(req, { deps, producer, body, publishAll }) {
    const events = eventsFromBody(parseJson(req, body), producer, deps.maxBatch);
    await publishAll(events);
    return { accepted: events.length, event_ids: events.map((e) => e.id) };
  },
};
