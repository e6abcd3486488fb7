// Test support for every package and service: an isolated namespace (subjects, streams) and schema per test
// file on the real NATS and Postgres, stream readers, polling, and TypeScript processes. Exported as
// `@grace/service-kit/testing`, never from the kit's main entry.
import { createEvent, streams, type EventData, type GraceEvent } from '@grace/contracts';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import type { TProperties } from '@sinclair/typebox';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-node';
import type { Logger } from './logger.js';
import { ensureStreams } from './nats.js';
import { startNatsServerProcess } from './nats-server.js';
import { Naming } from './naming.js';
import type { KitMetrics } from './metrics.js';
import type { ServiceDefinition } from './service.js';

// Tests of traces: the next tracer provider exports each span as it ends to `exportSpansTo`'s exporter.
export { exportSpansTo } from './tracing.js';
export { SpanKind, SpanStatusCode } from '@opentelemetry/api';

/** An exporter for exportSpansTo that keeps the finished spans, for tests whose package has no OTel SDK of its own. */
export function spanCollector(): { exporter: SpanExporter; spans: () => ReadableSpan[] } {
  const finished: ReadableSpan[] = [];
  return {
    exporter: {
      export: (spans, done) => {
        finished.push(...spans);
        done({ code: 0 });
      },
      shutdown: async () => {},
    },
    spans: () => [...finished],
  };
}

export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

export interface Sandbox {
  namespace: string;
  schema: string;
  env: NodeJS.ProcessEnv;
  nc: NatsConnection;
  jsm: JetStreamManager;
  pool: pg.Pool;
  cleanup(): Promise<void>;
}

/** A fresh namespace and schema; `cleanup` deletes the streams and drops the schema. */
export async function createSandbox(label: string, overrides: NodeJS.ProcessEnv = {}): Promise<Sandbox> {
  const id = `${label.replace(/[^a-z0-9]/g, '')}${randomBytes(4).toString('hex')}`;
  const namespace = `t_${id}`;
  const schema = `t_${id}`;
  const env: NodeJS.ProcessEnv = {
    DATABASE_URL,
    NATS_URL,
    GRACE_NAMESPACE: namespace,
    DB_SCHEMA: schema,
    HTTP_PORT: '0',
    HTTP_HOST: '127.0.0.1',
    // Tests run many services at once against one Postgres (max_connections 100): small pools keep them under it.
    DB_POOL_MAX: '2',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ACK_WAIT_MS: '2000',
    RETRY_BASE_MS: '50',
    RETRY_MAX_MS: '200',
    OUTBOX_POLL_MS: '50',
    SHUTDOWN_TIMEOUT_MS: '10000',
    ...overrides,
  };
  const nc = await connect({ servers: NATS_URL });
  const jsm = await jetstreamManager(nc);
  const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
  // Streams exist before any service starts, as they would after a deployment's first start.
  await ensureStreams(jsm, new Naming(namespace));
  return {
    namespace,
    schema,
    env,
    nc,
    jsm,
    pool,
    async cleanup() {
      for (const s of streams) await jsm.streams.delete(`${namespace}_${s.name}`).catch(() => undefined);
      await pool.query(`drop schema if exists "${schema}" cascade`);
      await pool.end();
      await nc.close();
    },
  };
}

export function sampleReported(overrides: Partial<EventData<'error.reported'>> = {}): GraceEvent<'error.reported'> {
  return createEvent(
    'error.reported',
    {
      service: 'checkout',
      environment: 'production',
      kind: 'ConnectionRefused',
      message: 'connect ECONNREFUSED 10.0.0.7:5432',
      severity: 'error',
      occurred_at: new Date().toISOString(),
      ...overrides,
    },
    { source: 'test/producer' },
  );
}

/** Publish an event (or any raw payload) on a contract subject inside the sandbox's namespace. */
export async function publishRaw(sandbox: Sandbox, subject: string, payload: string | Uint8Array, msgID?: string) {
  const js = jetstream(sandbox.nc);
  return js.publish(`${sandbox.namespace}.${subject}`, payload, msgID ? { msgID } : undefined);
}

/** Every message stored in a stream of the sandbox, in order. */
export async function readStream(
  sandbox: Sandbox,
  stream: string,
): Promise<{ subject: string; data: unknown; msgId?: string }[]> {
  const name = `${sandbox.namespace}_${stream}`;
  const info = await sandbox.jsm.streams.info(name);
  const out: { subject: string; data: unknown; msgId?: string }[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const m = await sandbox.jsm.streams.getMessage(name, { seq }).catch(() => null);
    if (!m) continue;
    out.push({ subject: m.subject, data: m.json(), msgId: m.header?.get('Nats-Msg-Id') || undefined });
  }
  return out;
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

/** A durable consumer of a sandbox stream: a service's `ConsumerRunner` is one. */
export interface DurableConsumer {
  /** The stream's name on the server (namespaced). */
  readonly stream: string;
  readonly durable: string;
}

/**
 * Wait until `consumer` has acknowledged (handled, or dead-lettered) every message of its stream up to stream
 * sequence `seq`, e.g. `(await publishRaw(...)).seq`: its ack floor has reached it. The consumer runner acks only
 * after the handler's transaction committed and what it emitted was stored in JetStream, so from then on a test can
 * assert what handling that message did not do, with no fixed wait. Handlers run concurrently: the ack floor (not
 * the handling of one later "marker" message) is what says everything before `seq` was handled. A message that is
 * being retried holds the floor back, and this times out.
 */
export async function handledThrough(
  sandbox: Sandbox,
  consumer: DurableConsumer,
  seq: number,
  timeoutMs = 20_000,
): Promise<void> {
  await waitFor(
    `${consumer.durable} to acknowledge everything up to stream sequence ${seq}`,
    async () => (await sandbox.jsm.consumers.info(consumer.stream, consumer.durable)).ack_floor.stream_seq >= seq,
    timeoutMs,
  );
}

/** The consumer of `service` (a `RunningService`) that takes `subject`, for `handledThrough`. */
export function consumerOf(
  service: {
    runtime: { name: string; naming: Naming };
    consumers: readonly (DurableConsumer & { filterSubject: string; subjects?: ReadonlySet<string> })[];
  },
  subject: string,
): DurableConsumer {
  const wire = service.runtime.naming.subject(subject);
  // Its own consumer, or the one that takes it with other subjects of its stream.
  const found =
    service.consumers.find((c) => c.filterSubject === wire) ?? service.consumers.find((c) => c.subjects?.has(subject));
  if (!found) throw new Error(`${service.runtime.name} has no consumer of ${subject}`);
  return found;
}

/**
 * Wait until `services` have nothing left to do with events: every consumer of each has no message undelivered
 * or unacknowledged, and each outbox relay has published every committed row. For a measurement (rows,
 * commits) or an assertion of absence after the last positive signal, instead of a fixed wait.
 */
export async function waitUntilSettled(
  services: readonly {
    consumers: readonly { info(): Promise<{ pending: number; ackPending: number }> }[];
    relay: { backlog(): Promise<number> };
  }[],
  timeoutMs = 20_000,
): Promise<void> {
  await waitFor(
    'every consumer drained and every outbox published',
    async () => {
      for (const s of services) {
        for (const c of s.consumers) {
          const info = await c.info();
          if (info.pending > 0 || info.ackPending > 0) return false;
        }
        if ((await s.relay.backlog()) > 0) return false;
      }
      return true;
    },
    timeoutMs,
  );
}

/**
 * The sum over `services` of a metric of their registries (a counter or gauge), over the series whose labels
 * include `labels`. Read in process, so it also works after a service stopped (its side server is closed).
 */
export async function metricSum(
  services: readonly { runtime: { name: string; metrics: Pick<KitMetrics, 'registry'> } }[],
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  let sum = 0;
  for (const s of services) {
    const metric = s.runtime.metrics.registry.getSingleMetric(name);
    if (!metric) throw new Error(`${s.runtime.name} has no metric ${name}`);
    for (const v of (await metric.get()).values) {
      if (Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want)) sum += v.value;
    }
  }
  return sum;
}

/** One line a service logged, as pino writes it (`msg`, `level` as a label, and the line's fields). */
export type LogLine = { level: string; msg: string } & Record<string, unknown>;

/**
 * A logger (the kit's line format) that keeps every line at debug level and up in `lines`, so a test can wait for
 * a line ("rows stay pending", "file rejected") instead of sleeping. `echoLevel`, when not silent, also writes
 * the lines at that level and up to stdout.
 */
export function memoryLogger(name: string, lines: LogLine[], echoLevel = 'silent'): Logger {
  const memory = {
    write: (line: string) => {
      lines.push(JSON.parse(line) as LogLine);
    },
  };
  const streams: pino.StreamEntry[] = [{ level: 'debug', stream: memory }];
  if (echoLevel !== 'silent') streams.push({ level: echoLevel as pino.Level, stream: pino.destination(1) });
  return pino(
    {
      name,
      level: 'debug',
      base: { service: name },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.multistream(streams),
  );
}

/**
 * `def` with what its setup builds (file watchers, sweeps, workers: whatever logs through `runtime.log`) logging
 * into `lines` (see `memoryLogger`), and to stdout at the runtime's own level. Consumer handlers log through the
 * kit's logger, not this one.
 */
export function withLogTap<DB, P extends TProperties>(
  def: ServiceDefinition<DB, P>,
  lines: LogLine[],
): ServiceDefinition<DB, P> {
  const setup = def.setup;
  if (!setup) return def;
  return {
    ...def,
    setup: (runtime) => setup({ ...runtime, log: memoryLogger(def.name, lines, runtime.log.level) }),
  };
}

export async function count(sandbox: Sandbox, table: string, where = 'true'): Promise<number> {
  const { rows } = await sandbox.pool.query(
    `select count(*)::int as n from "${sandbox.schema}".${table} where ${where}`,
  );
  return (rows[0] as { n: number }).n;
}

/**
 * Rows inserted, updated and deleted per table of the sandbox's schema (`pg_stat_user_tables`), read once every
 * backend has flushed its counts (two equal readings a second apart; a stopped service's backends flush at exit).
 */
export async function tableWrites(sandbox: Sandbox): Promise<Record<string, number>> {
  let last = '';
  for (let i = 0; i < 100; i++) {
    await sandbox.pool.query('select pg_stat_clear_snapshot()');
    const { rows } = await sandbox.pool.query<{ relname: string; n: string }>(
      `select relname, n_tup_ins + n_tup_upd + n_tup_del as n from pg_stat_user_tables where schemaname = $1`,
      [sandbox.schema],
    );
    const counts = Object.fromEntries(rows.map((r) => [r.relname, Number(r.n)]));
    const seen = JSON.stringify(counts);
    if (seen === last) return counts;
    last = seen;
    await new Promise((r) => setTimeout(r, 1_000));
  }
  throw new Error('the table counters did not settle');
}

/** Run a TypeScript file as its own Node process (workspace packages from source); output is collected. */
export function spawnTs(
  path: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  nodeArgs: string[] = [],
): ChildProcess & { output: () => string } {
  const child = spawn(process.execPath, [...nodeArgs, '--conditions=source', '--import', 'tsx', path, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  return Object.assign(child, { output: () => output });
}

export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

export interface OwnNatsServer {
  url: string;
  /** Stop the server (SIGTERM) and wait for it to exit. */
  stop(): Promise<void>;
  /** Start it again on the same port and store. */
  start(): Promise<void>;
  /** Stop it for good and delete its store. */
  destroy(): Promise<void>;
}

/** A nats-server (from PATH) with JetStream on a free port, for tests that stop and restart it. */
export async function startNatsServer(): Promise<OwnNatsServer> {
  const storeDir = mkdtempSync(join(tmpdir(), 'grace-nats-'));
  const server = await startNatsServerProcess({ storeDir });
  return {
    url: server.url,
    start: () => server.start(),
    stop: () => server.stop(),
    async destroy() {
      await server.stop('SIGKILL');
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}

/** Offer `rate` calls per second for `seconds`, open loop: calls start on schedule whatever earlier ones do. */
export async function openLoop(
  rate: number,
  seconds: number,
  call: (i: number) => Promise<unknown>,
): Promise<{ offered: number; offeredPerSecond: number }> {
  const total = Math.round(rate * seconds);
  const started = performance.now();
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < total; i++) {
    const wait = started + (i * 1000) / rate - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    pending.push(call(i));
  }
  await Promise.all(pending);
  return { offered: total, offeredPerSecond: Math.round(total / ((performance.now() - started) / 1000)) };
}

/** p50, p95, p99 and max of a list of milliseconds, rounded to 0.1 ms. */
export function latencySummary(ms: number[]): { p50: number; p95: number; p99: number; max: number; n: number } {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (p: number) => +(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN).toFixed(1);
  return {
    p50: at(0.5),
    p95: at(0.95),
    p99: at(0.99),
    max: +(sorted[sorted.length - 1] ?? NaN).toFixed(1),
    n: sorted.length,
  };
}

export interface HttpCall {
  method?: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** Sent as JSON (with `content-type: application/json` unless `headers` says otherwise). */
  body?: unknown;
  /** Sent as it is, instead of `body`. */
  raw?: string | Buffer | Uint8Array;
  headers?: Record<string, string>;
}

export interface HttpAnswer<T> {
  status: number;
  /** The body parsed as JSON (undefined when it is not JSON). */
  json: T;
  text: string;
  headers: Headers;
}

/** One HTTP request with a bearer token and a JSON (or raw) body; POST when there is a body, else GET. */
export async function httpCall<T = Record<string, unknown>>(
  url: string,
  path: string,
  init: HttpCall = {},
): Promise<HttpAnswer<T>> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  let body: string | Buffer | Uint8Array | undefined;
  if (init.raw !== undefined) body = init.raw;
  else if (init.body !== undefined) body = JSON.stringify(init.body);
  if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type'))
    headers['content-type'] = 'application/json';
  const res = await fetch(`${url}${path}`, {
    method: init.method ?? (body !== undefined ? 'POST' : 'GET'),
    headers,
    ...(body !== undefined ? { body } : {}),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json: json as T, text, headers: res.headers };
}

export {
  ALERTMANAGER,
  pushAlerts,
  startAlertmanager,
  type AlertmanagerOptions,
  type AlertmanagerProcess,
} from './alertmanager-process.js';

export {
  PROMETHEUS,
  PROMTOOL,
  checkMetrics,
  checkRules,
  startPrometheus,
  type PrometheusOptions,
  type PrometheusProcess,
  type PromtoolResult,
} from './prometheus-process.js';
