// `grace bench`: the whole system under open-loop load on the real NATS and Postgres, beside a bare 7-hop NATS
// relay at the same rates, reported as one JSON document. Everything runs in its own namespace and database.
import { Naming, ensureStreams, request } from '@grace/service-kit';
import { latencySummary } from '@grace/service-kit/testing';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { SERVICES, launch, type ProcessName, type RunningProcesses } from '../launch.js';
import { BacklogPeaks, waitDrained } from './backlog.js';
import { buildDist } from './build.js';
import { benchCatalog } from './catalog.js';
import {
  createBenchDatabase,
  databaseActivity,
  redact,
  type ActivityReading,
  type BenchDatabase,
  type TableRows,
} from './database.js';
import {
  HOT_FINGERPRINTS,
  ingestEvent,
  isDistinct,
  offer,
  remediationEvent,
  startBenchTarget,
  type BenchTarget,
  type Offered,
} from './load.js';
import { readDbCounters, type DbCounters, startTimings } from './metrics.js';
import { Observer } from './observe.js';
import { UsageWindow, findProcesses, type ProcessUsage } from './proc.js';
import { RELAY_HOPS, startRelay, type Relay, type RelayResult } from './relay.js';
import type {
  BenchReport,
  CostPerItem,
  IdlePostgres,
  IngestReport,
  RelayReport,
  RemediationReport,
  RowsPerItem,
  ServiceReport,
  Target,
} from './report.js';

export type { BenchReport, Target } from './report.js';

/** The targets (issue 16) on the 2-core machine. */
export const TARGETS = {
  /** Postgres per verified remediation (pg_stat_database of the bench database over the remediation load). */
  remediationCommits: 8,
  remediationRowsWritten: 30,
  /** Postgres per ingested error (the ingest load). */
  errorCommits: 0.2,
  errorRowsWritten: 4,
  /** Machine-wide CPU per remediation, at most this many times the relay's CPU per seven-hop event. */
  cpuOverRelay: 5,
  remediationPerSecond: 150,
  /** p99 reported->verified (the target's own time excluded) within this many times the relay's p99. */
  relayRatio: 3,
  lowRatePerSecond: 20,
  lowRateP99Ms: 150,
  ingestPerSecond: 1_000,
  ingestDistinctRatio: 0.5,
  ingestP99Ms: 250,
  rssMb: 150,
  /** A load is kept up with when everything offered was delivered within this long after the last offer. */
  caughtUpMs: 1_000,
  /** The open loop's timers fire a little late: a schedule of 1,000/s is offered at 995-1,000/s. */
  offeredShare: 0.99,
} as const;

export interface BenchOptions {
  natsUrl: string;
  /** A Postgres server (any database on it); the bench creates its own database there. */
  databaseUrl: string;
  ingestRate: number;
  remediationRate: number;
  /** Rate of the short extra remediation load (its p99 at a low rate). */
  lowRate: number;
  /** Length of each load (the relay at two rates, ingest, remediation at two rates). */
  seconds: number;
  /** Share of the ingest load that are new fingerprints; the rest repeat HOT_FINGERPRINTS errors. */
  distinctRatio: number;
  /** How long to wait for deliveries after a load, and for the system to drain between loads. */
  drainTimeoutMs: number;
  /** Keep the database and the streams afterwards (to look at them). */
  keep: boolean;
  /** Run the services (and relay hops) compiled, as deployed (built first), or from their sources with tsx. */
  from: 'source' | 'dist';
  /** Extra environment per process (or `all`), on top of the bench's. */
  settings: Partial<Record<ProcessName | 'all', Record<string, string>>>;
  progress: (line: string) => void;
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Bench {
  options: BenchOptions;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  naming: Naming;
  runId: string;
  system: RunningProcesses;
  database: ReturnType<typeof databaseActivity>;
  /** The services' Postgres activity while idle (measured over the relay runs; zero until then). */
  idle: IdlePostgres;
  /** The seven services' processes by name. */
  servicePids: () => Map<string, number[]>;
  /** What else works for the load: this process (generator, target, observer), nats-server, postgres. */
  infrastructurePids: () => Map<string, number[]>;
}

const INFRASTRUCTURE = ['bench', 'nats-server', 'postgres'];

/** The bench process, the nats-server listening on the port of `natsUrl`, and every postgres process. */
function infrastructurePids(natsUrl: string): () => Map<string, number[]> {
  let port = '4222';
  try {
    port = new URL(natsUrl.split(',')[0]!.trim()).port || '4222';
  } catch {
    // keep the default
  }
  const portOf = (args: string[]) => {
    const i = args.findIndex((a) => a === '-p' || a === '--port');
    return i >= 0 ? args[i + 1] : (args.find((a) => a.startsWith('--port='))?.slice(7) ?? '4222');
  };
  return () =>
    new Map([
      ['bench', [process.pid]],
      ['nats-server', findProcesses((comm, args) => comm === 'nats-server' && portOf(args) === port)],
      // Every backend of the server, whoever its client (on a shared machine, not only the bench's).
      ['postgres', findProcesses((comm) => comm === 'postgres')],
    ]);
}

/** Services and infrastructure in one window. */
const everyPid = (bench: Bench) => () => new Map([...bench.servicePids(), ...bench.infrastructurePids()]);

/** Where the bench's own database reading begins and ends for one load. */
interface Activity extends DbCounters {
  database: ActivityReading;
}

/** pg_stat_database's counters between two readings, without the commits of the bench's own readings. */
function databaseDelta(before: ActivityReading, after: ActivityReading): ActivityReading['database'] {
  const delta = (key: keyof ActivityReading['database']) => after.database[key] - before.database[key];
  return {
    commits: delta('commits') - (after.own_statements - before.own_statements),
    rollbacks: delta('rollbacks'),
    rows_inserted: delta('rows_inserted'),
    rows_updated: delta('rows_updated'),
    rows_deleted: delta('rows_deleted'),
  };
}

/** The schema a service owns: its name with `_` for `-`. */
const schemaOf = (service: string) => service.replace(/-/g, '_');

/**
 * What one item (an error ingested, a remediation verified) cost: CPU milliseconds per process and of the whole
 * machine from the start of the load until the system drained, and the bench database's commits and rows from
 * the start of the load until the statistics settled after it (idle costs meanwhile included, which weigh at
 * low rates): for the database, per service (its schema's tables; its own commit counter) and per table.
 */
function costPerItem(
  items: number,
  window: { seconds: number; machine_cpu_pct: number; processes: Record<string, ProcessUsage> },
  before: Activity,
  after: Activity,
  idle: IdlePostgres,
): CostPerItem {
  const per = (n: number) => (items > 0 ? round(n / items, 2) : null);
  const cpu = Object.fromEntries(
    Object.entries(window.processes).map(([name, usage]) => [name, per(usage.cpu_pct * window.seconds * 10)]),
  );
  const total = Object.values(window.processes).reduce((sum, u) => sum + u.cpu_pct * window.seconds * 10, 0);
  const activity = databaseDelta(before.database, after.database);
  const db = (key: keyof ActivityReading['database']) => activity[key];
  const databaseWindowS = (after.database.at - before.database.at) / 1000;

  // Rows per schema (a service's), per table.
  const zero = (): TableRows => ({ inserted: 0, updated: 0, deleted: 0 });
  const bySchema = new Map<string, TableRows>(SERVICES.map((name) => [schemaOf(name), zero()]));
  const tables: Record<string, number> = {};
  for (const [name, rows] of after.database.tables) {
    const earlier = before.database.tables.get(name) ?? zero();
    const delta = {
      inserted: rows.inserted - earlier.inserted,
      updated: rows.updated - earlier.updated,
      deleted: rows.deleted - earlier.deleted,
    };
    const written = delta.inserted + delta.updated + delta.deleted;
    if (written === 0) continue;
    tables[name] = per(written)!;
    const schema = name.slice(0, name.indexOf('.'));
    const sum = bySchema.get(schema) ?? zero();
    bySchema.set(schema, {
      inserted: sum.inserted + delta.inserted,
      updated: sum.updated + delta.updated,
      deleted: sum.deleted + delta.deleted,
    });
  }
  const serviceOfSchema = new Map(SERVICES.map((name) => [schemaOf(name), name as string]));
  const rowsPerItem: Record<string, RowsPerItem> = {};
  for (const [schema, rows] of bySchema)
    rowsPerItem[serviceOfSchema.get(schema) ?? schema] = {
      inserted: per(rows.inserted),
      updated: per(rows.updated),
      deleted: per(rows.deleted),
      written: per(rows.inserted + rows.updated + rows.deleted),
    };
  const perItem = (counter: keyof DbCounters) =>
    Object.fromEntries(
      Object.entries(after[counter]).map(([name, n]) => {
        const earlier = before[counter][name];
        return [name, n === null || earlier === null || earlier === undefined ? null : per(n - earlier)];
      }),
    );
  return {
    items,
    cpu_ms: { ...cpu, total: per(total), machine: per(window.machine_cpu_pct * window.seconds * 10) },
    postgres: {
      commits: per(db('commits')),
      rollbacks: per(db('rollbacks')),
      rows_inserted: per(db('rows_inserted')),
      rows_updated: per(db('rows_updated')),
      rows_deleted: per(db('rows_deleted')),
      rows_written: per(db('rows_inserted') + db('rows_updated') + db('rows_deleted')),
    },
    postgres_net_of_idle: {
      commits: per(db('commits') - idle.commits_per_s * databaseWindowS),
      rows_written: per(
        db('rows_inserted') + db('rows_updated') + db('rows_deleted') - idle.rows_written_per_s * databaseWindowS,
      ),
    },
    database_window_s: round(databaseWindowS),
    rows_per_item: rowsPerItem,
    tables: Object.fromEntries(Object.entries(tables).sort((x, y) => y[1] - x[1])),
    commits_per_item: perItem('commits'),
    statements_per_item: perItem('statements'),
  };
}

/** CPU of the infrastructure processes over a window, % of one core. */
const infrastructureCpu = (processes: Record<string, ProcessUsage>) =>
  Object.fromEntries(INFRASTRUCTURE.map((name) => [name, processes[name]?.cpu_pct ?? 0]));

/** Service log lines per service (all of them), those at warn and above, with the first few of those. */
class LogTally {
  private readonly tally = new Map<string, { lines: number; warn: number; error: number; first: string[] }>();

  add(name: string, line: string): void {
    const entry = this.tally.get(name) ?? { lines: 0, warn: 0, error: 0, first: [] };
    this.tally.set(name, entry);
    entry.lines += 1;
    const level = /"level":"?(\w+)"?/.exec(line)?.[1];
    const severe = level === 'error' || level === 'fatal' || level === '50' || level === '60';
    if (!severe && level !== 'warn' && level !== '40') return;
    if (severe) entry.error += 1;
    else entry.warn += 1;
    if (entry.first.length < 3) entry.first.push(/"msg":"((?:[^"\\]|\\.)*)"/.exec(line)?.[1] ?? line.slice(0, 200));
  }

  toJSON() {
    return Object.fromEntries(this.tally);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Ingest: reported -> captured, with duplicates counted into their captures.

/** Wait until one durable consumer has nothing pending or unacked; performance.now() then, or undefined. */
async function consumerEmptyAt(
  jsm: JetStreamManager,
  stream: string,
  durable: string,
  deadline: number,
): Promise<number | undefined> {
  while (performance.now() < deadline) {
    const info = await jsm.consumers.info(stream, durable).catch(() => undefined);
    if (info && info.num_pending + info.num_ack_pending === 0) return performance.now();
    await sleep(100);
  }
  return undefined;
}

/** The occurrences trigger-mesh counted: every capture's total_count, page by page over trigger-mesh.query.captures. */
async function countedOccurrences(bench: Bench): Promise<{ occurrences: number; captures: number }> {
  let occurrences = 0;
  let captures = 0;
  let cursor: string | undefined;
  do {
    const page = await request(
      'trigger-mesh.query.captures',
      { limit: 100, ...(cursor ? { cursor } : {}) },
      { nc: bench.nc, naming: bench.naming, timeoutMs: 10_000 },
    );
    for (const item of page.items) occurrences += item.total_count;
    captures += page.items.length;
    cursor = page.next_cursor;
  } while (cursor);
  return { occurrences, captures };
}

async function runIngest(bench: Bench): Promise<{ report: IngestReport; usage: Record<string, ProcessUsage> }> {
  const { options, naming, nc, jsm, js } = bench;
  const rate = options.ingestRate;
  // At most 100 errors/s per service: under trigger-mesh's per-service storm limit (200/s by default).
  const services = Math.max(HOT_FINGERPRINTS, Math.ceil(rate / 100));
  const sentAt = new Map<string, number>();
  const hotServices = new Set<string>();
  let distinctOffered = 0;
  const latencies: number[] = [];
  let updates = 0;

  const observer = new Observer(nc, naming);
  observer.on(
    'error.captured',
    (event, at) => {
      if (event.data.update) {
        updates += 1;
        return;
      }
      const t = sentAt.get(event.data.reported_event_id);
      if (t !== undefined) latencies.push(at - t);
    },
    (correlationId) => correlationId === undefined || sentAt.has(correlationId),
  );
  await observer.flush();
  const { backlog, activityBefore, usage, costUsage, timings } = await beforeLoad(bench);

  options.progress(
    `ingest: ${rate} errors/s for ${options.seconds} s (${Math.round(options.distinctRatio * 100)}% distinct)`,
  );
  const offered: Offered = await offer(rate, options.seconds, (i) => {
    const event = ingestEvent(i, options.distinctRatio, services);
    if (isDistinct(i, options.distinctRatio)) distinctOffered += 1;
    else hotServices.add(event.data.service);
    sentAt.set(event.id, performance.now());
    return js.publish(naming.subject('error.reported'), JSON.stringify(event), { msgID: event.id });
  });
  const deadline = performance.now() + options.drainTimeoutMs;
  const doneAt = await consumerEmptyAt(
    jsm,
    naming.stream('GRACE_REPORTS'),
    naming.durable('trigger-mesh', 'error.reported'),
    deadline,
  );
  const expected = distinctOffered + hotServices.size;
  // First captures are published by trigger-mesh's outbox right after the commit that counted them.
  while (latencies.length < expected && performance.now() < Math.min(deadline, (doneAt ?? 0) + 5_000)) await sleep(50);
  const window = usage.finish();
  const peaks = await backlog.finish();
  const serviceTimings = await timings.finish();
  observer.close();

  const counted = await countedOccurrences(bench);
  const end = doneAt ?? performance.now();
  const { drain, activityAfter, costWindow } = await afterLoad(bench, 'ingest', costUsage);
  return {
    report: {
      rate,
      seconds: options.seconds,
      distinct_ratio: options.distinctRatio,
      offered: offered.offered,
      published: offered.published,
      failed_publishes: offered.failed,
      offered_per_s: offered.offered_per_s,
      ingested: counted.occurrences,
      ingested_per_s: Math.round(counted.occurrences / ((end - offered.startedAt) / 1000)),
      unaccounted: offered.offered - counted.occurrences,
      lost: Math.max(0, offered.published - counted.occurrences),
      caught_up_ms: doneAt === undefined ? null : round(Math.max(0, doneAt - offered.lastStartedAt)),
      fingerprints: counted.captures,
      first_captures_expected: expected,
      first_captures_delivered: latencies.length,
      count_updates_announced: updates,
      reported_to_captured_ms: latencySummary(latencies),
      consumer_backlog_peak: peaks,
      drain,
      machine_cpu_pct: window.machine_cpu_pct,
      infrastructure_cpu_pct: infrastructureCpu(window.processes),
      cost_per_error: costPerItem(counted.occurrences, costWindow, activityBefore, activityAfter, bench.idle),
      service_timings: serviceTimings,
      invalid_events: observer.invalid,
    },
    usage: window.processes,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Remediation: reported -> captured -> action.requested -> the target acts -> action.executed -> contract.verified.

interface Flow {
  service: string;
  reported: number;
  captured?: number;
  requested?: number;
  acted?: number;
  /** The action itself: the target's time from the request to its answer. */
  actionMs?: number;
  executed?: number;
  /** The executor's started_at -> finished_at of the contract (its own steps around the adapter call included). */
  executorActionMs?: number;
  verified?: number;
  verdict?: string;
  denied?: string;
  escalated?: boolean;
}

/** Before a load: start watching backlogs, CPU and memory, Postgres activity and the services' timings. */
async function beforeLoad(bench: Bench) {
  return {
    backlog: new BacklogPeaks(bench.jsm, bench.naming).start(),
    activityBefore: { database: await bench.database.read(), ...(await readDbCounters(bench.system, SERVICES)) },
    usage: new UsageWindow(everyPid(bench)).start(),
    // What the load cost includes the work it left for after it (the drain).
    costUsage: new UsageWindow(everyPid(bench), 1_000).start(),
    timings: await startTimings(bench.system, SERVICES),
  };
}

/**
 * After a load: wait until every consumer drained, then read what the load cost: CPU up to then, Postgres
 * activity once its statistics have settled (the services' commit counters at the same moment).
 */
async function afterLoad(bench: Bench, what: string, costUsage: UsageWindow) {
  bench.options.progress(`${what}: waiting until every consumer has drained`);
  const drain = await waitDrained(bench.jsm, bench.naming, bench.options.drainTimeoutMs);
  const costWindow = costUsage.finish();
  const database = await bench.database.settled();
  const activityAfter: Activity = { database, ...(await readDbCounters(bench.system, SERVICES)) };
  return { drain, activityAfter, costWindow };
}

async function runRemediation(
  bench: Bench,
  target: BenchTarget,
  rate: number,
  what: string,
): Promise<{ report: RemediationReport; usage: Record<string, ProcessUsage> }> {
  const { options, naming, nc, js } = bench;
  const flows = new Map<string, Flow>();
  const verdicts: Record<string, number> = {};
  const denied: Record<string, number> = {};
  let ended = 0;
  let lastEndedAt = 0;
  const end = (at: number) => {
    ended += 1;
    lastEndedAt = at;
  };

  const observer = new Observer(nc, naming);
  const wanted = (correlationId: string | undefined) => correlationId === undefined || flows.has(correlationId);
  const flowOf = (event: { correlationid?: string | undefined }) => flows.get(event.correlationid ?? '');
  observer.on(
    'error.captured',
    (event, at) => {
      const flow = flowOf(event);
      if (flow && !event.data.update) flow.captured ??= at;
    },
    wanted,
  );
  observer.on(
    'action.requested',
    (event, at) => {
      const flow = flowOf(event);
      if (flow) flow.requested ??= at;
    },
    wanted,
  );
  observer.on(
    'action.executed',
    (event, at) => {
      const flow = flowOf(event);
      if (!flow || flow.executed !== undefined) return;
      flow.executed = at;
      flow.executorActionMs = Math.max(0, Date.parse(event.data.finished_at) - Date.parse(event.data.started_at));
    },
    wanted,
  );
  observer.on(
    'contract.verified',
    (event, at) => {
      const flow = flowOf(event);
      if (!flow) return;
      verdicts[event.data.verdict] = (verdicts[event.data.verdict] ?? 0) + 1;
      if (flow.verdict === 'verified') return;
      flow.verdict = event.data.verdict;
      if (event.data.verdict === 'verified') {
        flow.verified = at;
        if (!flow.escalated) end(at);
      }
    },
    wanted,
  );
  observer.on(
    'action.denied',
    (event) => {
      const flow = flowOf(event);
      if (!flow) return;
      flow.denied = event.data.rule;
      denied[event.data.rule] = (denied[event.data.rule] ?? 0) + 1;
    },
    wanted,
  );
  observer.on(
    'incident.escalated',
    (event, at) => {
      const flow = flowOf(event);
      if (!flow || flow.escalated) return;
      flow.escalated = true;
      if (flow.verdict !== 'verified') end(at);
    },
    wanted,
  );
  await observer.flush();
  const { backlog, activityBefore, usage, costUsage, timings } = await beforeLoad(bench);
  const countsBefore = target.counts();

  options.progress(`${what}: ${rate} distinct errors/s for ${options.seconds} s, each to a verified contract`);
  const offered = await offer(rate, options.seconds, (i) => {
    const event = remediationEvent(i, `${bench.runId}${what === 'remediation' ? '' : 'l'}`);
    flows.set(event.id, { service: event.data.service, reported: performance.now() });
    return js.publish(naming.subject('error.reported'), JSON.stringify(event), { msgID: event.id });
  });
  const deadline = performance.now() + options.drainTimeoutMs;
  // Offered, not published: a publish whose acknowledgement timed out may still have been stored.
  while (ended < offered.offered && performance.now() < deadline) await sleep(50);
  const window = usage.finish();
  const peaks = await backlog.finish();
  const serviceTimings = await timings.finish();
  observer.close();

  const all = [...flows.values()];
  for (const flow of all) {
    const acted = target.acted.get(flow.service);
    flow.acted = acted?.at;
    flow.actionMs = acted?.ms;
  }
  const between = (from: keyof Flow, to: keyof Flow) =>
    latencySummary(
      all.flatMap((f) =>
        typeof f[from] === 'number' && typeof f[to] === 'number' ? [(f[to] as number) - (f[from] as number)] : [],
      ),
    );
  const verified = all.filter((f) => f.verified !== undefined);
  const lastVerified = Math.max(0, ...verified.map((f) => f.verified!));

  const { drain, activityAfter, costWindow } = await afterLoad(bench, what, costUsage);
  return {
    report: {
      rate,
      seconds: options.seconds,
      offered: offered.offered,
      published: offered.published,
      failed_publishes: offered.failed,
      offered_per_s: offered.offered_per_s,
      captured: all.filter((f) => f.captured !== undefined).length,
      requested: all.filter((f) => f.requested !== undefined).length,
      executed: all.filter((f) => f.executed !== undefined).length,
      verdicts,
      verified: verified.length,
      verified_per_s: verified.length ? Math.round(verified.length / ((lastVerified - offered.startedAt) / 1000)) : 0,
      denied,
      escalated: all.filter((f) => f.escalated).length,
      unfinished: offered.offered - ended,
      caught_up_ms:
        ended >= offered.offered && ended > 0 ? round(Math.max(0, lastEndedAt - offered.lastStartedAt)) : null,
      reported_to_captured_ms: between('reported', 'captured'),
      reported_to_requested_ms: between('reported', 'requested'),
      reported_to_executed_ms: between('reported', 'executed'),
      reported_to_verified_ms: between('reported', 'verified'),
      reported_to_verified_excluding_action_ms: latencySummary(
        verified.map((f) => f.verified! - f.reported - (f.actionMs ?? 0)),
      ),
      action_ms: latencySummary(all.flatMap((f) => (f.actionMs === undefined ? [] : [f.actionMs]))),
      executor_action_window_ms: latencySummary(
        all.flatMap((f) => (f.executorActionMs === undefined ? [] : [f.executorActionMs])),
      ),
      hops_ms: {
        'trigger-mesh: reported -> captured': between('reported', 'captured'),
        'sentinel: captured -> action.requested': between('captured', 'requested'),
        'action-executor: action.requested -> target asked': between('requested', 'acted'),
        'action-executor: target asked -> action.executed': between('acted', 'executed'),
        'verifier: action.executed -> contract.verified': between('executed', 'verified'),
      },
      // This load's share of what the target counted.
      target: Object.fromEntries(
        Object.entries(target.counts()).map(([key, n]) => [key, n - countsBefore[key as keyof typeof countsBefore]]),
      ) as RemediationReport['target'],
      consumer_backlog_peak: peaks,
      drain,
      machine_cpu_pct: window.machine_cpu_pct,
      infrastructure_cpu_pct: infrastructureCpu(window.processes),
      cost_per_remediation: costPerItem(verified.length, costWindow, activityBefore, activityAfter, bench.idle),
      service_timings: serviceTimings,
      invalid_events: observer.invalid,
    },
    usage: window.processes,
  };
}

// ---------------------------------------------------------------------------------------------------------------

interface RelayRun {
  result: RelayResult;
  idleServices: Record<string, ProcessUsage>;
  machine_cpu_pct: number;
  infrastructure_cpu_pct: Record<string, number>;
  processes: Pick<RelayReport, 'cpu_pct_total' | 'cpu_pct_max_hop' | 'rss_peak_mb_max' | 'cpu_ms_per_event'>;
}

async function runRelay(bench: Bench, relay: Relay, rate: number): Promise<RelayRun> {
  bench.options.progress(`baseline: ${RELAY_HOPS}-hop relay at ${rate} events/s for ${bench.options.seconds} s`);
  // The services are idle meanwhile: their CPU here is what they cost doing nothing.
  const usage = new UsageWindow(() => new Map([...relay.pids(), ...everyPid(bench)()])).start();
  const result = await relay.run(rate, bench.options.seconds, bench.options.drainTimeoutMs);
  const window = usage.finish();
  const hops = Object.entries(window.processes)
    .filter(([name]) => name.startsWith('relay-hop'))
    .map(([, usage]) => usage);
  // What the relay's processes (the hops and nats-server) used per event through all seven hops.
  const relayCpuMs =
    [...hops, window.processes['nats-server']].reduce((sum, u) => sum + (u?.cpu_pct ?? 0), 0) * window.seconds * 10;
  return {
    result,
    idleServices: window.processes,
    machine_cpu_pct: window.machine_cpu_pct,
    infrastructure_cpu_pct: infrastructureCpu(window.processes),
    processes: {
      cpu_pct_total: round(hops.reduce((sum, h) => sum + h.cpu_pct, 0)),
      cpu_pct_max_hop: Math.max(0, ...hops.map((h) => h.cpu_pct)),
      rss_peak_mb_max: Math.max(0, ...hops.map((h) => h.rss_peak_mb)),
      cpu_ms_per_event: result.delivered > 0 ? round(relayCpuMs / result.delivered, 3) : null,
    },
  };
}

const relayReport = (run: RelayRun): RelayReport => ({
  ...run.result,
  machine_cpu_pct: run.machine_cpu_pct,
  infrastructure_cpu_pct: run.infrastructure_cpu_pct,
  ...run.processes,
});

/** Offered at `rate` at least (within the open loop's lateness). */
const offeredAt = (offeredPerS: number, rate: number) => offeredPerS >= rate * TARGETS.offeredShare;
const keptUp = (caughtUpMs: number | null) => caughtUpMs !== null && caughtUpMs <= TARGETS.caughtUpMs;
const finite = (n: number | null | undefined) => (typeof n === 'number' && Number.isFinite(n) ? n : null);

interface Judged {
  ingest: IngestReport;
  remediation: RemediationReport;
  low: RemediationReport;
  relayAtRemediationRate: RelayReport;
  services: Record<string, ServiceReport>;
}

/** The targets, each with what was measured and whether it is met. */
function judge({ ingest, remediation, low, relayAtRemediationRate, services }: Judged): {
  targets: Target[];
  ratio: number | null;
  cpuRatio: number | null;
} {
  const p99 = finite(remediation.reported_to_verified_excluding_action_ms.p99);
  const relayP99 = relayAtRemediationRate.latency_ms.p99;
  const ratio = p99 !== null && relayP99 > 0 ? round(p99 / relayP99, 2) : null;
  const cpuPerRemediation = remediation.cost_per_remediation.cpu_ms.machine ?? null;
  const relayCpu = relayAtRemediationRate.cpu_ms_per_event;
  const cpuRatio = cpuPerRemediation !== null && relayCpu ? round(cpuPerRemediation / relayCpu, 2) : null;
  const lowP99 = finite(low.reported_to_verified_excluding_action_ms.p99);
  const ingestP99 = finite(ingest.reported_to_captured_ms.p99);
  // Through the whole bench: the larger of the sampled peak and the kernel's high-water mark.
  const rss = Object.fromEntries(
    Object.entries(services).map(([name, s]) => [name, Math.max(s.rss_peak_mb, s.rss_hwm_mb)]),
  );
  const pgRemediation = remediation.cost_per_remediation.postgres;
  const pgError = ingest.cost_per_error.postgres;
  const atMost = (n: number | null, limit: number) => n !== null && n <= limit;
  return {
    ratio,
    cpuRatio,
    targets: [
      {
        name: 'pg_per_remediation',
        target: `<= ${TARGETS.remediationCommits} Postgres commits and <= ${TARGETS.remediationRowsWritten} rows written (inserted + updated + deleted) per verified remediation (pg_stat_database of the bench database over the remediation load)`,
        measured: { commits: pgRemediation.commits, rows_written: pgRemediation.rows_written },
        met:
          atMost(pgRemediation.commits, TARGETS.remediationCommits) &&
          atMost(pgRemediation.rows_written, TARGETS.remediationRowsWritten),
      },
      {
        name: 'pg_per_error',
        target: `<= ${TARGETS.errorCommits} Postgres commits and <= ${TARGETS.errorRowsWritten} rows written per ingested error (the ingest load)`,
        measured: { commits: pgError.commits, rows_written: pgError.rows_written },
        met: atMost(pgError.commits, TARGETS.errorCommits) && atMost(pgError.rows_written, TARGETS.errorRowsWritten),
      },
      {
        name: 'cpu_per_remediation',
        target: `machine-wide CPU ms per verified remediation <= ${TARGETS.cpuOverRelay}x the relay's CPU ms (hops + nats-server) per ${RELAY_HOPS}-hop event at the remediation rate`,
        measured: {
          machine_cpu_ms_per_remediation: cpuPerRemediation,
          relay_cpu_ms_per_event: relayCpu,
          ratio: cpuRatio,
        },
        met: cpuRatio !== null && cpuRatio <= TARGETS.cpuOverRelay,
      },
      {
        name: 'remediation_rate',
        target: `remediations offered at >= ${TARGETS.remediationPerSecond}/s (within 1%) for the load's seconds, every one verified, caught up within ${TARGETS.caughtUpMs} ms of the last offer`,
        measured: {
          offered_per_s: remediation.offered_per_s,
          verified_per_s: remediation.verified_per_s,
          offered: remediation.offered,
          verified: remediation.verified,
          caught_up_ms: remediation.caught_up_ms,
        },
        met:
          offeredAt(remediation.offered_per_s, TARGETS.remediationPerSecond) &&
          remediation.failed_publishes === 0 &&
          remediation.verified === remediation.offered &&
          keptUp(remediation.caught_up_ms),
      },
      {
        name: 'remediation_p99_ratio',
        target: `p99 reported->verified minus the target's own time <= ${TARGETS.relayRatio}x the bare ${RELAY_HOPS}-hop relay's p99 at the same rate`,
        measured: { rate: remediation.rate, p99_ms: p99, relay_p99_ms: finite(relayP99), ratio },
        met: ratio !== null && ratio <= TARGETS.relayRatio,
      },
      {
        name: 'remediation_p99_at_20',
        target: `at ${TARGETS.lowRatePerSecond} remediations/s (--low-rate, offered within 1%), every one verified, p99 reported->verified minus the target's own time <= ${TARGETS.lowRateP99Ms} ms`,
        measured: { rate: low.rate, offered_per_s: low.offered_per_s, verified: low.verified, p99_ms: lowP99 },
        met:
          offeredAt(low.offered_per_s, TARGETS.lowRatePerSecond) &&
          low.verified === low.offered &&
          atMost(lowP99, TARGETS.lowRateP99Ms),
      },
      {
        name: 'ingest_rate',
        target: `>= ${TARGETS.ingestPerSecond} reported errors/s offered (within 1%) with >= ${TARGETS.ingestDistinctRatio * 100}% new fingerprints: every one counted, caught up within ${TARGETS.caughtUpMs} ms of the last offer, p99 reported->captured <= ${TARGETS.ingestP99Ms} ms`,
        measured: {
          offered_per_s: ingest.offered_per_s,
          distinct_ratio: ingest.distinct_ratio,
          ingested_per_s: ingest.ingested_per_s,
          unaccounted: ingest.unaccounted,
          caught_up_ms: ingest.caught_up_ms,
          p99_ms: ingestP99,
        },
        met:
          offeredAt(ingest.offered_per_s, TARGETS.ingestPerSecond) &&
          ingest.distinct_ratio >= TARGETS.ingestDistinctRatio &&
          ingest.unaccounted === 0 &&
          ingest.failed_publishes === 0 &&
          keptUp(ingest.caught_up_ms) &&
          atMost(ingestP99, TARGETS.ingestP99Ms),
      },
      {
        name: 'rss_per_service',
        target: `<= ${TARGETS.rssMb} MB RSS per service through the whole bench (the larger of the peak sampled every 250 ms and the kernel's high-water mark)`,
        measured: rss,
        met: Object.values(rss).every((mb) => mb > 0 && mb <= TARGETS.rssMb),
      },
    ],
  };
}

/** Run the whole benchmark; the report is one JSON-ready object. Cleans up after itself unless `keep`. */
export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const startedAt = new Date();
  const loadAtStart = loadavg().map((n) => round(n, 2));
  const started = performance.now();
  const runId = randomBytes(4).toString('hex');
  const namespace = `bench_${runId}`;
  const naming = new Naming(namespace);
  const dir = mkdtempSync(join(tmpdir(), 'grace-bench-'));
  const catalog = join(dir, 'playbooks.yaml');
  writeFileSync(catalog, benchCatalog());
  const logs = new LogTally();
  const exits: { service: string; code: number | null; signal: string | null }[] = [];

  const nc = await connect({ servers: options.natsUrl.split(',').map((s) => s.trim()), name: 'grace-bench' });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc, { timeout: 10_000 });
  let database: BenchDatabase | undefined;
  let system: RunningProcesses | undefined;
  let relay: Relay | undefined;
  let target: BenchTarget | undefined;
  let activity: ReturnType<typeof databaseActivity> | undefined;
  let stopCodes: Record<string, number | null> = {};
  // Stop what runs and remove what the run made (unless kept), once: at the end, or on Ctrl-C.
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      if (system) await system.stop(10_000).catch(() => undefined);
      if (relay) await relay.stop().catch(() => undefined);
      target?.stop();
      await activity?.close().catch(() => undefined);
      if (!options.keep) {
        const prefix = naming.stream('');
        for await (const stream of jsm.streams.list())
          if (stream.config.name.startsWith(prefix))
            await jsm.streams.delete(stream.config.name).catch(() => undefined);
        await database
          ?.drop()
          .catch((err: Error) => options.progress(`could not drop ${database?.name}: ${err.message}`));
      }
      rmSync(dir, { recursive: true, force: true });
      await nc.close();
    })());
  const interrupted = () => {
    options.progress('interrupted: stopping the services and removing what the run made');
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    // Streams exist before anything publishes (the services would create the same ones at start).
    await ensureStreams(jsm, naming);
    if (options.from === 'dist') {
      options.progress('building the services (tsc -b)');
      await buildDist();
    }
    database = await createBenchDatabase(options.databaseUrl, runId);
    activity = databaseActivity(database);
    target = startBenchTarget(nc, naming);
    options.progress(`namespace ${namespace}, database ${database.name}: starting the seven services and the relay`);
    const env: NodeJS.ProcessEnv = {
      NATS_URL: options.natsUrl,
      DATABASE_URL: database.url,
      GRACE_NAMESPACE: namespace,
      HTTP_PORT: '0',
      HTTP_HOST: '127.0.0.1',
      // The services' default; the launcher knows a service started by its info-level start line.
      LOG_LEVEL: 'info',
      ...options.settings.all,
    };
    const envOf: Partial<Record<ProcessName, NodeJS.ProcessEnv>> = {
      sentinel: { PLAYBOOKS_FILE: catalog },
      'chat-gateway': { JWT_SECRET: randomBytes(32).toString('hex') },
    };
    for (const name of SERVICES) envOf[name] = { ...envOf[name], ...options.settings[name] };
    const [launched, relayStarted] = await Promise.allSettled([
      launch(SERVICES, {
        env,
        envOf,
        from: options.from,
        onLine: (name, line) => logs.add(name, line),
        onExit: (service, code, signal) => {
          exits.push({ service, code, signal });
          options.progress(`${service} exited unexpectedly (${code ?? signal})`);
        },
      }),
      startRelay(nc, jsm, naming, options.natsUrl, options.from, (line) => logs.add('relay', line)),
    ]);
    if (launched.status === 'fulfilled') system = launched.value;
    if (relayStarted.status === 'fulfilled') relay = relayStarted.value;
    if (launched.status === 'rejected') throw launched.reason;
    if (relayStarted.status === 'rejected') throw relayStarted.reason;
    const running = system!;
    const bench: Bench = {
      options,
      nc,
      js,
      jsm,
      naming,
      runId,
      system: running,
      database: activity!,
      idle: { seconds: 0, commits_per_s: 0, rows_written_per_s: 0 },
      servicePids: () => new Map([...running.processes].map(([name, p]) => [name, [p.child.pid ?? 0]])),
      infrastructurePids: infrastructurePids(options.natsUrl),
    };
    options.progress(`started in ${round((performance.now() - started) / 1000)} s`);

    const overall = new UsageWindow(bench.servicePids, 250).start();
    // The services are idle while the relay runs: what they do in Postgres meanwhile is their idle cost.
    // (Settled first: what the services wrote while starting reaches the statistics up to seconds late.)
    const idleBefore = await bench.database.settled();
    const relayIngest = await runRelay(bench, relay!, options.ingestRate);
    const relayRemediation = await runRelay(bench, relay!, options.remediationRate);
    const idleAfter = await bench.database.read();
    const idleSeconds = (idleAfter.at - idleBefore.at) / 1000;
    const idleDelta = databaseDelta(idleBefore, idleAfter);
    bench.idle = {
      seconds: round(idleSeconds),
      commits_per_s: round(idleDelta.commits / idleSeconds, 2),
      rows_written_per_s: round(
        (idleDelta.rows_inserted + idleDelta.rows_updated + idleDelta.rows_deleted) / idleSeconds,
        2,
      ),
    };
    const ingest = await runIngest(bench);
    // The short low-rate load first, on a drained system; then the main remediation load.
    const low = await runRemediation(bench, target, options.lowRate, 'remediation at the low rate');
    const remediation = await runRemediation(bench, target, options.remediationRate, 'remediation');
    const whole = overall.finish();

    const services: Record<string, ServiceReport> = {};
    for (const name of SERVICES) {
      services[name] = {
        cpu_pct: {
          idle: relayRemediation.idleServices[name]?.cpu_pct ?? 0,
          ingest: ingest.usage[name]?.cpu_pct ?? 0,
          remediation: remediation.usage[name]?.cpu_pct ?? 0,
          remediation_at_low_rate: low.usage[name]?.cpu_pct ?? 0,
        },
        rss_peak_mb: whole.processes[name]?.rss_peak_mb ?? 0,
        rss_hwm_mb: whole.processes[name]?.rss_hwm_mb ?? 0,
      };
    }
    const atIngestRate = relayReport(relayIngest);
    const atRemediationRate = relayReport(relayRemediation);
    const { targets, ratio, cpuRatio } = judge({
      ingest: ingest.report,
      remediation: remediation.report,
      low: low.report,
      relayAtRemediationRate: atRemediationRate,
      services,
    });
    const capturedRatio =
      relayIngest.result.latency_ms.p99 > 0
        ? round(ingest.report.reported_to_captured_ms.p99 / relayIngest.result.latency_ms.p99, 2)
        : null;

    options.progress('stopping');
    stopCodes = await running.stop(20_000);
    system = undefined;
    return {
      bench: {
        started_at: startedAt.toISOString(),
        duration_s: round((performance.now() - started) / 1000),
        namespace,
        database: database.name,
        nats: redact(options.natsUrl),
        cores: availableParallelism(),
        // The machine may be shared: how busy it was before the bench began (1, 5, 15 minutes).
        load_average_at_start: loadAtStart,
        node: process.version,
        seconds_per_load: options.seconds,
        services_from: options.from,
        settings: options.settings,
        kept: options.keep,
      },
      ingest: ingest.report,
      remediation: remediation.report,
      remediation_at_low_rate: low.report,
      baseline: {
        what: `${RELAY_HOPS} relay hops, each its own process: durable pull consumer -> parse + validate (error.reported) -> JetStream publish to the next subject -> ack; no Postgres`,
        at_ingest_rate: atIngestRate,
        at_remediation_rate: atRemediationRate,
      },
      ratio: {
        verified_p99_over_relay_p99: ratio,
        captured_p99_over_relay_p99: capturedRatio,
        cpu_per_remediation_over_relay_cpu_per_event: cpuRatio,
      },
      services,
      idle_postgres: bench.idle,
      targets,
      all_met: targets.every((t) => t.met),
      invalid_events: ingest.report.invalid_events + low.report.invalid_events + remediation.report.invalid_events,
      service_logs: logs.toJSON(),
      service_exits: exits,
      stop_codes: stopCodes,
    };
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    await cleanup();
  }
}
