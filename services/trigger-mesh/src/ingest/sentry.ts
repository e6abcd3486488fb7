// Sentry: what the SDKs send with a DSN pointing at trigger-mesh (`POST /api/<project>/envelope/` and the older
// `POST /api/<project>/store/`, keyed by the DSN's public key), and `/ingest/sentry`, one event JSON with Grace's
// own credentials. Each error event becomes error.reported; an envelope's other items (sessions, transactions,
// attachments, client reports...) are skipped and counted. The Grace id is derived from (producer, Sentry
// event_id), so an SDK's retry is stored once. The SDKs' routes answer as Sentry does: 200 `{ "id" }`, and a 503
// carries X-Sentry-Rate-Limits besides Retry-After (SDKs that honour Retry-After only on a 429 read that one).
import { createEvent, validateData, type GraceEvent } from '@grace/contracts';
import { errorMessage, HttpError } from '@grace/service-kit';
import type { Request } from 'express';
import { graceEventId } from '../domain/ids.js';
import { mapSentry, validateSentryEvent } from '../domain/sentry.js';
import { EnvelopeError, parseEnvelope, sentryEventId, type Envelope } from '../domain/sentry-envelope.js';
import { identifySentry, type Producer } from './producers.js';
import { parseJson, parseJsonText, type IngestContext, type IngestRoute } from './route.js';

/**
 * The envelope item type that carries an error event. (`error` is no item type: it is the SDKs' rate-limit
 * category of `event` items; transactions, sessions, attachments... are items of their own.)
 */
const EVENT_ITEM = 'event';

/**
 * The item types Sentry's ingestion knows (the envelope items of its SDK docs and of Relay); a skipped item of
 * any other type is counted as `other`, so a sender cannot grow the metric's label set.
 */
const KNOWN_ITEM_TYPES = new Set([
  'attachment',
  'check_in',
  'client_report',
  'feedback',
  'form_data',
  'log',
  'metric',
  'metric_buckets',
  'metric_meta',
  'nel',
  'otel_log',
  'otel_span',
  'profile',
  'profile_chunk',
  'raw_security',
  'replay_event',
  'replay_recording',
  'replay_video',
  'security',
  'session',
  'sessions',
  'span',
  'statsd',
  'trace_metric',
  'transaction',
  'unreal_report',
  'user_report',
]);
const skippedLabel = (type: string) => (KNOWN_ITEM_TYPES.has(type) ? type : 'other');

/** One Sentry event (parsed JSON) as error.reported, or a 400 with every reason. */
function reportOf(value: unknown, producer: Producer, service: string | undefined, where: string) {
  const checked = validateSentryEvent(value);
  if (!checked.ok)
    throw new HttpError(400, 'invalid_request', `${where} is not a Sentry event`, { details: checked.errors });
  const mapped = validateData('error.reported', mapSentry(checked.value, service ? { service } : {}));
  if (!mapped.ok)
    throw new HttpError(400, 'invalid_request', `${where} does not map to an error`, { details: mapped.errors });
  const raw = checked.value.event_id;
  const sentryId = sentryEventId(raw) ?? (raw || undefined);
  return createEvent('error.reported', mapped.value, {
    source: `ingest/${producer.name}`,
    ...(sentryId ? { id: graceEventId(producer.name, 'sentry', sentryId) } : {}),
  });
}

/** An event item's JSON, with the envelope's event_id when the item has none (the header names the event). */
function eventOfItem(payload: Buffer, envelopeEventId: unknown, where: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch (err) {
    throw new HttpError(400, 'invalid_request', `broken envelope: ${where} is not JSON: ${errorMessage(err)}`);
  }
  if (
    typeof envelopeEventId === 'string' &&
    value !== null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    (value as { event_id?: unknown }).event_id === undefined
  )
    return { ...value, event_id: envelopeEventId };
  return value;
}

/** publishAll, its 503 also in Sentry's words: X-Sentry-Rate-Limits `<seconds>::organization` (every category). */
async function publishForSdk(publishAll: IngestContext['publishAll'], events: GraceEvent[]) {
  try {
    await publishAll(events);
  } catch (err) {
    if (!(err instanceof HttpError) || err.status !== 503) throw err;
    const retryAfter = err.headers['Retry-After'] ?? '5';
    throw new HttpError(err.status, err.code, err.message, {
      headers: { ...err.headers, 'Retry-After': retryAfter, 'X-Sentry-Rate-Limits': `${retryAfter}::organization` },
      cause: err,
    });
  }
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
    let envelope: Envelope;
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
      if (item.type !== EVENT_ITEM) {
        const label = skippedLabel(item.type);
        skipped[label] = (skipped[label] ?? 0) + 1;
        return;
      }
      if (item.payload.length > deps.maxBodyBytes)
        throw new HttpError(413, 'too_large', `${where} is larger than ${deps.maxBodyBytes} bytes`);
      events.push(reportOf(eventOfItem(item.payload, envelope.header.event_id, where), producer, service, where));
    });
    await publishForSdk(publishAll, events);
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
    await publishForSdk(publishAll, [event]);
    const id = (value as { event_id?: unknown }).event_id;
    return { ...(typeof id === 'string' ? { id } : {}), accepted: 1, event_ids: [event.id] };
  },
};
