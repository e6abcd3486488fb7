// trigger-mesh as a service definition: consumers, queries, HTTP ingest, the announcer and the two watched files.
import {
  watchConfigFile,
  watchVersionedFile,
  every,
  consumer,
  type ServiceDefinition,
  type WatchedFile,
} from '@grace/service-kit';
import { startAnnouncer } from './announcer.js';
import { config } from './config.js';
import { EMPTY_RULES, parseRules, type CompiledRules } from './domain/rules.js';
import { huntText } from './domain/hunter.js';
import { StormControl } from './domain/storm.js';
import { captureError } from './handlers/error-reported.js';
import { createIngestApp } from './ingest/app.js';
import { NO_PRODUCERS, parseProducers, type Producers } from './ingest/producers.js';
import { createMetrics } from './metrics.js';
import { migrations } from './migrations/index.js';
import { capturesQuery } from './queries.js';
import { pruneAlertMembers, pruneOccurrences, syncProducers, type Database } from './store.js';

export const triggerMesh: ServiceDefinition<Database, typeof config> = {
  name: 'trigger-mesh',
  defaultHttpPort: 8081,
  config,
  migrations,
  async setup(runtime) {
    const { config: c, log, db } = runtime;
    const metrics = createMetrics(runtime.metrics);

    let rules: WatchedFile<CompiledRules> | undefined;
    if (c.ROUTES_FILE) {
      rules = await watchVersionedFile(db, {
        path: c.ROUTES_FILE,
        what: 'routing rules',
        parse: parseRules,
        log,
        intervalMs: c.FILE_POLL_MS,
      });
    } else {
      log.info('no ROUTES_FILE: every error is captured as reported');
    }

    let producers: WatchedFile<Producers> | undefined;
    if (c.PRODUCERS_FILE) {
      producers = await watchConfigFile({
        path: c.PRODUCERS_FILE,
        what: 'producer credentials',
        parse: (text) => parseProducers(text),
        onLoad: (value) =>
          syncProducers(
            db,
            value.list.map((p) => ({ name: p.name, kind: p.kind, credentialSha256: p.credentialSha256 })),
          ),
        log,
        intervalMs: c.FILE_POLL_MS,
      });
    } else {
      log.warn('no PRODUCERS_FILE: HTTP ingest refuses every request (NATS ingest is open)');
    }

    const storm = new StormControl({
      perServicePerSecond: c.STORM_SERVICE_PER_SECOND,
      globalPerSecond: c.STORM_GLOBAL_PER_SECOND,
    });
    const windowing = { windowMs: c.DEDUPE_WINDOW_MS, emitIntervalMs: c.EMIT_INTERVAL_MS };
    const announcer = startAnnouncer(runtime, c.EMIT_INTERVAL_MS, metrics);
    const capture = captureError({ rules: () => rules?.current() ?? EMPTY_RULES, storm, windowing, metrics });
    const housekeeping = every(
      'pruning occurrences and alerts',
      60_000,
      async () => {
        storm.prune(Date.now());
        await pruneOccurrences(db, c.OCCURRENCE_RETENTION_HOURS);
        await pruneAlertMembers(db, c.ALERT_RETENTION_HOURS);
      },
      log,
    );

    return {
      consumers: [
        consumer<Database, 'error.reported'>({
          subject: 'error.reported',
          // Every effect of the handler is in the database, so events arriving together share a transaction.
          batch: c.INGEST_BATCH,
          concurrency: Math.max(c.CONSUMER_CONCURRENCY, c.INGEST_BATCH),
          // Dead letters of raw reports keep no secrets either.
          redact: (text) => huntText(text, 'dead_letter').text,
          handleBatch: capture.handleBatch,
          handler: capture.handler,
        }),
      ],
      queries: { 'trigger-mesh.query.captures': capturesQuery(db) },
      routes: createIngestApp({
        producers: () => producers?.current() ?? NO_PRODUCERS,
        publish: (event) => runtime.publish(event),
        db,
        log,
        metrics,
        maxBodyBytes: c.MAX_EVENT_BYTES,
        maxRequestBytes: c.INGEST_MAX_REQUEST_BYTES,
        maxBatch: c.INGEST_MAX_BATCH,
      }),
      async stop() {
        await housekeeping.stop();
        rules?.stop();
        producers?.stop();
        await announcer.stop();
      },
    };
  },
};
