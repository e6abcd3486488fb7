// Benchmark (not a test): reported errors/s ingested by trigger-mesh and reported->captured latency.
// trigger-mesh runs as its own process (src/main.ts) on the real NATS and Postgres; this process offers
// error.reported open-loop at fixed rates: half repeats of 20 hot errors, half distinct errors (each one a
// new fingerprint, so each one is announced at once and its latency can be measured).
// Usage: pnpm --filter @grace/trigger-mesh bench [rate/s ...]   (env BENCH_SECONDS, default 10)
import { createEvent, streams } from '@grace/contracts';
import { latencySummary, openLoop, spawnTs, waitFor } from '@grace/service-kit/testing';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const rates = process.argv
  .slice(2)
  .map(Number)
  .filter((n) => n > 0);
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));

async function run(rate: number) {
  const namespace = `bench_${randomBytes(3).toString('hex')}`;
  const service = spawnTs(
    main,
    [],
    {
      DATABASE_URL,
      NATS_URL,
      GRACE_NAMESPACE: namespace,
      DB_SCHEMA: namespace,
      HTTP_PORT: '0',
      LOG_LEVEL: 'info',
    },
    // e.g. BENCH_SERVICE_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the service.
    (process.env.BENCH_SERVICE_NODE_ARGS ?? '').split(' ').filter(Boolean),
  );
  const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 1 });
  await waitFor(
    'trigger-mesh to start',
    async () => {
      if (service.exitCode !== null) throw new Error(`trigger-mesh exited: ${service.output()}`);
      return service.output().includes('trigger-mesh started') || undefined;
    },
    30_000,
  );

  const nc = await connect({ servers: NATS_URL });
  const js = jetstream(nc);
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  const sub = nc.subscribe(`${namespace}.error.captured`, {
    callback: (_err, msg) => {
      const data = (msg.json() as { data: { reported_event_id: string; update: boolean } }).data;
      const t = sentAt.get(data.reported_event_id);
      if (t !== undefined && !data.update) latencies.push(performance.now() - t);
    },
  });
  const started = performance.now();
  const { offered, offeredPerSecond } = await openLoop(rate, seconds, (i) => {
    const distinct = i % 2 === 1;
    const event = createEvent(
      'error.reported',
      {
        service: `svc-${i % 20}`,
        environment: 'production',
        kind: distinct ? `DistinctError${i}` : `HotError${i % 20}`,
        message: distinct ? `distinct failure number ${i}` : `hot failure after ${i} ms`,
        severity: 'error',
        occurred_at: new Date().toISOString(),
      },
      { source: 'bench/producer' },
    );
    if (distinct) sentAt.set(event.id, performance.now());
    return js.publish(`${namespace}.error.reported`, JSON.stringify(event), { msgID: event.id });
  });
  await waitFor(
    'every error to be counted',
    async () => {
      const { rows } = await pool.query(`select coalesce(sum(total_count), 0)::int as n from "${namespace}".captures`);
      return (rows[0] as { n: number }).n >= offered ? true : undefined;
    },
    120_000,
  );
  const ingestSeconds = (performance.now() - started) / 1000;
  sub.unsubscribe();
  const warnings = service
    .output()
    .split('\n')
    .filter((l) => /"level":"(warn|error|fatal)"/.test(l));
  if (process.env.BENCH_DEBUG) console.error(warnings.slice(0, 20).join('\n'));
  service.kill('SIGTERM');
  await new Promise((r) => service.once('exit', r));
  const jsm = await jetstreamManager(nc);
  for (const s of streams) await jsm.streams.delete(`${namespace}_${s.name}`).catch(() => undefined);
  await pool.query(`drop schema if exists "${namespace}" cascade`);
  await pool.end();
  await nc.close();
  return {
    rate,
    offered,
    offered_per_s: offeredPerSecond,
    ingested_per_s: Math.round(offered / ingestSeconds),
    distinct_announced: latencies.length,
    service_warnings: warnings.length,
    reported_to_captured_ms: latencySummary(latencies),
  };
}

const results = [];
for (const rate of rates.length ? rates : [500, 1000, 1500]) results.push(await run(rate));
console.log(
  JSON.stringify({ seconds_per_rate: seconds, mix: '50% repeats of 20 errors, 50% distinct', results }, null, 2),
);
