// What one ingest format is to the ingest app (app.ts): its paths, how its producer is known from the headers
// before the body is read, its body limit, and its handler. One file per format: events.ts, alertmanager.ts,
// sentry.ts.
import type { GraceEvent, ValidationError } from '@grace/contracts';
import { errorMessage, HttpError, type Logger } from '@grace/service-kit';
import type { Request } from 'express';
import type { Kysely } from 'kysely';
import type { TriggerMeshMetrics } from '../metrics.js';
import type { Database } from '../store.js';
import type { Identified, Producer, Producers } from './producers.js';

export interface IngestDeps {
  producers: () => Producers;
  publish: (event: GraceEvent) => Promise<unknown>;
  db: Kysely<Database>;
  log: Logger;
  metrics: TriggerMeshMetrics;
  /** The limit of one event (MAX_EVENT_BYTES): the body limit of a route that carries one, and of each item. */
  maxBodyBytes: number;
  /** The limit of a request that carries a batch (INGEST_MAX_REQUEST_BYTES). */
  maxRequestBytes: number;
  maxBatch: number;
}

export interface IngestContext {
  deps: IngestDeps;
  producer: Producer;
  /** The body as it arrived (inflated when it was gzip or deflate). */
  body: Buffer;
  /** Publish and wait until JetStream has stored every event (a 503 with Retry-After when it did not). */
  publishAll(events: GraceEvent[]): Promise<void>;
}

export interface IngestRoute {
  /** The `route` label of grace_trigger_mesh_ingested_total. */
  name: string;
  /** POST paths, in Express syntax. */
  paths: string[];
  /** The body limit in bytes (default: `deps.maxBodyBytes`, one event). */
  limit?: (deps: IngestDeps) => number;
  /** Who sends it, from the headers and the query alone (default: the Grace credentials of `identify`). */
  identify?: (req: Request, producers: Producers) => Identified;
  /** The status of a success (default 202; Sentry's clients get 200, as from Sentry). */
  status?: number;
  /** The WWW-Authenticate challenge of a 401 (default `Bearer realm="grace-ingest"`). */
  challenge?: string;
  handle(req: Request, ctx: IngestContext): Promise<Record<string, unknown>>;
}

export const prefixed = (prefix: string, errors: readonly ValidationError[]) =>
  errors.map((e) => ({ path: [prefix, e.path].filter(Boolean).join('.'), message: e.message }));

/** The body as JSON; 415 when the Content-Type names no JSON type, 400 when it does not parse. */
export function parseJson(req: Request, body: Buffer): unknown {
  const type = req.headers['content-type'] ?? '';
  if (!/\bjson\b/i.test(type)) {
    throw new HttpError(415, 'unsupported_media_type', `Content-Type must be application/json (got "${type}")`);
  }
  return parseJsonText(body);
}

export function parseJsonText(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new HttpError(400, 'invalid_request', `body is not JSON: ${errorMessage(err)}`);
  }
}
