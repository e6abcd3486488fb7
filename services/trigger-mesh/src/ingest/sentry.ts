// Sentry: what the SDKs send with a DSN pointing at trigger-mesh (`POST /api/<project>/envelope/` and the older
// `POST /api/<project>/store/`, keyed by the DSN's public key), and `/ingest/sentry`, one event JSON with Grace's
// own credentials. Each error event becomes error.reported; an envelope's other items (sessions, transactions,
// client reports...) are skipped and counted. The Grace id is derived from (producer, Sentry event_id), so an SDK's
// retry is stored once.
import { createEvent, validateData, type GraceEvent } from '@grace/contracts';
import { HttpError } from '@grace/service-kit';
import type { Request } from 'express';
import { graceEventId } from '../domain/cloudevents-http.js';
import { mapSentry, validateSentryEvent } from '../domain/sentry.js';
import { EnvelopeError, parseEnvelope } from '../domain/sentry-envelope.js';
import { identifySentry, type Producer } from './producers.js';
import { parseJson, parseJsonText, type IngestRoute } from './route.js';

/** The envelope item types that carry an error event. */
const EVENT_ITEMS = new Set(['event', 'error']);

/** One Sentry event (parsed JSON) as error.reported, or a 400 with every reason. */
function reportOf(value: unknown, producer: Producer, service: string | undefined, where: string) {
  const checked = validateSentryEvent(value);
  if (!checked.ok)
    throw new HttpError(400, 'invalid_request', `${where} is not a Sentry event`, { details: checked.errors });
  const mapped = validateData('error.reported', mapSentry(checked.value, service ? { service } : {}));
  if (!mapped.ok)
    throw new HttpError(400, 'invalid_request', `${where} does not map to an error`, { details: mapped.errors });
  const sentryId = checked.value.event_id;
  return createEvent('error.reported', mapped.value, {
    source: `ingest/${producer.name}`,
    ...(sentryId ? { id: graceEventId(producer.name, 'sentry', sentryId) } : {}),
  });
}

const projectOf = (req: Request) => String(req.params.project ?? '');
const serviceFor = (producer: Producer, project: string) => producer.sentryProjects?.get(project) ?? producer.service;
const identifyDsn = (req: Request, producers: Parameters<typeof identifySentry>[0]) =>
  identifySentry(producers, req.headers, req.query as Record<string, unknown>, projectOf(req));
const CHALLENGE = 'Sentry realm="grace-ingest"';

export const sentryRoute: IngestRoute = {
  name: 'sentry',
  paths: ['/ingest/sentry'],
  async handle(req, { producer, body, publishAll }) {
    const service = typeof req.query.service === 'string' ? req.query.service : producer.service;
    const event = reportOf(parseJson(req, body), producer, service, 'the body');
    await publishAll([event]);
    return { accepted: 1, event_ids: [event.id] };
  },
};

/** The SDKs' envelope endpoint: any content type (they often send none), gzip inflated by the app. */
export const sentryEnvelopeRoute: IngestRoute = {
  name: 'sentry-envelope',
  paths: ['/api/:project/envelope', '/api/:project/envelope/'],
  limit: (deps) => deps.maxRequestBytes,
  identify: identifyDsn,
  challenge: CHALLENGE,
  status: 200,
  async handle(req, { deps, producer, body, publishAll }) {
    let envelope;
    try {
      envelope = parseEnvelope(body);
    } catch (err) {
      if (err instanceof EnvelopeError) throw new HttpError(400, 'invalid_request', `broken envelope: ${err.message}`);
      throw err;
    }
    const service = serviceFor(producer, projectOf(req));
    const events: GraceEvent<'error.reported'>[] = [];
    const skipped: Record<string, number> = {};
    envelope.items.forEach((item, i) => {
      const where = `item ${i + 1} (${item.type})`;
      if (!EVENT_ITEMS.has(item.type)) {
        skipped[item.type] = (skipped[item.type] ?? 0) + 1;
        return;
      }
      if (item.payload.length > deps.maxBodyBytes)
        throw new HttpError(413, 'too_large', `${where} is larger than ${deps.maxBodyBytes} bytes`);
      events.push(reportOf(parseJsonText(item.payload), producer, service, where));
    });
    await publishAll(events);
    for (const [type, n] of Object.entries(skipped)) deps.metrics.sentrySkipped.inc({ type }, n);
    const id = typeof envelope.header.event_id === 'string' ? envelope.header.event_id : undefined;
    return { ...(id ? { id } : {}), accepted: events.length, event_ids: events.map((e) => e.id), skipped };
  },
};

/** The older store endpoint: one event as JSON (X-Sentry-Auth or sentry_key). */
export const sentryStoreRoute: IngestRoute = {
  name: 'sentry-store',
  paths: ['/api/:project/store', '/api/:project/store/'],
  identify: identifyDsn,
  challenge: CHALLENGE,
  status: 200,
  async handle(req, { producer, body, publishAll }) {
    const value = parseJsonText(body);
    const event = reportOf(value, producer, serviceFor(producer, projectOf(req)), 'the body');
    await publishAll([event]);
    const id = (value as { event_id?: unknown }).event_id;
    return { ...(typeof id === 'string' ? { id } : {}), accepted: 1, event_ids: [event.id] };
  },
};
