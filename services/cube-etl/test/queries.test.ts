// The four cube queries on a small hand-made star in real Postgres: exact replies, filters, buckets and refusals.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { validateReply, type QueryReply, type QuerySubject } from '@grace/contracts';
import { createDb, runMigrations } from '@grace/service-kit';
import { DATABASE_URL } from '@grace/service-kit/testing';
import { sql, type Kysely } from 'kysely';
import { randomBytes } from 'node:crypto';
import { rebuildRollups } from '../src/etl.js';
import { migrations } from '../src/migrations/index.js';
import { errorTrendsQuery, mttrQuery, rollbackDriftQuery, successRateQuery } from '../src/queries.js';
import type { Database } from '../src/store.js';
import { star } from './star.js';

// Day 0 is Monday 2026-03-09, so its week bucket starts on day 0 and day -7 is the same weekday a week earlier.
function at(day: number, time = '00:00'): string {
  const [hours, minutes] = time.split(':').map(Number);
  return new Date(Date.UTC(2026, 2, 9 + day, hours, minutes)).toISOString();
}

function valid<Q extends QuerySubject>(subject: Q, reply: QueryReply<Q>): QueryReply<Q> {
  const checked = validateReply(subject, reply);
  expect(checked.ok ? [] : checked.errors).toEqual([]);
  return reply;
}

const percentile90 = (low: number, high: number, count: number) =>
  // percentile_cont's interpolation, in the same double arithmetic as Postgres.
  low + (high - low) * (0.9 * (count - 1) - Math.floor(0.9 * (count - 1)));

describe('cube queries', () => {
  const schema = `t_cubeq${randomBytes(4).toString('hex')}`;
  let db: Kysely<Database>;

  // The range most tests read: day 0 from 10:00 to the end of day 1.
  const range = { from: at(0, '10:00'), to: at(2) };

  beforeAll(async () => {
    db = createDb<Database>({
      url: DATABASE_URL,
      schema,
      poolMax: 2,
      statementTimeoutMs: 10_000,
      applicationName: 'cube-queries-test',
    }).db;
    await runMigrations(db as Kysely<unknown>, schema, migrations);
    const s = star(db);

    // id, service, environment, playbook, adapter, tier, verdict, rolled back, result, minute
    const actions = [
      [
        'a01',
        'checkout',
        'production',
        'restart_service',
        'kubernetes',
        1,
        'verified',
        false,
        'succeeded',
        at(0, '10:05'),
      ],
      ['a02', 'checkout', 'production', 'restart_service', 'kubernetes', 1, 'failed', true, 'failed', at(0, '10:20')],
      ['a03', 'checkout', 'staging', 'restart_service', 'nats', 2, 'verified', false, 'succeeded', at(0, '10:40')],
      ['a04', 'payments', 'production', 'clear_cache', 'http', 2, 'drift', true, 'succeeded', at(0, '10:50')],
      // A verdict without an execution result still counts.
      ['a05', 'checkout', 'production', 'clear_cache', 'http', 2, 'verified', false, null, at(0, '11:10')],
      // A dry run and an action without a verdict (denied) are not executed.
      [
        'a06',
        'checkout',
        'production',
        'restart_service',
        'kubernetes',
        1,
        'verified',
        false,
        'dry_run',
        at(0, '10:30'),
      ],
      ['a07', 'checkout', 'production', 'restart_service', 'kubernetes', 1, 'none', false, null, at(0, '10:35')],
      ['a08', 'payments', 'production', 'scale_up', 'kubernetes', 3, 'drift', false, 'timed_out', at(0, '11:30')],
      ['a09', 'checkout', 'production', 'scale_up', 'kubernetes', 3, 'failed', false, 'timed_out', at(1, '09:00')],
      [
        'a10',
        'payments',
        'production',
        'restart_service',
        'kubernetes',
        1,
        'verified',
        false,
        'succeeded',
        at(1, '09:15'),
      ],
      // Just before the range, and at its (excluded) end.
      [
        'a11',
        'checkout',
        'production',
        'restart_service',
        'kubernetes',
        1,
        'verified',
        false,
        'succeeded',
        at(0, '09:59'),
      ],
      ['a12', 'checkout', 'production', 'restart_service', 'kubernetes', 1, 'failed', false, 'succeeded', at(2)],
      ['a13', 'payments', 'production', 'drain_node', 'kubernetes', 3, 'drift', false, 'succeeded', at(1, '10:00')],
      ['a14', 'checkout', 'production', 'add_replica', 'kubernetes', 3, 'failed', true, 'failed', at(1, '10:30')],
    ] as const;
    for (const [id, service, environment, playbook, adapter, tier, verdict, rolledBack, result, minute] of actions) {
      await s.action({
        id,
        service,
        environment,
        playbook,
        adapter,
        tier,
        verdict,
        rolledBack,
        denied: verdict === 'none',
        result,
        minute,
      });
    }

    // id, service, environment, status, closed, time to resolve
    const incidents = [
      ['i01', 'checkout', 'production', 'resolved', at(0, '10:00'), 60_000],
      ['i02', 'checkout', 'production', 'resolved', at(0, '11:00'), 120_000],
      ['i03', 'checkout', 'production', 'resolved', at(0, '11:30'), 180_000],
      ['i04', 'checkout', 'production', 'resolved', at(0, '23:59'), 600_000],
      ['i05', 'checkout', 'staging', 'resolved', at(0, '12:00'), 300_000],
      ['i06', 'payments', 'production', 'resolved', at(1, '03:00'), 60_000],
      ['i07', 'payments', 'production', 'resolved', at(1, '04:00'), 120_000],
      // Not resolved; resolved outside the range; resolved without a time to resolve.
      ['i08', 'checkout', 'production', 'escalated', at(0, '12:00'), 999_999],
      ['i09', 'checkout', 'production', 'open', null, null],
      ['i10', 'checkout', 'production', 'resolved', at(0, '09:59'), 1],
      ['i11', 'payments', 'production', 'resolved', at(2), 1],
      ['i12', 'checkout', 'production', 'resolved', at(0, '13:00'), null],
    ] as const;
    for (const [id, service, environment, status, closed, timeToResolveMs] of incidents) {
      // i05 ended by its source (every alert of its group resolved), the others by a verified contract.
      const resolvedBy = id === 'i05' ? ('source' as const) : undefined;
      await s.incident({ id, service, environment, opened: at(-1), closed, status, timeToResolveMs, resolvedBy });
    }

    await s.signature('fp-a', 'ConnectionRefused', 'database');
    await s.signature('fp-b', 'OutOfMemory', null);
    await s.signature('fp-c', 'Timeout', 'network');
    await s.signature('fp-d', 'ConnectionRefused', 'database');
    // fingerprint, service, environment, hour, occurrences
    const errors = [
      ['fp-a', 'checkout', 'production', at(0, '10:00'), 5],
      ['fp-a', 'payments', 'production', at(0, '10:00'), 3],
      ['fp-a', 'checkout', 'production', at(1, '08:00'), 4],
      ['fp-a', 'checkout', 'production', at(2), 50],
      ['fp-b', 'checkout', 'production', at(0, '11:00'), 6],
      ['fp-b', 'checkout', 'staging', at(0, '12:00'), 2],
      ['fp-c', 'payments', 'production', at(1, '09:00'), 8],
      ['fp-d', 'checkout', 'production', at(0, '13:00'), 1],
      ['fp-d', 'checkout', 'production', at(1, '05:00'), 0],
      // The week before.
      ['fp-a', 'checkout', 'production', at(-7, '10:00'), 10],
      ['fp-a', 'payments', 'production', at(-7, '23:00'), 2],
      ['fp-a', 'checkout', 'production', at(-6, '08:00'), 2],
      ['fp-b', 'checkout', 'staging', at(-7, '11:00'), 4],
      // Sunday two weeks before: in no previous window of days 0 and 1, nor of their week.
      ['fp-a', 'checkout', 'production', at(-8, '23:00'), 100],
    ] as const;
    for (const [fingerprint, service, environment, hour, occurrences] of errors) {
      await s.errors({ fingerprint, service, environment, hour, occurrences });
    }

    // Far from the rest: two executed actions a minute for 2501 minutes of 2027, set-based.
    const outcome = await s.outcome('verified', false, false);
    const service = await s.service('bulk', 'load');
    const playbooks = [await s.playbook('bulk_one', 'nats', 1), await s.playbook('bulk_two', 'nats', 1)];
    await sql`insert into dim_time (minute, hour, day, week)
      select m, date_trunc('hour', m, 'UTC'), date_trunc('day', m, 'UTC'), date_trunc('week', m, 'UTC')
      from generate_series(timestamptz '2027-01-01T00:00Z', timestamptz '2027-01-01T00:00Z' + interval '2500 minutes',
        interval '1 minute') as m`.execute(db);
    await sql`insert into fact_actions (action_id, service_key, playbook_key, outcome_key, minute, execution_result,
        approvals_needed, approvals_received)
      select 'bulk-' || p || '-' || minute, ${service}, p, ${outcome}, minute, 'succeeded', 0, 0
      from dim_time, unnest(${playbooks}::int[]) as p where minute >= '2027-01-01T00:00Z'`.execute(db);
    // The facts were written directly, not by the ETL: the rollups are computed from them as the ETL would.
    await rebuildRollups(db);
  });

  afterAll(async () => {
    if (!db) return;
    await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(db);
    await db.destroy();
  });

  describe('success_rate', () => {
    const ask = async (req: Parameters<ReturnType<typeof successRateQuery>>[0]) =>
      valid('cube.query.success_rate', await successRateQuery(db)(req));

    it('groups by playbook by default, per hour, leaving out dry runs, verdict none and actions out of range', async () => {
      expect((await ask({ ...range, bucket: 'hour' })).rows).toEqual([
        { bucket_start: at(0, '10:00'), group: 'clear_cache', executed: 1, verified: 0, success_rate: 0 },
        { bucket_start: at(0, '10:00'), group: 'restart_service', executed: 3, verified: 2, success_rate: 2 / 3 },
        { bucket_start: at(0, '11:00'), group: 'clear_cache', executed: 1, verified: 1, success_rate: 1 },
        { bucket_start: at(0, '11:00'), group: 'scale_up', executed: 1, verified: 0, success_rate: 0 },
        { bucket_start: at(1, '09:00'), group: 'restart_service', executed: 1, verified: 1, success_rate: 1 },
        { bucket_start: at(1, '09:00'), group: 'scale_up', executed: 1, verified: 0, success_rate: 0 },
        { bucket_start: at(1, '10:00'), group: 'add_replica', executed: 1, verified: 0, success_rate: 0 },
        { bucket_start: at(1, '10:00'), group: 'drain_node', executed: 1, verified: 0, success_rate: 0 },
      ]);
    });

    it('groups by service (environments together) and by tier, per day', async () => {
      expect((await ask({ ...range, bucket: 'day', group_by: 'service' })).rows).toEqual([
        { bucket_start: at(0), group: 'checkout', executed: 4, verified: 3, success_rate: 0.75 },
        { bucket_start: at(0), group: 'payments', executed: 2, verified: 0, success_rate: 0 },
        { bucket_start: at(1), group: 'checkout', executed: 2, verified: 0, success_rate: 0 },
        { bucket_start: at(1), group: 'payments', executed: 2, verified: 1, success_rate: 0.5 },
      ]);
      expect((await ask({ ...range, bucket: 'day', group_by: 'tier' })).rows).toEqual([
        { bucket_start: at(0), group: '1', executed: 2, verified: 1, success_rate: 0.5 },
        { bucket_start: at(0), group: '2', executed: 3, verified: 2, success_rate: 2 / 3 },
        { bucket_start: at(0), group: '3', executed: 1, verified: 0, success_rate: 0 },
        { bucket_start: at(1), group: '1', executed: 1, verified: 1, success_rate: 1 },
        { bucket_start: at(1), group: '3', executed: 3, verified: 0, success_rate: 0 },
      ]);
    });

    it('filters by environment, adapter, service, tier and playbook', async () => {
      expect((await ask({ ...range, bucket: 'day', environment: 'production', adapter: 'kubernetes' })).rows).toEqual([
        { bucket_start: at(0), group: 'restart_service', executed: 2, verified: 1, success_rate: 0.5 },
        { bucket_start: at(0), group: 'scale_up', executed: 1, verified: 0, success_rate: 0 },
        { bucket_start: at(1), group: 'add_replica', executed: 1, verified: 0, success_rate: 0 },
        { bucket_start: at(1), group: 'drain_node', executed: 1, verified: 0, success_rate: 0 },
        { bucket_start: at(1), group: 'restart_service', executed: 1, verified: 1, success_rate: 1 },
        { bucket_start: at(1), group: 'scale_up', executed: 1, verified: 0, success_rate: 0 },
      ]);
      expect((await ask({ ...range, bucket: 'day', service: 'checkout', tier: 2 })).rows).toEqual([
        { bucket_start: at(0), group: 'clear_cache', executed: 1, verified: 1, success_rate: 1 },
        { bucket_start: at(0), group: 'restart_service', executed: 1, verified: 1, success_rate: 1 },
      ]);
      // A wider range takes in a11 (day 0, 09:59) and a12 (day 2, 00:00).
      expect((await ask({ from: at(0), to: at(3), bucket: 'day', playbook: 'restart_service' })).rows).toEqual([
        { bucket_start: at(0), group: 'restart_service', executed: 4, verified: 3, success_rate: 0.75 },
        { bucket_start: at(1), group: 'restart_service', executed: 1, verified: 1, success_rate: 1 },
        { bucket_start: at(2), group: 'restart_service', executed: 1, verified: 0, success_rate: 0 },
      ]);
      expect((await ask({ ...range, bucket: 'week', service: 'nobody' })).rows).toEqual([]);
    });

    it('answers 5000 buckets and refuses more buckets, or more rows, than 5000', async () => {
      const bulk = { from: '2027-01-01T00:00:00.000Z', to: '2027-01-02T17:41:00.000Z', bucket: 'minute' as const };
      await expect(ask({ ...bulk, service: 'bulk' })).rejects.toMatchObject({
        code: 'invalid_request',
        message: expect.stringContaining('more than 5000 rows'),
      });
      const one = await ask({ ...bulk, service: 'bulk', playbook: 'bulk_one' });
      expect(one.rows).toHaveLength(2501);
      expect(one.rows[2500]).toEqual({
        bucket_start: '2027-01-02T17:40:00.000Z',
        group: 'bulk_one',
        executed: 1,
        verified: 1,
        success_rate: 1,
      });
      await expect(ask({ from: at(0), to: at(0), bucket: 'hour' })).rejects.toMatchObject({ code: 'invalid_request' });
      await expect(ask({ from: at(1), to: at(0), bucket: 'day' })).rejects.toMatchObject({ code: 'invalid_request' });
      const minutes = (n: number) => new Date(Date.parse(at(0)) + n * 60_000).toISOString();
      expect((await ask({ from: at(0), to: minutes(5000), bucket: 'minute', playbook: 'scale_up' })).rows).toHaveLength(
        2,
      );
      await expect(ask({ from: at(0), to: minutes(5001), bucket: 'minute' })).rejects.toMatchObject({
        code: 'invalid_request',
        message: expect.stringContaining('5001 minute buckets'),
      });
      await expect(ask({ from: at(0), to: at(5000 * 7 + 1), bucket: 'week' })).rejects.toMatchObject({
        code: 'invalid_request',
      });
    });
  });

  describe('mttr', () => {
    const ask = async (req: Parameters<ReturnType<typeof mttrQuery>>[0]) =>
      valid('cube.query.mttr', await mttrQuery(db)(req));

    it('gives count, mean and interpolated p50/p90 of resolved incidents per day, service and environment', async () => {
      expect((await ask({ ...range, bucket: 'day' })).rows).toEqual([
        {
          bucket_start: at(0),
          service: 'checkout',
          environment: 'production',
          resolved: 4,
          mean_ms: 240_000,
          p50_ms: 150_000,
          p90_ms: percentile90(180_000, 600_000, 4),
        },
        {
          bucket_start: at(0),
          service: 'checkout',
          environment: 'staging',
          resolved: 1,
          mean_ms: 300_000,
          p50_ms: 300_000,
          p90_ms: 300_000,
        },
        {
          bucket_start: at(1),
          service: 'payments',
          environment: 'production',
          resolved: 2,
          mean_ms: 90_000,
          p50_ms: 90_000,
          p90_ms: percentile90(60_000, 120_000, 2),
        },
      ]);
      expect(percentile90(180_000, 600_000, 4)).toBeCloseTo(474_000, 6);
      expect(percentile90(60_000, 120_000, 2)).toBeCloseTo(114_000, 6);
    });

    it('buckets by the hour it closed and filters by service and environment', async () => {
      const row = (hour: string, resolved: number, mean: number, p50: number, p90: number) => ({
        bucket_start: at(0, hour),
        service: 'checkout',
        environment: 'production',
        resolved,
        mean_ms: mean,
        p50_ms: p50,
        p90_ms: p90,
      });
      expect((await ask({ ...range, bucket: 'hour', service: 'checkout', environment: 'production' })).rows).toEqual([
        row('10:00', 1, 60_000, 60_000, 60_000),
        row('11:00', 2, 150_000, 150_000, percentile90(120_000, 180_000, 2)),
        row('23:00', 1, 600_000, 600_000, 600_000),
      ]);
      expect((await ask({ ...range, bucket: 'week', environment: 'qa' })).rows).toEqual([]);
    });

    it('filters by who resolved: a verified contract or the source', async () => {
      const bySource = (await ask({ ...range, bucket: 'day', resolved_by: 'source' })).rows;
      expect(bySource).toEqual([expect.objectContaining({ service: 'checkout', environment: 'staging', resolved: 1 })]);
      const byContract = (await ask({ ...range, bucket: 'day', resolved_by: 'contract' })).rows;
      expect(byContract.map((r) => [r.service, r.environment, r.resolved])).toEqual([
        ['checkout', 'production', 4],
        ['payments', 'production', 2],
      ]);
    });

    it('refuses an empty range', async () => {
      await expect(ask({ from: at(1), to: at(1), bucket: 'day' })).rejects.toMatchObject({ code: 'invalid_request' });
    });
  });

  describe('error_trends', () => {
    const ask = async (req: Parameters<ReturnType<typeof errorTrendsQuery>>[0]) =>
      valid('cube.query.error_trends', await errorTrendsQuery(db)(req));
    const a = { fingerprint: 'fp-a', kind: 'ConnectionRefused', category: 'database' };
    const b = { fingerprint: 'fp-b', kind: 'OutOfMemory' };
    const c = { fingerprint: 'fp-c', kind: 'Timeout', category: 'network' };
    const d = { fingerprint: 'fp-d', kind: 'ConnectionRefused', category: 'database' };

    it('gives the top fingerprints per day against the same day a week before', async () => {
      expect((await ask({ from: at(0), to: at(2), bucket: 'day' })).rows).toEqual([
        { bucket_start: at(0), ...a, occurrences: 8, previous_week_occurrences: 12, week_over_week_change: -4 / 12 },
        { bucket_start: at(0), ...b, occurrences: 8, previous_week_occurrences: 4, week_over_week_change: 1 },
        { bucket_start: at(0), ...d, occurrences: 1, previous_week_occurrences: 0 },
        { bucket_start: at(1), ...a, occurrences: 4, previous_week_occurrences: 2, week_over_week_change: 1 },
        { bucket_start: at(1), ...c, occurrences: 8, previous_week_occurrences: 0 },
      ]);
    });

    it('ranks by occurrences in the range, ties by fingerprint, and filters by kind and category', async () => {
      // fp-a 12, then fp-b and fp-c 8 each: fp-b.
      expect((await ask({ from: at(0), to: at(2), bucket: 'day', top: 2 })).rows).toEqual([
        { bucket_start: at(0), ...a, occurrences: 8, previous_week_occurrences: 12, week_over_week_change: -4 / 12 },
        { bucket_start: at(0), ...b, occurrences: 8, previous_week_occurrences: 4, week_over_week_change: 1 },
        { bucket_start: at(1), ...a, occurrences: 4, previous_week_occurrences: 2, week_over_week_change: 1 },
      ]);
      const filtered = await ask({
        from: at(0),
        to: at(2),
        bucket: 'day',
        kind: 'ConnectionRefused',
        category: 'database',
      });
      expect(filtered.rows.map((r) => [r.bucket_start, r.fingerprint, r.occurrences])).toEqual([
        [at(0), 'fp-a', 8],
        [at(0), 'fp-d', 1],
        [at(1), 'fp-a', 4],
      ]);
      expect((await ask({ from: at(0), to: at(2), bucket: 'day', kind: 'Nothing' })).rows).toEqual([]);
    });

    it('per hour, sums only the services that pass the filter, in this week and the week before', async () => {
      expect(
        (await ask({ from: at(0, '10:00'), to: at(0, '12:00'), bucket: 'hour', environment: 'production', top: 2 }))
          .rows,
      ).toEqual([
        {
          bucket_start: at(0, '10:00'),
          ...a,
          occurrences: 8,
          previous_week_occurrences: 10,
          week_over_week_change: -0.2,
        },
        { bucket_start: at(0, '11:00'), ...b, occurrences: 6, previous_week_occurrences: 0 },
      ]);
      expect(
        (await ask({ from: at(0, '10:00'), to: at(0, '11:00'), bucket: 'hour', service: 'payments' })).rows,
      ).toEqual([{ bucket_start: at(0, '10:00'), ...a, occurrences: 3, previous_week_occurrences: 0 }]);
    });

    it('per week compares with the whole week before, even when the range starts mid-week', async () => {
      expect((await ask({ from: at(0), to: at(2), bucket: 'week' })).rows).toEqual([
        { bucket_start: at(0), ...a, occurrences: 12, previous_week_occurrences: 14, week_over_week_change: -2 / 14 },
        { bucket_start: at(0), ...b, occurrences: 8, previous_week_occurrences: 4, week_over_week_change: 1 },
        { bucket_start: at(0), ...c, occurrences: 8, previous_week_occurrences: 0 },
        { bucket_start: at(0), ...d, occurrences: 1, previous_week_occurrences: 0 },
      ]);
      expect((await ask({ from: at(1), to: at(2), bucket: 'week' })).rows).toEqual([
        { bucket_start: at(0), ...a, occurrences: 4, previous_week_occurrences: 14, week_over_week_change: -10 / 14 },
        { bucket_start: at(0), ...c, occurrences: 8, previous_week_occurrences: 0 },
      ]);
    });

    it('refuses the minute bucket, an empty range and too many buckets', async () => {
      await expect(ask({ from: at(0), to: at(1), bucket: 'minute' })).rejects.toMatchObject({
        code: 'invalid_request',
        message: expect.stringContaining('per hour'),
      });
      await expect(ask({ from: at(1), to: at(0), bucket: 'hour' })).rejects.toMatchObject({ code: 'invalid_request' });
      await expect(ask({ from: at(0), to: at(5001), bucket: 'day' })).rejects.toMatchObject({
        code: 'invalid_request',
      });
    });
  });

  describe('rollback_drift', () => {
    const ask = async (req: Parameters<ReturnType<typeof rollbackDriftQuery>>[0]) =>
      valid('cube.query.rollback_drift', await rollbackDriftQuery(db)(req));
    const counts = (executed: number, rolledBack: number, drifted: number) => ({
      executed,
      rolled_back: rolledBack,
      drifted,
      rollback_rate: rolledBack / executed,
      drift_rate: drifted / executed,
    });

    it('counts per day, tier and adapter, and ranks the worst playbooks over the range', async () => {
      expect(await ask({ ...range, bucket: 'day' })).toEqual({
        rows: [
          { bucket_start: at(0), tier: 1, adapter: 'kubernetes', ...counts(2, 1, 0) },
          { bucket_start: at(0), tier: 2, adapter: 'http', ...counts(2, 1, 1) },
          { bucket_start: at(0), tier: 2, adapter: 'nats', ...counts(1, 0, 0) },
          { bucket_start: at(0), tier: 3, adapter: 'kubernetes', ...counts(1, 0, 1) },
          { bucket_start: at(1), tier: 1, adapter: 'kubernetes', ...counts(1, 0, 0) },
          { bucket_start: at(1), tier: 3, adapter: 'kubernetes', ...counts(3, 1, 1) },
        ],
        // (rolled back + drifted) / executed: 1 (2 executed), 1, 1 (by playbook), 1/2, 1/3; restart_service on
        // nats (0) is sixth.
        worst_playbooks: [
          { playbook: 'clear_cache', adapter: 'http', tier: 2, ...counts(2, 1, 1) },
          { playbook: 'add_replica', adapter: 'kubernetes', tier: 3, ...counts(1, 1, 0) },
          { playbook: 'drain_node', adapter: 'kubernetes', tier: 3, ...counts(1, 0, 1) },
          { playbook: 'scale_up', adapter: 'kubernetes', tier: 3, ...counts(2, 0, 1) },
          { playbook: 'restart_service', adapter: 'kubernetes', tier: 1, ...counts(3, 1, 0) },
        ],
      });
    });

    it('filters by tier, adapter and environment, and limits the worst playbooks', async () => {
      expect(await ask({ ...range, bucket: 'day', tier: 3, adapter: 'kubernetes', worst: 2 })).toEqual({
        rows: [
          { bucket_start: at(0), tier: 3, adapter: 'kubernetes', ...counts(1, 0, 1) },
          { bucket_start: at(1), tier: 3, adapter: 'kubernetes', ...counts(3, 1, 1) },
        ],
        worst_playbooks: [
          { playbook: 'add_replica', adapter: 'kubernetes', tier: 3, ...counts(1, 1, 0) },
          { playbook: 'drain_node', adapter: 'kubernetes', tier: 3, ...counts(1, 0, 1) },
        ],
      });
      expect(await ask({ ...range, bucket: 'hour', environment: 'staging' })).toEqual({
        rows: [{ bucket_start: at(0, '10:00'), tier: 2, adapter: 'nats', ...counts(1, 0, 0) }],
        worst_playbooks: [{ playbook: 'restart_service', adapter: 'nats', tier: 2, ...counts(1, 0, 0) }],
      });
      expect(await ask({ ...range, bucket: 'day', service: 'nobody' })).toEqual({ rows: [], worst_playbooks: [] });
    });

    it('refuses an empty range and too many buckets', async () => {
      await expect(ask({ from: at(0), to: at(0), bucket: 'day' })).rejects.toMatchObject({ code: 'invalid_request' });
      await expect(ask({ from: at(0), to: at(209), bucket: 'hour' })).rejects.toMatchObject({
        code: 'invalid_request',
      });
    });
  });

  describe('daily rollups', () => {
    // Whole UTC days by day or week without a service filter: read from the rollups by default.
    const wholeDays = [
      { from: at(0), to: at(2), bucket: 'day' as const },
      { from: at(-7), to: at(3), bucket: 'day' as const },
      { from: at(0), to: at(3), bucket: 'week' as const },
      { from: at(1), to: at(2), bucket: 'week' as const },
      { from: at(-14), to: at(7), bucket: 'week' as const },
      { from: '2027-01-01T00:00:00.000Z', to: '2027-01-03T00:00:00.000Z', bucket: 'day' as const },
    ];
    const factsOnly = { rollups: false };

    it('give success rates identical to the facts', async () => {
      for (const req of wholeDays) {
        for (const extra of [{}, { group_by: 'tier' as const }, { playbook: 'restart_service' }, { tier: 3 }]) {
          const reply = await successRateQuery(db)({ ...req, ...extra });
          expect(reply).toEqual(await successRateQuery(db, factsOnly)({ ...req, ...extra }));
        }
      }
      expect((await successRateQuery(db)(wholeDays[5]!)).rows[0]).toEqual({
        bucket_start: '2027-01-01T00:00:00.000Z',
        group: 'bulk_one',
        executed: 1440,
        verified: 1440,
        success_rate: 1,
      });
    });

    it('give rollback and drift figures identical to the facts', async () => {
      for (const req of wholeDays) {
        for (const extra of [{}, { adapter: 'kubernetes' as const }, { tier: 2, worst: 1 }]) {
          const reply = await rollbackDriftQuery(db)({ ...req, ...extra });
          expect(reply).toEqual(await rollbackDriftQuery(db, factsOnly)({ ...req, ...extra }));
        }
      }
    });

    it('give error trends identical to the facts, the week before included', async () => {
      for (const req of wholeDays) {
        for (const extra of [{}, { top: 1 }, { kind: 'ConnectionRefused', category: 'database' }]) {
          const reply = await errorTrendsQuery(db)({ ...req, ...extra });
          expect(reply).toEqual(await errorTrendsQuery(db, factsOnly)({ ...req, ...extra }));
        }
      }
    });
  });
});
