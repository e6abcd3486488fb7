// `grace bench`: the whole system under open-loop load on the real NATS and Postgres, beside a bare 7-hop NATS
// relay at the same rates, reported as one JSON document. Everything runs in its own namespace and database.
// This file runs the bench (start, the loads in order, stop, clean up); the parts are beside it: the loads
// (baseline.ts, ingest.ts, remediation.ts), what is measured around each (window.ts), what an item cost
// (cost.ts), the targets (targets.ts) and the report (assemble.ts, its shape in report.ts).
import { Naming, ensureStreams } from '@grace/service-kit';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { SERVICES, launch, type ProcessName, type RunningProcesses } from '../launch.js';
import { assembleReport } from './assemble.js';
import { runRelay } from './baseline.js';
import { buildDist } from './build.js';
import { benchCatalog } from './catalog.js';
import { round, type Bench, type BenchOptions } from './context.js';
import { databaseDelta } from './cost.js';
import { createBenchDatabase, databaseActivity, type BenchDatabase } from './database.js';
import { runIngest } from './ingest.js';
import { startBenchTarget, type BenchTarget } from './load.js';
import { LogTally } from './logs.js';
import { UsageWindow } from './proc.js';
import { startRelay, type Relay } from './relay.js';
import { runRemediation } from './remediation.js';
import type { BenchReport } from './report.js';
import { infrastructurePids } from './window.js';

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

    options.progress('stopping');
    stopCodes = await running.stop(20_000);
    system = undefined;
    return assembleReport({
      options,
      startedAt,
      started,
      loadAtStart,
      namespace,
      database: database.name,
      relayIngest,
      relayRemediation,
      idle: bench.idle,
      ingest,
      low,
      remediation,
      whole,
      logs,
      exits,
      stopCodes,
    });
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    await cleanup();
  }
}
