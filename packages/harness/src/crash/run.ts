// The crash test: Grace's seven services as processes on a NATS and a PostgreSQL of their own, under steady load,
// while each service in turn is killed with SIGKILL and restarted, then NATS and then Postgres are restarted.
// Afterwards it waits until the system is quiet and counts, from the services' own tables and JetStream, whether
// every reported error is accounted for, every contract reached a final state, no action ran twice and no outbox
// row was left unsent. `grace crash-test` prints the report; tests/e2e/crash.test.ts asserts it.
import { startNatsServerProcess, type NatsServerProcess } from '@grace/service-kit';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedPostgresServer } from '../infra.js';
import { launch, SERVICES, type ProcessName, type RunningProcesses, type ServiceName } from '../launch.js';
import { writeCrashCatalog } from './catalog.js';
import { startErrorLoad, type ErrorLoad, type LoadCounts } from './load.js';
import {
  accountErrors,
  countContracts,
  countDeadLetters,
  countIncidents,
  isQuiet,
  measureBusyness,
  outboxUnsent,
  schemaOfService,
  type Busyness,
  type ContractCounts,
  type DeadLetterCounts,
  type ErrorAccounting,
} from './observe.js';
import { startCrashTarget, type CrashTarget, type TargetCounts } from './target.js';

export interface CrashTestOptions {
  /** error.reported offered per second, all through the run. */
  rate: number;
  /** Load before the first fault, between faults and after the last one. */
  secondsBetweenKills: number;
  /** Crash target services (each one's faults are remediated; the executor allows one open contract per target). */
  targets?: number;
  /** How long NATS and Postgres stay down when restarted (default 2 s). */
  downSeconds?: number;
  /** Bound on waiting for the system to be quiet after the load stopped (default 180 s: longer than the
   * executor's claim lease (LEASE_MARGIN_MS + 60 s) and the verifier's (120 s) that a killed worker leaves). */
  quietTimeoutSeconds?: number;
  /** Keep the work directory (NATS store, Postgres data, service logs) instead of deleting it. */
  keep?: boolean;
  /** Progress lines (the command writes them to stderr). */
  log?: (line: string) => void;
}

export interface FaultRecord {
  fault: 'kill -9' | 'restart';
  target: ServiceName | 'nats' | 'postgres';
  /** When the process was killed or the server stopped, and when it served again. */
  at: string;
  back_at?: string;
  /** Milliseconds from the kill or stop until it served again. */
  down_ms?: number;
  pid?: number;
  error?: string;
}

export interface UnexpectedExit {
  service: ProcessName;
  code: number | null;
  signal: string | null;
  at: string;
  /** What the run was doing (e.g. "restart postgres"). */
  during: string;
  /** Restarted as Kubernetes would (restartPolicy: Always), and when it served again. */
  restarted_at?: string;
  restart_attempts: number;
  /** It exited while being started again (after an earlier exit or a kill): the same recovery goes on. */
  while_restarting?: boolean;
}

export interface CrashReport {
  ok: boolean;
  violated: string[];
  invariants: Record<string, boolean>;
  run: {
    rate: number;
    seconds_between_kills: number;
    targets: number;
    started_at: string;
    finished_at: string;
    seconds: number;
    work_dir?: string;
  };
  load: LoadCounts;
  errors: ErrorAccounting & { acknowledged_by_jetstream: number };
  incidents: { total: number; by_status: Record<string, number> };
  contracts: Omit<ContractCounts, 'ids' | 'started'>;
  executions: TargetCounts & {
    /** The target acted for a contract id the executor has no record of, or whose record says it never ran. */
    acted_without_contract: number;
    acted_for_contract_never_started: number;
  };
  outbox_unsent: Record<string, number> & { total: number };
  dead_letters: DeadLetterCounts;
  faults: FaultRecord[];
  unexpected_exits: UnexpectedExit[];
  /** Error-level log lines and other stderr output (stack traces) per service (the first few kept). */
  errors_logged: Record<string, { count: number; first: string[] }>;
  quiet: { reached: boolean; waited_ms: number; last: Busyness | { error: string } };
  stopped: Record<string, number | null>;
}

const TARGET_PREFIX = 'crash-target-';
const QUIET_STABLE_MS = 5_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const iso = (ms = Date.now()) => new Date(ms).toISOString();
const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** The services' settings for the run: fast windows, no action budget in the way, the crash catalog. */
function serviceEnvironment(catalog: string): Partial<Record<ProcessName, NodeJS.ProcessEnv>> {
  return {
    // Count updates every second and windows that roll over during the run (more announcements, more incidents).
    'trigger-mesh': { EMIT_INTERVAL_MS: '1000', DEDUPE_WINDOW_MS: '10000' },
    // No hold after an escalation, so a target's faults keep opening incidents (and contracts) all run long.
    sentinel: { PLAYBOOKS_FILE: catalog, ESCALATION_HOLD_MS: '0' },
    // Many actions per target and hour; a lost worker's contract is taken over soon after its timeout.
    'action-executor': { ACTION_BUDGET: '1000000', LEASE_MARGIN_MS: '2000' },
    // Longer than trigger-mesh's EMIT_INTERVAL_MS, so an error-rate window's captures have come.
    verifier: { CAPTURE_SETTLE_MS: '1500' },
    'cube-etl': { ETL_INTERVAL_MS: '5000' },
    'chat-gateway': { JWT_SECRET: randomBytes(32).toString('hex') },
  };
}

export async function runCrashTest(options: CrashTestOptions): Promise<CrashReport> {
  const log = options.log ?? (() => undefined);
  const targets = options.targets ?? 8;
  const between = options.secondsBetweenKills * 1000;
  const downMs = (options.downSeconds ?? 2) * 1000;
  const startedAt = Date.now();
  const workDir = mkdtempSync(join(tmpdir(), 'grace-crash-'));
  // The embedded Postgres runs as the postgres user when we are root: it must reach its data directory.
  chmodSync(workDir, 0o755);
  const logDir = join(workDir, 'logs');
  mkdirSync(logDir);
  const runId = randomBytes(3).toString('hex');

  let nats: NatsServerProcess | undefined;
  let postgres: EmbeddedPostgresServer | undefined;
  let nc: NatsConnection | undefined;
  let pool: pg.Pool | undefined;
  let target: CrashTarget | undefined;
  let running: RunningProcesses | undefined;
  let load: ErrorLoad | undefined;
  let phase = 'starting';
  let stoppingAll = false;
  const faults: FaultRecord[] = [];
  const exits: UnexpectedExit[] = [];
  const errorsLogged: CrashReport['errors_logged'] = {};
  const recovering = new Map<ProcessName, Promise<void>>();

  /** Start a service again until it serves (Kubernetes restarts an exited container the same way, with backoff). */
  const bringUp = (name: ProcessName, record?: UnexpectedExit): Promise<void> => {
    const existing = recovering.get(name);
    if (existing) return existing;
    const attempt = (async () => {
      for (let tries = 1; ; tries++) {
        try {
          await running!.restart(name);
          if (record) record.restarted_at = iso();
          return;
        } catch (err) {
          if (record) record.restart_attempts = tries;
          if (stoppingAll || tries >= 30) throw new Error(`${name} did not start again: ${message(err)}`);
          log(`${name} did not start (try ${tries}): ${message(err).split('\n')[0]}; trying again`);
          await sleep(Math.min(10_000, 500 * 2 ** (tries - 1)));
        }
      }
    })().finally(() => recovering.delete(name));
    recovering.set(name, attempt);
    return attempt;
  };

  const onLine = (name: ProcessName, line: string, stream: 'stdout' | 'stderr') => {
    appendFileSync(join(logDir, `${name}.log`), `${line}\n`);
    // pino writes JSON with a level name; anything else on stderr is a crash (a stack trace) or a start failure.
    const logged = /^\{"level":"(error|fatal)"/.test(line);
    if (!logged && (stream === 'stdout' || line.startsWith('{'))) return;
    const entry = (errorsLogged[name] ??= { count: 0, first: [] });
    entry.count++;
    if (entry.first.length < 5) entry.first.push(line.slice(0, 600));
  };

  const onExit = (name: ProcessName, code: number | null, signal: NodeJS.Signals | null) => {
    // While the services first start, launch itself fails on an exit (and stops the others).
    if (stoppingAll || !running) return;
    const restarting = recovering.has(name);
    const record: UnexpectedExit = {
      service: name,
      code,
      signal,
      at: iso(),
      during: phase,
      restart_attempts: 0,
      ...(restarting ? { while_restarting: true } : {}),
    };
    exits.push(record);
    log(`${name} exited on its own (code ${code}, signal ${signal}) during "${phase}"; restarting it`);
    if (!restarting) void bringUp(name, record).catch((err) => log(message(err)));
  };

  try {
    log(`work directory ${workDir}`);
    nats = await startNatsServerProcess({ storeDir: join(workDir, 'nats') });
    postgres = await startEmbeddedPostgres({ dataDir: join(workDir, 'postgres') });
    log(`nats-server on ${nats.url}, PostgreSQL on port ${postgres.port}`);
    const catalog = writeCrashCatalog(workDir);

    nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    const js = jetstream(nc);
    pool = new pg.Pool({ connectionString: postgres.url, max: 2, connectionTimeoutMillis: 5_000 });
    pool.on('error', () => undefined);
    target = startCrashTarget(nc, '', TARGET_PREFIX);

    const envOf = serviceEnvironment(catalog);
    for (const service of SERVICES) envOf[service] = { DB_SCHEMA: schemaOfService(service), ...envOf[service] };
    log(`starting ${SERVICES.join(', ')}`);
    running = await launch(SERVICES, {
      env: {
        NATS_URL: nats.url,
        DATABASE_URL: postgres.url,
        GRACE_NAMESPACE: '',
        HTTP_HOST: '127.0.0.1',
        HTTP_PORT: '0',
        LOG_LEVEL: 'info',
      },
      envOf,
      onLine,
      onExit,
      startTimeoutMs: 120_000,
    });

    phase = 'load';
    load = startErrorLoad({ js, namespace: '', rate: options.rate, targetPrefix: TARGET_PREFIX, targets, runId });
    log(`offering ${options.rate} errors/s`);
    await sleep(between);

    for (const service of SERVICES) {
      phase = `kill -9 ${service}`;
      const pid = running.processes.get(service)?.child.pid;
      const at = Date.now();
      const record: FaultRecord = { fault: 'kill -9', target: service, at: iso(at), ...(pid ? { pid } : {}) };
      faults.push(record);
      try {
        await running.kill(service, 'SIGKILL');
        await bringUp(service);
        record.back_at = iso();
        record.down_ms = Date.now() - at;
        log(`killed ${service} (pid ${pid}) with SIGKILL; it served again after ${record.down_ms} ms`);
      } catch (err) {
        record.error = message(err);
        log(`kill -9 ${service} failed: ${record.error}`);
      }
      phase = 'load';
      await sleep(between);
    }

    for (const server of ['nats', 'postgres'] as const) {
      phase = `restart ${server}`;
      const at = Date.now();
      const record: FaultRecord = { fault: 'restart', target: server, at: iso(at) };
      faults.push(record);
      try {
        if (server === 'nats') await nats.stop();
        else await postgres.stop();
        log(`${server} stopped; down for ${downMs} ms`);
        await sleep(downMs);
        if (server === 'nats') await nats.start();
        else await postgres.start();
        record.back_at = iso();
        record.down_ms = Date.now() - at;
        log(`${server} serves again after ${record.down_ms} ms`);
      } catch (err) {
        record.error = message(err);
        log(`restarting ${server} failed: ${record.error}`);
      }
      phase = 'load';
      await sleep(between);
    }

    phase = 'stopping the load';
    const loadCounts = await load.stop();
    load = undefined;
    log(`load stopped: ${loadCounts.acknowledged} of ${loadCounts.offered} errors acknowledged by JetStream`);
    // A service still restarting (after exiting on its own) must be up before the system can go quiet.
    await Promise.allSettled([...recovering.values()]);

    phase = 'waiting until quiet';
    const quiet = await waitUntilQuiet(pool, nc, (options.quietTimeoutSeconds ?? 180) * 1000, log);
    log(quiet.reached ? `quiet after ${quiet.waited_ms} ms` : `not quiet after ${quiet.waited_ms} ms`);

    phase = 'counting';
    const jsm = await jetstreamManager(nc);
    const errors = await accountErrors(pool, jsm, '');
    const contracts = await countContracts(pool);
    const incidents = await countIncidents(pool);
    const unsent = await outboxUnsent(pool);
    const deadLetters = await countDeadLetters(jsm, '');
    const targetCounts = target.counts();
    const acted = target.actedContracts();
    const actedWithoutContract = [...acted].filter((id) => !contracts.ids.has(id)).length;
    const actedNeverStarted = [...acted].filter((id) => contracts.ids.has(id) && !contracts.started.has(id)).length;

    phase = 'stopping';
    stoppingAll = true;
    const stopped = await running.stop(30_000);
    running = undefined;

    const unsentTotal = Object.values(unsent).reduce((a, b) => a + b, 0);
    const busy = 'consumer_pending' in quiet.last ? quiet.last : undefined;
    const invariants: Record<string, boolean> = {
      // Every error JetStream acknowledged is stored, and every stored one is counted exactly once.
      every_error_accounted:
        errors.unaccounted === 0 &&
        errors.overcounted === 0 &&
        errors.occurrences_stored_twice === 0 &&
        errors.reported >= loadCounts.acknowledged,
      every_contract_final: contracts.not_final === 0,
      no_action_executed_twice:
        targetCounts.contracts_executed_more_than_once.length === 0 &&
        targetCounts.keys_executed_more_than_once.length === 0 &&
        targetCounts.actions_executed_more_than_once.length === 0 &&
        contracts.incident_attempts_with_several_contracts === 0,
      every_execution_recorded: actedWithoutContract === 0 && actedNeverStarted === 0,
      no_outbox_row_unsent: unsentTotal === 0,
      consumers_caught_up: busy !== undefined && busy.consumer_pending === 0 && busy.consumer_ack_pending === 0,
      // A service rides out a kill of another, and a NATS or Postgres restart, without exiting (it reconnects).
      no_service_exited_on_its_own: exits.length === 0,
      every_fault_injected:
        SERVICES.every((s) => faults.some((f) => f.target === s && f.fault === 'kill -9' && !f.error)) &&
        ['nats', 'postgres'].every((s) => faults.some((f) => f.target === s && f.fault === 'restart' && !f.error)),
    };
    const violated = Object.entries(invariants)
      .filter(([, holds]) => !holds)
      .map(([name]) => name);
    const { ids: _ids, started: _started, ...contractCounts } = contracts;
    return {
      ok: violated.length === 0,
      violated,
      invariants,
      run: {
        rate: options.rate,
        seconds_between_kills: options.secondsBetweenKills,
        targets,
        started_at: iso(startedAt),
        finished_at: iso(),
        seconds: Math.round((Date.now() - startedAt) / 1000),
        ...(options.keep ? { work_dir: workDir } : {}),
      },
      load: loadCounts,
      errors: { ...errors, acknowledged_by_jetstream: loadCounts.acknowledged },
      incidents,
      contracts: contractCounts,
      executions: {
        ...targetCounts,
        acted_without_contract: actedWithoutContract,
        acted_for_contract_never_started: actedNeverStarted,
      },
      outbox_unsent: { ...unsent, total: unsentTotal },
      dead_letters: deadLetters,
      faults,
      unexpected_exits: exits,
      errors_logged: errorsLogged,
      quiet,
      stopped,
    };
  } finally {
    stoppingAll = true;
    await load?.stop().catch(() => undefined);
    if (running) await running.stop(10_000).catch(() => undefined);
    await target?.stop().catch(() => undefined);
    await nc?.close().catch(() => undefined);
    await pool?.end().catch(() => undefined);
    await postgres?.stop().catch(() => undefined);
    await nats?.stop().catch(() => undefined);
    if (!options.keep) rmSync(workDir, { recursive: true, force: true });
    else log(`kept ${workDir} (NATS store, Postgres data, service logs)`);
  }
}

/** Poll until nothing is pending anywhere for QUIET_STABLE_MS, or the bound passes. */
async function waitUntilQuiet(pool: pg.Pool, nc: NatsConnection, timeoutMs: number, log: (line: string) => void) {
  const started = Date.now();
  const jsm = await jetstreamManager(nc);
  let quietSince: number | undefined;
  let last: Busyness | { error: string } = { error: 'not measured' };
  let lastLogged = 0;
  while (Date.now() - started < timeoutMs) {
    try {
      last = await measureBusyness(pool, jsm, '');
      if (isQuiet(last)) {
        quietSince ??= Date.now();
        if (Date.now() - quietSince >= QUIET_STABLE_MS) return { reached: true, waited_ms: Date.now() - started, last };
      } else quietSince = undefined;
    } catch (err) {
      last = { error: message(err) };
      quietSince = undefined;
    }
    if (Date.now() - lastLogged > 10_000) {
      log(`waiting until quiet: ${JSON.stringify(last)}`);
      lastLogged = Date.now();
    }
    await sleep(1_000);
  }
  return { reached: false, waited_ms: Date.now() - started, last };
}
