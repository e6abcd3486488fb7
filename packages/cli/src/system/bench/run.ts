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
  type BenchDatabase,
  type DatabaseActivity,
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
import { startTimings, type Timings } from './metrics.js';
import { Observer } from './observe.js';
import { UsageWindow, findProcesses, type ProcessUsage } from './proc.js';
import { RELAY_HOPS, startRelay, type Relay, type RelayResult } from './relay.js';

/** The targets on the 2-core machine. */
export const TARGETS = {
  ingestPerSecond: 1_000,
  verifiedPerSecond: 200,
  verifiedP99Ms: 250,
  relayRatio: 2,
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
  /** Length of each of the four loads (relay and Grace at each rate). */
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

type Latency = ReturnType<typeof latencySummary>;
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

/**
 * What one item (an error ingested, a remediation verified) cost: CPU milliseconds per process and the bench
 * database's commits and rows, from the start of the load until the system drained (idle costs meanwhile
 * included, which weigh at low rates).
 */
function costPerItem(
  items: number,
  window: { seconds: number; processes: Record<string, ProcessUsage> },
  before: DatabaseActivity,
  after: DatabaseActivity,
) {
  const per = (n: number) => (items > 0 ? round(n / items, 2) : null);
  const cpu = Object.fromEntries(
    Object.entries(window.processes).map(([name, usage]) => [name, per(usage.cpu_pct * window.seconds * 10)]),
  );
  const total = Object.values(window.processes).reduce((sum, u) => sum + u.cpu_pct * window.seconds * 10, 0);
  return {
    items,
    cpu_ms: { ...cpu, total: per(total) },
    postgres: Object.fromEntries(
      (Object.keys(after) as (keyof DatabaseActivity)[]).map((key) => [key, per(after[key] - before[key])]),
    ),
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

/** What both loads report about the machine and the consumers. */
interface LoadReport {
  consumer_backlog_peak: Record<string, number>;
  drain: { drained: boolean; seconds: number; left: Record<string, number> };
  machine_cpu_pct: number;
  infrastructure_cpu_pct: Record<string, number>;
  /** Each service's duration histograms over the load: how many, and the mean (a handler's includes its wait for a connection). */
  service_timings: Timings;
  /** Events on the watched subjects that broke their contract (never counted as delivered). */
  invalid_events: number;
}

interface IngestReport extends LoadReport {
  rate: number;
  seconds: number;
  distinct_ratio: number;
  offered: number;
  published: number;
  failed_publishes: number;
  offered_per_s: number;
  /** Occurrences trigger-mesh counted (the sum of its captures' total_count, asked over NATS). */
  ingested: number;
  ingested_per_s: number;
  /**
   * Offered errors trigger-mesh did not count: should be 0. A publish whose acknowledgement timed out may
   * still have been stored (and counted), so this is taken against what was offered; `lost` is what JetStream
   * acknowledged and trigger-mesh never counted.
   */
  unaccounted: number;
  lost: number;
  /** From the last offer until trigger-mesh had handled every error. */
  caught_up_ms: number | null;
  fingerprints: number;
  first_captures_expected: number;
  first_captures_delivered: number;
  count_updates_announced: number;
  reported_to_captured_ms: Latency;
  /** What one error ingested cost (CPU ms per process, Postgres commits and rows). */
  cost_per_error: ReturnType<typeof costPerItem>;
}

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
      cost_per_error: costPerItem(counted.occurrences, costWindow, activityBefore, activityAfter),
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

interface RemediationReport extends LoadReport {
  rate: number;
  seconds: number;
  offered: number;
  published: number;
  failed_publishes: number;
  offered_per_s: number;
  captured: number;
  requested: number;
  executed: number;
  verdicts: Record<string, number>;
  verified: number;
  verified_per_s: number;
  denied: Record<string, number>;
  escalated: number;
  /** Offered errors whose flow neither reached a verdict of verified nor was escalated: should be 0. */
  unfinished: number;
  caught_up_ms: number | null;
  reported_to_captured_ms: Latency;
  reported_to_requested_ms: Latency;
  reported_to_executed_ms: Latency;
  reported_to_verified_ms: Latency;
  reported_to_verified_excluding_action_ms: Latency;
  /** The action itself: the bench target's time from a request's arrival to its answer. */
  action_ms: Latency;
  /** The executor's started_at -> finished_at (ms resolution): its steps around the adapter call and the call. */
  executor_action_window_ms: Latency;
  /** Where the time goes, between consecutive sightings of one flow. */
  hops_ms: Record<string, Latency>;
  target: ReturnType<BenchTarget['counts']>;
  /** What one verified remediation cost (CPU ms per process, Postgres commits and rows). */
  cost_per_remediation: ReturnType<typeof costPerItem>;
}

/** Before a load: start watching backlogs, CPU and memory, Postgres activity and the services' timings. */
async function beforeLoad(bench: Bench) {
  return {
    backlog: new BacklogPeaks(bench.jsm, bench.naming).start(),
    activityBefore: await bench.database.read(),
    usage: new UsageWindow(everyPid(bench)).start(),
    // What the load cost includes the work it left for after it (the drain).
    costUsage: new UsageWindow(everyPid(bench), 1_000).start(),
    timings: await startTimings(bench.system, SERVICES),
  };
}

/** After a load: wait until every consumer drained, then read what the load cost (CPU, Postgres activity). */
async function afterLoad(bench: Bench, what: string, costUsage: UsageWindow) {
  bench.options.progress(`${what}: waiting until every consumer has drained`);
  const drain = await waitDrained(bench.jsm, bench.naming, bench.options.drainTimeoutMs);
  await sleep(1_000);
  return { drain, activityAfter: await bench.database.read(), costWindow: costUsage.finish() };
}

async function runRemediation(
  bench: Bench,
  target: BenchTarget,
): Promise<{ report: RemediationReport; usage: Record<string, ProcessUsage> }> {
  const { options, naming, nc, js } = bench;
  const rate = options.remediationRate;
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

  options.progress(`remediation: ${rate} distinct errors/s for ${options.seconds} s, each to a verified contract`);
  const offered = await offer(rate, options.seconds, (i) => {
    const event = remediationEvent(i, bench.runId);
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

  const { drain, activityAfter, costWindow } = await afterLoad(bench, 'remediation', costUsage);
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
      target: target.counts(),
      consumer_backlog_peak: peaks,
      drain,
      machine_cpu_pct: window.machine_cpu_pct,
      infrastructure_cpu_pct: infrastructureCpu(window.processes),
      cost_per_remediation: costPerItem(verified.length, costWindow, activityBefore, activityAfter),
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
  processes: { cpu_pct_total: number; cpu_pct_max_hop: number; rss_peak_mb_max: number };
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
  return {
    result,
    idleServices: window.processes,
    machine_cpu_pct: window.machine_cpu_pct,
    infrastructure_cpu_pct: infrastructureCpu(window.processes),
    processes: {
      cpu_pct_total: round(hops.reduce((sum, h) => sum + h.cpu_pct, 0)),
      cpu_pct_max_hop: Math.max(0, ...hops.map((h) => h.cpu_pct)),
      rss_peak_mb_max: Math.max(0, ...hops.map((h) => h.rss_peak_mb)),
    },
  };
}

const relayReport = (run: RelayRun) => ({
  ...run.result,
  machine_cpu_pct: run.machine_cpu_pct,
  infrastructure_cpu_pct: run.infrastructure_cpu_pct,
  ...run.processes,
});

export interface Target {
  name: string;
  target: string;
  measured: unknown;
  met: boolean;
}

function judge(
  ingest: IngestReport,
  remediation: RemediationReport,
  relayAtRemediationRate: RelayResult,
  services: Record<string, { rss_peak_mb: number }>,
): { targets: Target[]; ratio: number | null } {
  const p99 = remediation.reported_to_verified_excluding_action_ms.p99;
  const relayP99 = relayAtRemediationRate.latency_ms.p99;
  const ratio = Number.isFinite(p99) && relayP99 > 0 ? round(p99 / relayP99, 2) : null;
  const keptUp = (caughtUpMs: number | null) => caughtUpMs !== null && caughtUpMs <= TARGETS.caughtUpMs;
  const rss = Object.fromEntries(Object.entries(services).map(([name, s]) => [name, s.rss_peak_mb]));
  return {
    ratio,
    targets: [
      {
        name: 'ingest_rate',
        target: `>= ${TARGETS.ingestPerSecond} reported errors/s ingested: offered at that rate (within 1%), every one counted, caught up within ${TARGETS.caughtUpMs} ms of the last offer`,
        measured: {
          offered_per_s: ingest.offered_per_s,
          ingested_per_s: ingest.ingested_per_s,
          unaccounted: ingest.unaccounted,
          caught_up_ms: ingest.caught_up_ms,
        },
        met:
          ingest.offered_per_s >= TARGETS.ingestPerSecond * TARGETS.offeredShare &&
          ingest.unaccounted === 0 &&
          ingest.failed_publishes === 0 &&
          keptUp(ingest.caught_up_ms),
      },
      {
        name: 'verified_rate',
        target: `>= ${TARGETS.verifiedPerSecond} remediations/s verified: offered at that rate (within 1%), every one verified, caught up within ${TARGETS.caughtUpMs} ms of the last offer`,
        measured: {
          offered_per_s: remediation.offered_per_s,
          verified_per_s: remediation.verified_per_s,
          verified: remediation.verified,
          published: remediation.published,
          caught_up_ms: remediation.caught_up_ms,
        },
        met:
          remediation.offered_per_s >= TARGETS.verifiedPerSecond * TARGETS.offeredShare &&
          remediation.verified === remediation.offered &&
          keptUp(remediation.caught_up_ms),
      },
      {
        name: 'verified_p99',
        target: `p99 reported->verified <= ${TARGETS.verifiedP99Ms} ms, excluding the action itself`,
        measured: Number.isFinite(p99) ? p99 : null,
        met: Number.isFinite(p99) && p99 <= TARGETS.verifiedP99Ms,
      },
      {
        name: 'relay_ratio',
        target: `that p99 within ${TARGETS.relayRatio}x of the bare ${RELAY_HOPS}-hop relay's p99 at the same rate`,
        measured: ratio,
        met: ratio !== null && ratio <= TARGETS.relayRatio,
      },
      {
        name: 'rss_per_service',
        target: `<= ${TARGETS.rssMb} MB RSS per service (peak sampled during the loads)`,
        measured: rss,
        met: Object.values(rss).every((mb) => mb > 0 && mb <= TARGETS.rssMb),
      },
    ],
  };
}

/** Run the whole benchmark; the report is one JSON-ready object. Cleans up after itself unless `keep`. */
export async function runBench(options: BenchOptions) {
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
      servicePids: () => new Map([...running.processes].map(([name, p]) => [name, [p.child.pid ?? 0]])),
      infrastructurePids: infrastructurePids(options.natsUrl),
    };
    options.progress(`started in ${round((performance.now() - started) / 1000)} s`);

    const overall = new UsageWindow(bench.servicePids, 250).start();
    const relayIngest = await runRelay(bench, relay!, options.ingestRate);
    const relayRemediation = await runRelay(bench, relay!, options.remediationRate);
    const ingest = await runIngest(bench);
    const remediation = await runRemediation(bench, target);
    const whole = overall.finish();

    const services: Record<
      string,
      { cpu_pct: { idle: number; ingest: number; remediation: number }; rss_peak_mb: number; rss_hwm_mb: number }
    > = {};
    for (const name of SERVICES) {
      services[name] = {
        cpu_pct: {
          idle: relayRemediation.idleServices[name]?.cpu_pct ?? 0,
          ingest: ingest.usage[name]?.cpu_pct ?? 0,
          remediation: remediation.usage[name]?.cpu_pct ?? 0,
        },
        rss_peak_mb: whole.processes[name]?.rss_peak_mb ?? 0,
        rss_hwm_mb: whole.processes[name]?.rss_hwm_mb ?? 0,
      };
    }
    const { targets, ratio } = judge(ingest.report, remediation.report, relayRemediation.result, services);
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
      baseline: {
        what: `${RELAY_HOPS} relay hops, each its own process: durable pull consumer -> parse + validate (error.reported) -> JetStream publish to the next subject -> ack; no Postgres`,
        at_ingest_rate: relayReport(relayIngest),
        at_remediation_rate: relayReport(relayRemediation),
      },
      ratio: {
        verified_p99_over_relay_p99: ratio,
        captured_p99_over_relay_p99: capturedRatio,
      },
      services,
      targets,
      all_met: targets.every((t) => t.met),
      invalid_events: ingest.report.invalid_events + remediation.report.invalid_events,
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

export type BenchReport = Awaited<ReturnType<typeof runBench>>;
