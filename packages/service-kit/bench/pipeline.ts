// Benchmark (not a test): events/s and latency through the kit's whole path, on the real NATS and Postgres.
// publish error.reported -> consumer runner (inbox + handler + outbox in one transaction) -> relay -> error.captured.
// Open loop: events are offered at a fixed rate whatever the service does, so stalls show as latency.
// The service runs in its own process (as in production); this process only offers load and measures.
// Usage: pnpm --filter @grace/service-kit bench [rate/s ...]   (env BENCH_SECONDS, default 10; BENCH_BATCH, default 1)
import { createEvent, streams } from '@grace/contracts';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { consumer, startService, type ServiceDefinition } from '../src/index.js';
import { latencySummary, openLoop } from '../src/testing.js';

const rates = process.argv
  .slice(2)
  .map(Number)
  .filter((n) => n > 0);
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

const echo: ServiceDefinition<unknown> = {
  name: 'bench',
  migrations: {},
  setup: () => ({
    consumers: [
      consumer<unknown, 'error.reported'>({
        subject: 'error.reported',
        batch: Number(process.env.BENCH_BATCH ?? 1),
        async handler(event, { emit }) {
          const d = event.data;
          emit('error.captured', {
            capture_id: event.id,
            fingerprint: `fp-${d.kind}`,
            service: d.service,
            environment: d.environment,
            kind: d.kind,
            message: d.message,
            severity: d.severity,
            first_seen: d.occurred_at,
            last_seen: d.occurred_at,
            count: 1,
            total_count: 1,
            update: false,
            storm: false,
            reported_event_id: event.id,
            security_flags: [],
          });
        },
      }),
    ],
  }),
};

async function run(rate: number) {
  const namespace = `bench_${randomBytes(3).toString('hex')}`;
  const env = {
    DATABASE_URL,
    NATS_URL,
    GRACE_NAMESPACE: namespace,
    DB_SCHEMA: namespace,
    HTTP_PORT: '0',
    LOG_LEVEL: 'warn',
    OUTBOX_POLL_MS: '100',
  };
  const service = spawn(
    process.execPath,
    [
      ...(process.env.BENCH_SERVICE_NODE_ARGS ?? '').split(' ').filter(Boolean),
      '--conditions=source',
      '--import',
      'tsx',
      fileURLToPath(import.meta.url),
    ],
    {
      env: { ...process.env, ...env, BENCH_ROLE: 'service' },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await new Promise<void>((resolve, reject) => {
    service.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    service.once('exit', (code) => reject(new Error(`bench service exited with ${code}`)));
  });
  const nc = await connect({ servers: NATS_URL });
  const js = jetstream(nc);
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  const sub = nc.subscribe(`${namespace}.error.captured`, {
    callback: (_err, msg) => {
      const id = (msg.json() as { data: { reported_event_id: string } }).data.reported_event_id;
      const t = sentAt.get(id);
      if (t !== undefined) latencies.push(performance.now() - t);
    },
  });
  const total = rate * seconds;
  const started = performance.now();
  const { offeredPerSecond } = await openLoop(rate, seconds, (i) => {
    const event = createEvent(
      'error.reported',
      {
        service: 'bench',
        environment: 'production',
        kind: `Kind${i % 50}`,
        message: `bench error ${i}`,
        severity: 'error',
        occurred_at: new Date().toISOString(),
      },
      { source: 'bench/producer' },
    );
    sentAt.set(event.id, performance.now());
    return js.publish(`${namespace}.error.reported`, JSON.stringify(event), { msgID: event.id });
  });

  const deadline = Date.now() + 60_000;
  while (latencies.length < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const deliveredSeconds = (performance.now() - started) / 1000;
  sub.unsubscribe();
  const rss = await new Promise<number>((resolve) => {
    service.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    service.kill('SIGUSR2');
  });
  service.kill('SIGTERM');
  await new Promise((r) => service.once('exit', r));
  const jsm = await jetstreamManager(nc);
  for (const s of streams) await jsm.streams.delete(`${namespace}_${s.name}`).catch(() => undefined);
  const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 1 });
  await pool.query(`drop schema if exists "${namespace}" cascade`);
  await pool.end();
  await nc.close();
  return {
    offered_per_s: offeredPerSecond,
    delivered_per_s: Math.round(latencies.length / deliveredSeconds),
    events: total,
    delivered: latencies.length,
    latency_ms: latencySummary(latencies),
    service_rss_mb: Math.round(rss / 1024 / 1024),
  };
}

if (process.env.BENCH_ROLE === 'service') {
  const service = await startService(echo);
  process.on('SIGUSR2', () => process.stdout.write(`${process.memoryUsage().rss}\n`));
  process.on('SIGTERM', () => void service.stop().then(() => process.exit(0)));
  process.stdout.write('ready\n');
} else {
  const results = [];
  for (const rate of rates.length ? rates : [250, 500, 1000]) results.push({ rate, ...(await run(rate)) });
  console.log(
    JSON.stringify(
      {
        seconds_per_rate: seconds,
        batch: Number(process.env.BENCH_BATCH ?? 1),
        service_process_rss: 'at the end of each rate',
        results,
      },
      null,
      2,
    ),
  );
}
