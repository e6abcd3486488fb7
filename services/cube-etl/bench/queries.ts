// Benchmark (not a test): latency of the four cube queries on a generated cube of 1,000,000 rows per fact table.
// Generates, set-based in its own schema, 90 days of minutes ending at today's UTC midnight: 40 services x 2
// environments, 30 playbooks x 3 adapters x 3 tiers, 2000 fingerprints; facts are written in time order, as the
// ETL appends them, and the daily rollups are computed from them with the ETL's own statements. Then VACUUM
// ANALYZE, and each query over four ranges (2 warm-up runs, then 20 timed); the ranges of whole days are timed
// again reading the facts (rollups off), for comparison. Prints JSON.
// Usage: pnpm --filter @grace/cube-etl bench   (env BENCH_RUNS, default 20; BENCH_KEEP_SCHEMA=1 keeps the schema)
import { createDb, runMigrations } from '@grace/service-kit';
import { DATABASE_URL, latencySummary } from '@grace/service-kit/testing';
import { sql, type Kysely } from 'kysely';
import { randomBytes } from 'node:crypto';
import { rebuildRollups } from '../src/etl.js';
import { migrations } from '../src/migrations/index.js';
import { errorTrendsQuery, mttrQuery, rollbackDriftQuery, successRateQuery } from '../src/queries.js';
import type { Database } from '../src/store.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const WARM_UP = 2;
const FACT_ROWS = 1_000_000;
const DAYS = 90;
const DAY_MS = 86_400_000;

const id = randomBytes(3).toString('hex');
const schema = `bench_cube_${id}`;
const applicationName = `cube-bench-${id}`;
const { db } = createDb<Database>({
  url: DATABASE_URL,
  schema,
  poolMax: 2,
  statementTimeoutMs: 600_000,
  applicationName,
});
// A second connection to cancel the first's statements and drop the schema, also while a statement runs.
const admin = createDb<unknown>({
  url: DATABASE_URL,
  schema: 'public',
  poolMax: 1,
  statementTimeoutMs: 60_000,
  applicationName: `${applicationName}-admin`,
}).db;

let dropped: Promise<void> | undefined;
function dropSchema(): Promise<void> {
  dropped ??= (async () => {
    if (process.env.BENCH_KEEP_SCHEMA) {
      console.error(`schema ${schema} kept`);
    } else {
      await sql`select pg_cancel_backend(pid) from pg_stat_activity
        where application_name = ${applicationName} and pid <> pg_backend_pid()`.execute(admin);
      await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(admin);
    }
    await db.destroy().catch(() => undefined);
    await admin.destroy();
  })();
  return dropped;
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`${signal}: dropping ${schema}`);
    void dropSchema().finally(() => process.exit(130));
  });
}

const end = new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS);
const start = new Date(end.getTime() - DAYS * DAY_MS);
const daysBefore = (days: number) => new Date(end.getTime() - days * DAY_MS).toISOString();

async function generate(): Promise<void> {
  await sql`insert into dim_time (minute, hour, day, week)
    select m, date_trunc('hour', m, 'UTC'), date_trunc('day', m, 'UTC'), date_trunc('week', m, 'UTC')
    from generate_series(${start}::timestamptz, ${end}::timestamptz - interval '1 minute', interval '1 minute') m
  `.execute(db);
  await sql`insert into dim_service (service, environment)
    select 'svc-' || s, e from generate_series(1, 40) s, unnest(array['production', 'staging']) e
  `.execute(db);
  await sql`insert into dim_playbook (playbook, adapter, tier)
    select 'playbook_' || p, a, t
    from generate_series(1, 30) p, unnest(array['nats', 'http', 'kubernetes']) a, generate_series(1, 3) t
  `.execute(db);
  await sql`insert into dim_signature (fingerprint, kind, category)
    select 'fp-' || lpad(i::text, 4, '0'),
      (array['ConnectionRefused', 'OutOfMemory', 'Timeout', 'NullPointer', 'DiskFull'])[1 + i % 5],
      case when i % 7 = 0 then null else (array['database', 'network', 'memory', 'storage'])[1 + i % 4] end
    from generate_series(1, 2000) i
  `.execute(db);
  await sql`insert into dim_outcome (verdict, rolled_back, denied, expired)
    select v, r, d, x from unnest(array['verified', 'failed', 'drift', 'none']) v,
      unnest(array[false, true]) r, unnest(array[false, true]) d, unnest(array[false, true]) x
  `.execute(db);

  // Actions: 5% denied and 3% expired (verdict none); of the rest 76% verified, 13% failed, 11% drift; 5% of the
  // verdicts are dry runs; most failed and drifted actions are rolled back. Busy playbooks are busier (squared draw).
  await sql`insert into fact_actions (action_id, service_key, playbook_key, outcome_key, minute, requested_at,
      executed_at, execution_result, confidence, execution_ms, total_ms, approvals_needed, approvals_received)
    select 'act-' || a.i, a.service_key, a.playbook_key, o.outcome_key, a.minute, a.minute,
      case when a.result is null then null else a.minute end, a.result, a.r2, 100 + floor(a.r2 * 5000)::int,
      1000 + floor(a.r2 * 60000)::int, 0, 0
    from (
      select d.i, d.r2,
        1 + floor(random() * 80)::int as service_key,
        1 + floor(power(random(), 2) * 270)::int as playbook_key,
        ${start}::timestamptz + floor(random() * ${DAYS * 1440})::int * interval '1 minute' as minute,
        case when d.r < 0.08 then 'none' when d.r < 0.78 then 'verified' when d.r < 0.90 then 'failed' else 'drift' end
          as verdict,
        d.r < 0.05 as denied,
        d.r >= 0.05 and d.r < 0.08 as expired,
        (d.r >= 0.08 and d.r < 0.78 and d.r2 < 0.01) or (d.r >= 0.78 and d.r < 0.90 and d.r2 < 0.6)
          or (d.r >= 0.90 and d.r2 < 0.7) as rolled_back,
        case when d.r < 0.08 then null when d.r2 > 0.95 then 'dry_run'
          when d.r >= 0.78 and d.r < 0.90 then (case when d.r2 < 0.3 then 'timed_out' else 'failed' end)
          else 'succeeded' end as result
      from (select i, random() as r, random() as r2 from generate_series(1, ${FACT_ROWS}) i) d
    ) a
    join dim_outcome o on (o.verdict, o.rolled_back, o.denied, o.expired) = (a.verdict, a.rolled_back, a.denied, a.expired)
    order by a.minute
  `.execute(db);

  // Incidents: 85% resolved, 10% escalated, 5% open; closed 1 minute to ~6.7 hours after opening (log-uniform).
  await sql`insert into fact_incidents (incident_id, service_key, signature_key, opened_minute, closed_minute, status,
      opened_at, closed_at, time_to_triage_ms, time_to_resolve_ms, attempts, escalated)
    select 'inc-' || c.i, c.service_key, c.signature_key, c.opened, c.closed, c.status, c.opened, c.closed,
      case when c.closed is null then null else 1000 + floor(c.r2 * 60000)::int end,
      case when c.status = 'resolved' then c.minutes * 60000 + floor(c.r2 * 60000)::int end,
      1 + floor(c.r2 * 3)::int, c.status = 'escalated'
    from (
      select b.*,
        case when b.opened + b.minutes * interval '1 minute' >= ${end}::timestamptz then 'open'
          when b.r < 0.85 then 'resolved' when b.r < 0.95 then 'escalated' else 'open' end as status,
        case when b.r >= 0.95 or b.opened + b.minutes * interval '1 minute' >= ${end}::timestamptz then null
          else b.opened + b.minutes * interval '1 minute' end as closed
      from (
        select i, random() as r, random() as r2,
          1 + floor(random() * 80)::int as service_key,
          1 + floor(power(random(), 2) * 2000)::int as signature_key,
          ${start}::timestamptz + floor(random() * ${DAYS * 1440})::int * interval '1 minute' as opened,
          1 + floor(exp(random() * 6))::int as minutes
        from generate_series(1, ${FACT_ROWS}) i
      ) b
    ) c
    order by c.closed nulls last
  `.execute(db);

  // Errors: 463 (fingerprint, service) pairs per hour over 2160 hours, each fingerprint once per hour (j * 4 + h % 4
  // is distinct per hour, the offset h * 37 a bijection mod 2000); the first 20 fingerprints are hot.
  await sql`insert into fact_errors (signature_key, service_key, hour, occurrences, storm)
    select e.signature_key, 1 + (e.j * 7 + e.h) % 80, ${start}::timestamptz + e.h * interval '1 hour',
      1 + floor(power(random(), 3) * 200)::int + case when e.signature_key <= 20 then floor(random() * 500)::int else 0 end,
      random() < 0.001
    from (
      select i % ${DAYS * 24} as h, i / ${DAYS * 24} as j, 1 + ((i / ${DAYS * 24}) * 4 + (i % ${DAYS * 24}) % 4 + (i % ${DAYS * 24}) * 37) % 2000 as signature_key
      from generate_series(0, ${FACT_ROWS - 1}) i
    ) e
    order by e.h
  `.execute(db);
  await rebuildRollups(db);
  // VACUUM as well as ANALYZE: otherwise autovacuum's first pass over the fresh tables (and the first readers'
  // setting of hint bits) would compete with the timed runs; a long-lived cube is in that vacuumed state.
  await sql`vacuum (analyze) dim_time, dim_service, dim_playbook, dim_signature, dim_outcome, fact_actions,
    fact_incidents, fact_errors, agg_actions_daily, agg_errors_daily`.execute(db);
}

async function tableSizes() {
  const tables = ['dim_time', 'dim_service', 'dim_playbook', 'dim_signature', 'dim_outcome'].concat(
    'fact_actions',
    'fact_errors',
    'fact_incidents',
    'agg_actions_daily',
    'agg_errors_daily',
  );
  const sizes: Record<string, { rows: number; total: string; bytes: number }> = {};
  for (const table of tables) {
    const { rows } = await sql<{ rows: string; bytes: string; total: string }>`
      select (select count(*) from ${sql.table(table)}) as rows,
        pg_total_relation_size(${`${schema}.${table}`}::regclass) as bytes,
        pg_size_pretty(pg_total_relation_size(${`${schema}.${table}`}::regclass)) as total`.execute(db);
    const row = rows[0]!;
    sizes[table] = { rows: Number(row.rows), total: row.total, bytes: Number(row.bytes) };
  }
  return sizes;
}

const ranges = [
  { name: 'last_24h_by_hour', from: daysBefore(1), bucket: 'hour' },
  { name: 'last_7d_by_day', from: daysBefore(7), bucket: 'day' },
  { name: 'last_30d_by_day', from: daysBefore(30), bucket: 'day' },
  { name: 'all_90d_by_week', from: daysBefore(90), bucket: 'week' },
] as const;

type Query = (range: (typeof ranges)[number]) => Promise<{ rows: unknown[] }>;
const request = (r: (typeof ranges)[number]) => ({ from: r.from, to: end.toISOString(), bucket: r.bucket });
const queries: Record<string, Query> = {
  success_rate: (r) => successRateQuery(db)(request(r)),
  mttr: (r) => mttrQuery(db)(request(r)),
  error_trends: (r) => errorTrendsQuery(db)(request(r)),
  rollback_drift: (r) => rollbackDriftQuery(db)(request(r)),
};
// The same requests forced onto the facts, for the ranges the rollups answer (whole days by day or week).
const factsOnly = { rollups: false };
const queriesFromFacts: Record<string, Query> = {
  success_rate: (r) => successRateQuery(db, factsOnly)(request(r)),
  error_trends: (r) => errorTrendsQuery(db, factsOnly)(request(r)),
  rollback_drift: (r) => rollbackDriftQuery(db, factsOnly)(request(r)),
};

async function time(run: () => Promise<{ rows: unknown[] }>) {
  let rows = 0;
  for (let i = 0; i < WARM_UP; i++) rows = (await run()).rows.length;
  const ms: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    await run();
    ms.push(performance.now() - started);
  }
  const { p50, p95, max } = latencySummary(ms);
  return { p50_ms: p50, p95_ms: p95, max_ms: max, rows };
}

try {
  await runMigrations(db as Kysely<unknown>, schema, migrations);
  const generationStarted = performance.now();
  await generate();
  const generationSeconds = +((performance.now() - generationStarted) / 1000).toFixed(1);
  const timeEach = async (list: Record<string, Query>, rangesOf: readonly (typeof ranges)[number][]) => {
    const results: Record<string, Record<string, Awaited<ReturnType<typeof time>>>> = {};
    for (const [name, query] of Object.entries(list)) {
      const byRange: (typeof results)[string] = {};
      for (const range of rangesOf) byRange[range.name] = await time(() => query(range));
      results[name] = byRange;
    }
    return results;
  };
  const results = await timeEach(queries, ranges);
  const resultsFromFacts = await timeEach(
    queriesFromFacts,
    ranges.filter((r) => r.bucket !== 'hour'),
  );
  console.log(
    JSON.stringify(
      {
        schema,
        span: { from: start.toISOString(), to: end.toISOString() },
        runs: { warm_up: WARM_UP, timed: RUNS },
        generation_seconds: generationSeconds,
        tables: await tableSizes(),
        queries: results,
        queries_from_facts: resultsFromFacts,
      },
      null,
      2,
    ),
  );
} finally {
  await dropSchema();
}
