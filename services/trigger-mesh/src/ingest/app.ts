// HTTP ingest: every format in INGEST_ROUTES (events.ts, alertmanager.ts, sentry.ts) -> error.reported on
// JetStream. Each request is identified from its headers before its body is read (401, never 413, without
// credentials), then read up to its route's limit, then handled. 202 only once JetStream has stored every event;
// 400 with every validation error, 401, 404 listing the routes, 413, 415, 503: the kit's HttpError, answered by
// its jsonErrorHandler as { error, message, details? }. Every answer is counted by route and status.
import type { GraceEvent } from '@grace/contracts';
import { errorMessage, HttpError, jsonErrorHandler } from '@grace/service-kit';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { alertmanagerRoute } from './alertmanager.js';
import { eventsRoute } from './events.js';
import { identify, type Identified } from './producers.js';
import type { IngestDeps, IngestRoute } from './route.js';
import { sentryEnvelopeRoute, sentryRoute, sentryStoreRoute } from './sentry.js';

export type { IngestDeps } from './route.js';

/** Every ingest format; a new one is a module of its own added here (docs/architecture.md). */
export const INGEST_ROUTES: readonly IngestRoute[] = [
  eventsRoute,
  alertmanagerRoute,
  sentryRoute,
  sentryEnvelopeRoute,
  sentryStoreRoute,
];

const GRACE_CHALLENGE = 'Bearer realm="grace-ingest"';

/** The route's name rides on the error to the handler, which counts it. */
const tagged = (err: unknown, route: string) => Object.assign(err as object, { route });

export function createIngestApp(deps: IngestDeps, routes: readonly IngestRoute[] = INGEST_ROUTES): Express {
  const app = express();
  app.disable('x-powered-by');

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

  const refuse = (route: IngestRoute, why: string) => {
    const reason = deps.producers().list.length === 0 ? 'no producers are configured (PRODUCERS_FILE)' : why;
    return tagged(
      new HttpError(401, 'unauthorized', reason, {
        headers: { 'WWW-Authenticate': route.challenge ?? GRACE_CHALLENGE },
      }),
      route.name,
    );
  };

  for (const route of routes) {
    // 1. Who sends it, from the headers and the query: nothing of the body is read for a stranger.
    const identifyStep = (req: Request, res: Response, next: NextFunction) => {
      const who: Identified = route.identify
        ? route.identify(req, deps.producers())
        : identify(deps.producers(), req.headers, Date.now());
      if (!who.ok) return next(refuse(route, who.reason));
      res.locals.identified = who;
      next();
    };
    // 2. The body, up to the route's limit (gzip and deflate bodies are inflated; the limit counts the inflated size).
    const parser = express.raw({ type: () => true, limit: route.limit?.(deps) ?? deps.maxBodyBytes });
    const bodyStep = (req: Request, res: Response, next: NextFunction) =>
      parser(req, res, (err?: unknown) => (err ? next(tagged(err, route.name)) : next()));
    // 3. A signed body's check, then the format's own handler.
    const handleStep = async (req: Request, res: Response, next: NextFunction) => {
      try {
        const who = res.locals.identified as Extract<Identified, { ok: true }>;
        const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        const checked = who.checkBody?.(body);
        if (checked && !checked.ok) throw refuse(route, checked.reason);
        const answer = await route.handle(req, { deps, producer: who.producer, body, publishAll });
        const status = route.status ?? 202;
        deps.metrics.ingested.inc({ route: route.name, status: String(status) });
        res.status(status).json(answer);
      } catch (err) {
        next(tagged(err, route.name));
      }
    };
    for (const path of route.paths) app.post(path, identifyStep, bodyStep, handleStep);
  }

  const known = routes.flatMap((r) => r.paths.map((p) => `POST ${p}`));
  app.use((req: Request, _res: Response, next: NextFunction) =>
    next(
      new HttpError(
        404,
        'not_found',
        `no ingest route for ${req.method} ${req.path}; the routes are: ${known.join(', ')}`,
      ),
    ),
  );

  // Every failure is the kit's one JSON error shape, counted by route and status; body-parser's own errors (too
  // large, aborted, a broken gzip stream) land here too.
  const answer = jsonErrorHandler(deps.log);
  app.use((err: unknown, req: Request, res: Response, next: NextFunction) => {
    answer(err, req, res, next);
    const route = (err as { route?: unknown } | null)?.route;
    deps.metrics.ingested.inc({ route: typeof route === 'string' ? route : 'unknown', status: String(res.statusCode) });
  });
  return app;
}
