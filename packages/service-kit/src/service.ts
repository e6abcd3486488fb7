// Composes the kit into a running service: config -> db + migrations -> NATS -> consumers, queries, relay, http.
import {
  createEvent,
  describeErrors,
  validate,
  type EventData,
  type EventSubject,
  type GraceEvent,
  type QueryReply,
  type QueryRequest,
  type QuerySubject,
} from '@grace/contracts';
import {
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
  type PubAck,
} from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import type { Static, TObject, TProperties } from '@sinclair/typebox';
import type { Kysely, Migration, Transaction } from 'kysely';
import { sql } from 'kysely';
import type { RequestListener, Server } from 'node:http';
import { ConfigError, loadConfig, type KitConfig } from './config.js';
import { ConsumerRunner, runAfterCommit } from './consumer-runner.js';
import type { ConsumerDefinition, Emit, EmitOptions } from './consumer.js';
import { createDb, schemaForService, assertSchemaName } from './db.js';
import { errorMessage, InvalidInputError, withTimeout } from './errors.js';
import { kitTransaction } from './before-commit.js';
import { GroupCommit } from './group-commit.js';
import { closeServer, startSideServer, type UpgradeListener } from './http.js';
import { createLogger, type Logger } from './logger.js';
import { KitMetrics } from './metrics.js';
import { runMigrations } from './migrate.js';
import { connectNats, ensureStreams } from './nats.js';
import { Naming } from './naming.js';
import { OutboxRelay, pruneInbox, writeOutbox, type KitTables } from './outbox.js';
import { request, serveQueries, type QueryHandlers } from './queries.js';
import { startTracing, traceEmitted, tracePublish, tracingOn, currentTraceparent } from './tracing.js';

export type ServiceConfig<P extends TProperties> = KitConfig & Static<TObject<P>>;

/** What a service is: its name, its settings, its migrations, and what it builds on the runtime. */
export interface ServiceDefinition<DB, P extends TProperties = Record<never, never>> {
  name: string;
  /** Port of the side server when HTTP_PORT is not set. */
  defaultHttpPort?: number;
  config?: P;
  migrations: Record<string, Migration>;
  setup?: (runtime: ServiceRuntime<DB, ServiceConfig<P>>) => Promise<ServiceParts<DB>> | ServiceParts<DB>;
}

export interface ServiceParts<DB> {
  consumers?: ConsumerDefinition<DB>[];
  queries?: QueryHandlers;
  /** Extra HTTP routes served on the side server's port (e.g. an ingest API). */
  routes?: RequestListener;
  /** A WebSocket endpoint on the same port (HTTP upgrades). */
  upgrade?: UpgradeListener;
  /** Stop the service's own background work (timers, file watchers); called before connections close. */
  stop?: () => Promise<void>;
}

export type TransactionEmit = Emit;

export interface ServiceRuntime<DB, C> {
  readonly name: string;
  readonly config: C;
  readonly log: Logger;
  readonly db: Kysely<DB>;
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly naming: Naming;
  readonly metrics: KitMetrics;
  /**
   * Run `fn` in one transaction; events it emits are written to the outbox in the same transaction, and what it
   * hands to `afterCommit` (counters, wake-ups) runs once the transaction has committed, never on rollback.
   */
  transaction<T>(
    fn: (trx: Transaction<DB>, emit: Emit, afterCommit: (fn: () => void) => void) => Promise<T>,
  ): Promise<T>;
  /** Emit one event through the outbox in a transaction of its own. */
  emit<S extends EventSubject>(subject: S, data: EventData<S>, options?: EmitOptions): Promise<GraceEvent<S>>;
  /** Publish an already-built event straight to JetStream (for facts with no state change, e.g. ingest). */
  publish(event: GraceEvent): Promise<PubAck>;
  request<Q extends QuerySubject>(
    subject: Q,
    body: QueryRequest<Q>,
    options?: { timeoutMs?: number },
  ): Promise<QueryReply<Q>>;
}

export interface RunningService<DB, C> {
  readonly runtime: ServiceRuntime<DB, C>;
  readonly httpPort: number;
  readonly consumers: readonly ConsumerRunner<DB>[];
  readonly relay: OutboxRelay;
  /** Drain and close everything; resolves when the process may exit. */
  stop(): Promise<void>;
}

/** Create the service's schema and bring it to the latest migration (the Kubernetes Job entry point). */
export async function migrateService<DB, P extends TProperties>(
  def: ServiceDefinition<DB, P>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string[]> {
  const config = loadConfig(def.name, def.config, env);
  const log = createLogger(def.name, config.LOG_LEVEL);
  const schema = assertSchemaName(config.DB_SCHEMA ?? schemaForService(def.name));
  const { db } = createDb<unknown>({
    url: config.DATABASE_URL,
    schema,
    poolMax: 1,
    statementTimeoutMs: config.DB_STATEMENT_TIMEOUT_MS,
    applicationName: `${def.name}-migrate`,
  });
  try {
    const applied = await runMigrations(db, schema, def.migrations);
    log.info({ schema, applied }, applied.length ? 'migrations applied' : 'schema already up to date');
    return applied;
  } finally {
    await db.destroy();
  }
}

export async function startService<DB, P extends TProperties>(
  def: ServiceDefinition<DB, P>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RunningService<DB, ServiceConfig<P>>> {
  const config = loadConfig(def.name, def.config, env) as ServiceConfig<P>;
  // Traces first (OTEL_*; off without an endpoint): the logger, the pool and the side server look once whether it is on.
  const { tracing, warnings: tracingWarnings } = await startTracing(def.name, env);
  const log = createLogger(def.name, config.LOG_LEVEL);
  for (const warning of tracingWarnings) log.warn(warning);
  if (tracing)
    log.info({ endpoint: tracing.endpoint, service_name: tracing.serviceName }, 'exporting traces over OTLP');
  const stopTracing = async () => tracing?.shutdown();
  const schema = assertSchemaName(config.DB_SCHEMA ?? schemaForService(def.name));
  const naming = new Naming(config.GRACE_NAMESPACE);
  const metrics = new KitMetrics(def.name);

  const { db } = createDb<DB>({
    url: config.DATABASE_URL,
    schema,
    poolMax: config.DB_POOL_MAX,
    statementTimeoutMs: config.DB_STATEMENT_TIMEOUT_MS,
    // Which service and which deployment's schema a connection is, in pg_stat_activity (at most 63 characters).
    applicationName: `${def.name}:${schema}`.slice(0, 63),
    onCommit: () => metrics.dbCommits.inc(),
    onStatement: () => metrics.dbStatements.inc(),
    prepare: config.DB_PREPARED_STATEMENTS,
  });
  const kitDb = db as unknown as Kysely<KitTables>;
  let migrated = false;
  let shuttingDown = false;
  const cleanups: (() => Promise<unknown>)[] = [() => db.destroy(), stopTracing];
  try {
    await runMigrations(db as Kysely<unknown>, schema, def.migrations);
    migrated = true;
  } catch (err) {
    await db.destroy();
    await stopTracing();
    throw new Error(`cannot migrate schema ${schema} at ${redactUrl(config.DATABASE_URL)}: ${errorMessage(err)}`, {
      cause: err,
    });
  }

  let nc: NatsConnection;
  try {
    nc = await connectNats(config.NATS_URL, def.name, log);
  } catch (err) {
    await db.destroy();
    await stopTracing();
    throw new Error(`cannot connect to NATS at ${config.NATS_URL}: ${errorMessage(err)}`, { cause: err });
  }
  cleanups.unshift(() => nc.drain().catch(() => nc.close()));
  // A failure from here until the service listens closes what was opened, then reports the failure.
  const failStart = async (err: unknown): Promise<never> => {
    for (const c of cleanups) await c().catch(() => undefined);
    throw err;
  };
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc).catch(failStart);
  await ensureStreams(jsm, naming, {
    maxBytes: config.STREAM_MAX_BYTES,
    replicas: config.STREAM_REPLICAS,
    storage: config.STREAM_STORAGE,
    log,
  }).catch(failStart);

  const relay = new OutboxRelay({
    db: kitDb,
    js,
    naming,
    log,
    batchSize: config.OUTBOX_BATCH_SIZE,
    pollMs: config.OUTBOX_POLL_MS,
    publishTimeoutMs: config.REQUEST_TIMEOUT_MS,
    sweepAfterMs: config.OUTBOX_SWEEP_AFTER_MS,
    onPublished: (n) => metrics.outboxPublished.inc(n),
  });

  const makeEmit =
    (collected: GraceEvent[]): Emit =>
    (subject, data, options) => {
      const event = createEvent(subject, data, {
        source: `grace/${def.name}`,
        ...(options?.correlationid ? { correlationid: options.correlationid } : {}),
        ...(options?.traceparent ? { traceparent: options.traceparent } : {}),
        ...(options?.id ? { id: options.id } : {}),
        ...(options?.subject ? { subject: options.subject } : {}),
      });
      // Tracing on: a PRODUCER span, child of the trace the caller continues or of the active span (an HTTP
      // request, a worker's span), else the root of a new trace; the event carries its context.
      if (tracingOn()) traceEmitted(event, options?.traceparent ?? undefined);
      collected.push(event as GraceEvent);
      return event;
    };

  const runtime: ServiceRuntime<DB, ServiceConfig<P>> = {
    name: def.name,
    config,
    log,
    db,
    nc,
    js,
    jsm,
    naming,
    metrics,
    async transaction(fn) {
      const emitted: GraceEvent[] = [];
      const committed: (() => void)[] = [];
      const result = await kitTransaction(db, async (trx) => {
        const value = await fn(trx, makeEmit(emitted), (callback) => committed.push(callback));
        await writeOutbox(trx as unknown as Transaction<KitTables>, emitted);
        return value;
      });
      relay.publishCommitted(emitted);
      runAfterCommit(committed, log);
      return result;
    },
    async emit(subject, data, options) {
      return runtime.transaction(async (_trx, emit) => emit(subject, data, options));
    },
    async publish(event) {
      const checked = validate(event.type, event);
      if (!checked.ok) {
        throw new InvalidInputError(
          `event breaks the ${event.type} contract: ${describeErrors(checked.errors)}`,
          checked.errors,
        );
      }
      const subject = naming.subject(event.type);
      const options = { msgID: event.id, timeout: config.REQUEST_TIMEOUT_MS };
      if (!tracingOn()) return js.publish(subject, JSON.stringify(event), options);
      // A PRODUCER span, child of the active span (the HTTP request that brought it), else of the event's own
      // traceparent; what is published carries the span's context (the caller's event is left as it is).
      const traced = { ...event };
      traceEmitted(traced, currentTraceparent() ?? event.traceparent);
      return tracePublish(traced, subject, () => js.publish(subject, JSON.stringify(traced), options));
    },
    request(subject, body, options) {
      return request(subject, body, { nc, naming, timeoutMs: options?.timeoutMs ?? config.REQUEST_TIMEOUT_MS });
    },
  };

  const parts = (await (async () => def.setup?.(runtime))().catch(failStart)) ?? {};
  if (parts.stop) cleanups.unshift(parts.stop);

  // Batches of different consumers that are ready together commit in one transaction (group commit).
  const consumerCommits = new GroupCommit<Transaction<KitTables>>((body) => kitTransaction(kitDb, body), {
    max: config.CONSUMER_GROUP_MAX,
    concurrency: config.CONSUMER_GROUP_TRANSACTIONS ?? config.DB_POOL_MAX,
    log,
  });
  // A definition the runner refuses (e.g. subjects of two streams) fails the start like any other step.
  const runners = await Promise.resolve()
    .then(() =>
      (parts.consumers ?? []).map(
        (c) =>
          new ConsumerRunner<DB>(
            c,
            {
              service: def.name,
              concurrency: config.CONSUMER_CONCURRENCY,
              ackWaitMs: config.ACK_WAIT_MS,
              maxAttempts: config.MAX_ATTEMPTS,
              retryBaseMs: config.RETRY_BASE_MS,
              retryMaxMs: config.RETRY_MAX_MS,
              handlerTimeoutMs: config.HANDLER_TIMEOUT_MS,
              maxEventBytes: config.MAX_EVENT_BYTES,
            },
            {
              db: kitDb,
              js,
              jsm,
              naming,
              log,
              metrics,
              publish: (events) => relay.publishAll(events),
              transact: (body, consumer) => consumerCommits.submit(body, consumer),
            },
          ),
      ),
    )
    .catch(failStart);
  for (const r of runners) await r.provision().catch(failStart);

  const subscriptions: Subscription[] = serveQueries(parts.queries ?? {}, {
    nc,
    naming,
    service: def.name,
    log,
    metrics,
    timeoutMs: config.REQUEST_TIMEOUT_MS,
    maxRequestBytes: config.MAX_EVENT_BYTES,
  });
  // The server has the query subscriptions once this returns: a request right after the start finds a responder.
  await nc.flush().catch(failStart);

  const refreshMetrics = async () => {
    metrics.outboxBacklog.set(await relay.backlog());
    await Promise.all(
      runners.map(async (r) => {
        const info = await r.info();
        metrics.consumerPending.set({ consumer: r.durable, stream: r.stream }, info.pending);
        metrics.consumerAckPending.set({ consumer: r.durable, stream: r.stream }, info.ackPending);
      }),
    );
  };

  let server: Server;
  let httpPort: number;
  try {
    ({ server, port: httpPort } = await startSideServer({
      host: config.HTTP_HOST,
      port: config.HTTP_PORT ?? def.defaultHttpPort ?? 0,
      routes: parts.routes,
      upgrade: parts.upgrade,
      readiness: [
        { name: 'accepting', check: async () => !shuttingDown },
        { name: 'migrations', check: async () => migrated },
        { name: 'nats', check: () => withTimeout(nc.flush(), 1_000, 'nats flush').then(() => !nc.isClosed()) },
        {
          name: 'postgres',
          check: () => withTimeout(sql`select 1`.execute(db), 1_000, 'postgres ping').then(() => true),
        },
      ],
      metrics: async () => {
        await refreshMetrics().catch((err) => log.warn({ err: errorMessage(err) }, 'could not refresh metrics'));
        return { contentType: metrics.registry.contentType, body: await metrics.registry.metrics() };
      },
    }));
  } catch (err) {
    for (const s of subscriptions) s.unsubscribe();
    for (const c of cleanups) await c().catch(() => undefined);
    throw new Error(
      `cannot listen on ${config.HTTP_HOST}:${config.HTTP_PORT ?? def.defaultHttpPort}: ${errorMessage(err)}`,
    );
  }

  relay.start();
  for (const r of runners) r.start();
  const maintenance = setInterval(
    () => {
      void relay
        .prune(config.OUTBOX_RETENTION_HOURS)
        .catch((err) => log.warn({ err: errorMessage(err) }, 'outbox prune failed'));
      void pruneInbox(kitDb, config.INBOX_RETENTION_DAYS).catch((err) =>
        log.warn({ err: errorMessage(err) }, 'inbox prune failed'),
      );
    },
    60 * 60 * 1000,
  );
  maintenance.unref();
  log.info(
    {
      schema,
      namespace: naming.namespace || undefined,
      http_port: httpPort,
      consumers: runners.map((r) => r.durable),
      queries: Object.keys(parts.queries ?? {}),
    },
    `${def.name} started`,
  );

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      shuttingDown = true;
      clearInterval(maintenance);
      const deadline = Date.now() + config.SHUTDOWN_TIMEOUT_MS;
      log.info('shutting down: no new work; finishing what is in flight');
      await Promise.all(subscriptions.map((s) => s.drain().catch(() => undefined)));
      const results = await Promise.all(runners.map((r) => r.stop(Math.max(0, deadline - Date.now()))));
      const unfinished = results.reduce((n, r) => n + r.unfinished, 0);
      if (unfinished > 0)
        log.warn({ unfinished }, 'in-flight events still running at the deadline; JetStream will redeliver them');
      const left = await relay.stop(Math.max(1_000, deadline - Date.now())).catch(() => -1);
      if (left !== 0) log.warn({ pending: left }, 'outbox rows left pending; the next relay publishes them');
      await closeServer(server);
      for (const c of cleanups) await c().catch((err) => log.warn({ err: errorMessage(err) }, 'close failed'));
      log.info('stopped');
    })());

  return { runtime, httpPort, consumers: runners, relay, stop };
}

function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]+@/, '//$1:***@');
}

/**
 * The `main` of every service: `node main.js` starts it, `node main.js migrate` only migrates (Kubernetes Job).
 * SIGTERM/SIGINT drain and exit 0; a second signal exits at once. A bad configuration exits 78 naming the variable.
 */
export function runService<DB, P extends TProperties>(def: ServiceDefinition<DB, P>): void {
  const command = process.argv[2] ?? 'start';
  const fail = (err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78);
    }
    process.stderr.write(`${def.name}: ${errorMessage(err)}\n`);
    process.exit(1);
  };
  if (command === 'migrate') {
    migrateService(def).then(() => process.exit(0), fail);
    return;
  }
  if (command !== 'start') {
    process.stderr.write(`usage: ${def.name} [start|migrate]\n`);
    process.exit(64);
  }
  startService(def).then((svc) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      if (++signals > 1) {
        svc.runtime.log.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      svc.runtime.log.info({ signal }, 'signal received');
      svc.stop().then(
        () => process.exit(0),
        (err) => {
          svc.runtime.log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }, fail);
}
