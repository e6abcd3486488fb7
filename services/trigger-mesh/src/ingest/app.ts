// HTTP ingest: /ingest/events, /ingest/alertmanager, /ingest/sentry -> error.reported on JetStream.
// 202 only once JetStream has stored every event; 400 with every validation error, 401, 413, 415, 503: the kit's
// HttpError, answered by its jsonErrorHandler as { error, message, details? }.
import {
  createEvent,
  validate,
  validateData,
  validateSchema,
  type GraceEvent,
  type ValidationError,
} from '@grace/contracts';
import { errorMessage, HttpError, jsonErrorHandler, sendHttpError, type Logger } from '@grace/service-kit';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Kysely } from 'kysely';
import { AlertmanagerWebhook, mapAlertmanager, type AlertmanagerWebhookType } from '../domain/alertmanager.js';
import { mapSentry, validateSentryEvent } from '../domain/sentry.js';
import type { TriggerMeshMetrics } from '../metrics.js';
import { recordResolvedAlerts, type Database } from '../store.js';
import { authenticate, type Producer, type Producers } from './producers.js';

export interface IngestDeps {
  producers: () => Producers;
  publish: (event: GraceEvent) => Promise<unknown>;
  db: Kysely<Database>;
  log: Logger;
  metrics: TriggerMeshMetrics;
  maxBodyBytes: number;
  maxBatch: number;
}

const prefixed = (prefix: string, errors: readonly ValidationError[]) =>
  errors.map((e) => ({ path: [prefix, e.path].filter(Boolean).join('.'), message: e.message }));

function parseJson(req: Request): unknown {
  const type = req.headers['content-type'] ?? '';
  if (!/\bjson\b/i.test(type)) {
    throw new HttpError(415, 'unsupported_media_type', `Content-Type must be application/json (got "${type}")`);
  }
  const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new HttpError(400, 'invalid_request', `body is not JSON: ${errorMessage(err)}`);
  }
}

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

export function createIngestApp(deps: IngestDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use('/ingest', express.raw({ type: () => true, limit: deps.maxBodyBytes }));

  const authenticated = (req: Request): Producer => {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const result = authenticate(deps.producers(), req.headers, raw, Date.now());
    if (!result.ok) {
      const why = deps.producers().list.length === 0 ? 'no producers are configured (PRODUCERS_FILE)' : result.reason;
      throw new HttpError(401, 'unauthorized', why, {
        headers: { 'WWW-Authenticate': 'Bearer realm="grace-ingest"' },
      });
    }
    return result.producer;
  };

  const publishAll = async (events: GraceEvent[]) => {
    try {
      // JetStream stores them (and dedupes by event id) before we say 202.
      await Promise.all(events.map((e) => deps.publish(e)));
    } catch (err) {
      deps.log.warn({ err: errorMessage(err) }, 'JetStream did not accept ingested events');
      throw new HttpError(
        503,
        'unavailable',
        `the event bus did not accept the events (${errorMessage(err)}); retry later`,
        { headers: { 'Retry-After': '5' } },
      );
    }
  };

  type Route = (req: Request) => Promise<Record<string, unknown>>;
  const route = (name: string, handle: Route) => async (req: Request, res: Response, next: NextFunction) => {
    try {
      const body = await handle(req);
      deps.metrics.ingested.inc({ route: name, status: '202' });
      res.status(202).json(body);
    } catch (err) {
      next(Object.assign(err as object, { route: name }));
    }
  };

  app.post(
    '/ingest/events',
    route('events', async (req) => {
      const producer = authenticated(req);
      const events = eventsFromBody(parseJson(req), producer, deps.maxBatch);
      await publishAll(events);
      return { accepted: events.length, event_ids: events.map((e) => e.id) };
    }),
  );

  app.post(
    '/ingest/alertmanager',
    route('alertmanager', async (req) => {
      const producer = authenticated(req);
      const checked = validateSchema<AlertmanagerWebhookType>(AlertmanagerWebhook, parseJson(req));
      if (!checked.ok) {
        throw new HttpError(400, 'invalid_request', 'not an Alertmanager webhook (version 4) payload', {
          details: checked.errors,
        });
      }
      const { reports, resolved } = mapAlertmanager(checked.value);
      const events = reports.map((r) => createEvent('error.reported', r, { source: `ingest/${producer.name}` }));
      await publishAll(events);
      await recordResolvedAlerts(deps.db, producer.name, resolved);
      return { accepted: events.length, resolved_recorded: resolved.length, event_ids: events.map((e) => e.id) };
    }),
  );

  app.post(
    '/ingest/sentry',
    route('sentry', async (req) => {
      const producer = authenticated(req);
      const checked = validateSentryEvent(parseJson(req));
      if (!checked.ok) throw new HttpError(400, 'invalid_request', 'not a Sentry event', { details: checked.errors });
      const service = typeof req.query.service === 'string' ? req.query.service : producer.service;
      const mapped = validateData('error.reported', mapSentry(checked.value, service ? { service } : {}));
      if (!mapped.ok)
        throw new HttpError(400, 'invalid_request', 'the Sentry event does not map to an error', {
          details: mapped.errors,
        });
      const event = createEvent('error.reported', mapped.value, { source: `ingest/${producer.name}` });
      await publishAll([event]);
      return { accepted: 1, event_ids: [event.id] };
    }),
  );

  app.use('/ingest', (req: Request, res: Response) =>
    sendHttpError(res, new HttpError(404, 'not_found', `no ingest route for ${req.method} ${req.path}`)),
  );

  // Every failure is the kit's one JSON error shape, counted by route and status; body-parser's own errors (too
  // large, aborted) land here too.
  const answer = jsonErrorHandler(deps.log);
  app.use((err: unknown, req: Request, res: Response, next: NextFunction) => {
    answer(err, req, res, next);
    const route = (err as { route?: unknown } | null)?.route;
    deps.metrics.ingested.inc({ route: typeof route === 'string' ? route : 'unknown', status: String(res.statusCode) });
  });
  return app;
}
