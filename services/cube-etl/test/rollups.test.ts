// The daily rollups: the ETL keeps them exact as late events move actions and errors between days or change
// verdicts, a replay rebuilds them the same, and the queries read them only when they can answer exactly.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createEvent, type GraceEvent } from '@grace/contracts';
import { createDb, runMigrations } from '@grace/service-kit';
import { DATABASE_URL } from '@grace/service-kit/testing';
import { sql, type Kysely } from 'kysely';
import { randomBytes, randomUUID } from 'node:crypto';
import { rebuildRollups, resetCube, runEtl } from '../src/etl.js';
import { migrations } from '../src/migrations/index.js';
import { errorTrendsQuery, rollbackDriftQuery, successRateQuery } from '../src/queries.js';
import { stageEvents, type Database } from '../src/store.js';
import { actionEvents, at, capture, type ActionScript } from './history.js';
import { star } from './star.js';

const D1 = '2026-11-20';
const D2 = '2026-11-21';
const midnight = (day: string) => `${day}T00:00:00.000Z`;
const twoDays = { from: midnight(D1), to: '2026-11-22T00:00:00.000Z' };

const checkout = { service: 'checkout', environment: 'production' };
const restart = { playbook: 'restart_service', adapter: 'kubernetes', tier: 2, ...checkout } as const;

/** A executes across midnight: its verdict lands before its execution, so it counts first on the day it was asked. */
const lateExecuted: ActionScript = {
  key: '21',
  ...restart,
  requestedAt: at('23:58', D1),
  executed: { startedAt: at('23:59', D1), finishedAt: at('00:01', D2), result: 'succeeded' },
  verdict: { verdict: 'verified', at: at('00:03', D2), confidence: 1 },
};
const stayingOnDay1: ActionScript = {
  key: '22',
  ...restart,
  requestedAt: at('10:00', D1),
  executed: { startedAt: at('10:00', D1), finishedAt: at('10:01', D1), result: 'succeeded' },
  verdict: { verdict: 'verified', at: at('10:02', D1), confidence: 1 },
};
/** Verified, then verified again as drift and rolled back. */
const reverified: ActionScript = {
  key: '23',
  playbook: 'clear_cache',
  adapter: 'nats',
  tier: 1,
  service: 'search',
  environment: 'staging',
  requestedAt: at('09:00', D2),
  executed: { startedAt: at('09:00', D2), finishedAt: at('09:01', D2), result: 'succeeded' },
  verdict: { verdict: 'verified', at: at('09:02', D2), confidence: 1 },
  rolledBackAt: at('09:31', D2),
};
const dryRun: ActionScript = {
  key: '24',
  ...restart,
  requestedAt: at('08:00', D2),
  executed: { startedAt: at('08:00', D2), finishedAt: at('08:01', D2), result: 'dry_run' },
  verdict: { verdict: 'failed', at: at('08:02', D2), confidence: 0 },
};
/** Executed without a verdict (not counted) until its verdict lands. */
const verdictLate: ActionScript = {
  key: '25',
  playbook: 'scale_up',
  adapter: 'kubernetes',
  tier: 3,
  ...checkout,
  requestedAt: at('11:00', D2),
  executed: { startedAt: at('11:00', D2), finishedAt: at('11:01', D2), result: 'timed_out' },
  verdict: { verdict: 'failed', at: at('11:05', D2), confidence: 0 },
};

const ofType = (events: GraceEvent[], type: string) => events.filter((e) => e.type === type);
const except = (events: GraceEvent[], type: string) => events.filter((e) => e.type !== type);

function verifiedAgain(events: GraceEvent[], verdict: 'drift', verifiedAt: string): GraceEvent {
  const { data } = ofType(events, 'contract.verified')[0] as GraceEvent<'contract.verified'>;
  return createEvent(
    'contract.verified',
    {
      ...data,
      verification_id: randomUUID(),
      verdict,
      verified_at: verifiedAt,
      time_to_verify_ms: Date.parse(verifiedAt) - Date.parse(data.executed_at!),
    },
    { source: 'test/rollups' },
  );
}

const db1 = { kind: 'ConnectionRefused', category: 'database' };
const cache = { kind: 'CacheMiss', category: 'cache' };

/** The rollups must equal the facts summed per day, whatever the ETL went through. */
async function expectRollupsEqualTheFacts(db: Kysely<Database>) {
  const actions = await sql`
    select d.day, d.playbook_key, d.outcome_key, d.executed::int from agg_actions_daily d
    order by d.day, d.playbook_key, d.outcome_key`.execute(db);
  const actionsFromFacts = await sql`
    select date_trunc('day', a.minute, 'UTC') as day, a.playbook_key, a.outcome_key, count(*)::int as executed
    from fact_actions a join dim_outcome o on o.outcome_key = a.outcome_key
    where o.verdict <> 'none' and a.execution_result is distinct from 'dry_run'
    group by 1, 2, 3 order by 1, 2, 3`.execute(db);
  expect(actions.rows).toEqual(actionsFromFacts.rows);
  const errors = await sql`
    select day, signature_key, occurrences::int from agg_errors_daily order by day, signature_key`.execute(db);
  const errorsFromFacts = await sql`
    select date_trunc('day', hour, 'UTC') as day, signature_key, sum(occurrences)::int as occurrences
    from fact_errors group by 1, 2 order by 1, 2`.execute(db);
  expect(errors.rows).toEqual(errorsFromFacts.rows);
}

const testDb = (schema: string) =>
  createDb<Database>({
    url: DATABASE_URL,
    schema,
    poolMax: 2,
    statementTimeoutMs: 10_000,
    applicationName: 'cube-rollups-test',
  }).db;

describe('daily rollups', () => {
  const schema = `t_cuberoll${randomBytes(4).toString('hex')}`;
  let db: Kysely<Database>;

  beforeAll(async () => {
    db = testDb(schema);
    await runMigrations(db as Kysely<unknown>, schema, migrations);
  });

  afterAll(async () => {
    if (!db) return;
    await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(db);
    await db.destroy();
  });

  const land = (events: GraceEvent[]) => db.transaction().execute((trx) => stageEvents(trx, events, new Date()));

  /** agg_actions_daily by natural keys: day, playbook, verdict, rolled back, executed. */
  async function actionRollup() {
    const { rows } = await sql<{ day: Date; playbook: string; verdict: string; rolled_back: boolean; n: string }>`
      select d.day, p.playbook, o.verdict, o.rolled_back, d.executed as n from agg_actions_daily d
      join dim_playbook p on p.playbook_key = d.playbook_key join dim_outcome o on o.outcome_key = d.outcome_key
      order by d.day, p.playbook, o.verdict, o.rolled_back`.execute(db);
    return rows.map((r) => [r.day.toISOString().slice(0, 10), r.playbook, r.verdict, r.rolled_back, Number(r.n)]);
  }

  /** agg_errors_daily by natural keys: day, fingerprint, occurrences. */
  async function errorRollup() {
    const { rows } = await sql<{ day: Date; fingerprint: string; n: string }>`
      select d.day, s.fingerprint, d.occurrences as n from agg_errors_daily d
      join dim_signature s on s.signature_key = d.signature_key order by d.day, s.fingerprint`.execute(db);
    return rows.map((r) => [r.day.toISOString().slice(0, 10), r.fingerprint, Number(r.n)]);
  }

  /** Each query's reply read from the rollups, checked against the same request read from the facts. */
  async function sameEitherWay() {
    const requests = [
      { ...twoDays, bucket: 'day' as const },
      { ...twoDays, bucket: 'week' as const },
      { from: midnight(D2), to: '2026-11-22T00:00:00.000Z', bucket: 'week' as const },
    ];
    for (const req of requests) {
      for (const groupBy of ['playbook', 'tier'] as const) {
        const reply = await successRateQuery(db)({ ...req, group_by: groupBy });
        expect(reply).toEqual(await successRateQuery(db, { rollups: false })({ ...req, group_by: groupBy }));
      }
      expect(await rollbackDriftQuery(db)(req)).toEqual(await rollbackDriftQuery(db, { rollups: false })(req));
      expect(await errorTrendsQuery(db)(req)).toEqual(await errorTrendsQuery(db, { rollups: false })(req));
    }
  }

  const late = actionEvents(lateExecuted);
  const again = actionEvents(reverified);
  const undecided = actionEvents(verdictLate);

  it('sums executed actions and errors per day as the batch lands them', async () => {
    await land([
      ...except(late, 'action.executed'),
      ...actionEvents(stayingOnDay1),
      ...except(again, 'contract.rolled_back'),
      ...actionEvents(dryRun),
      ...except(undecided, 'contract.verified'),
      capture('fp-db', 'checkout', 'production', db1.kind, db1.category, at('23:50', D1), at('23:50', D1), 1),
      capture('fp-db', 'checkout', 'production', db1.kind, db1.category, at('23:50', D1), at('00:20', D2), 4),
      capture('fp-db', 'payments', 'production', db1.kind, db1.category, at('03:00', D2), at('03:00', D2), 5),
      capture('fp-cache', 'search', 'staging', cache.kind, cache.category, at('23:40', D1), at('00:05', D2), 2),
    ]);
    const run = await runEtl(db, 1000);
    expect(run.status).toBe('succeeded');
    expect(run.rows_written).toMatchObject({ agg_actions_daily: 2, agg_errors_daily: 3 });

    // The action executed across midnight counts on day 1 (asked for at 23:58) until its execution lands.
    expect(await actionRollup()).toEqual([
      [D1, 'restart_service', 'verified', false, 2],
      [D2, 'clear_cache', 'verified', false, 1],
    ]);
    // fp-db: 1 on day 1, 3 more in its window after midnight and 5 on payments; fp-cache: 2 after midnight.
    expect(await errorRollup()).toEqual([
      [D1, 'fp-db', 1],
      [D2, 'fp-cache', 2],
      [D2, 'fp-db', 8],
    ]);
    await expectRollupsEqualTheFacts(db);
    await sameEitherWay();
  });

  it('recomputes the day an action or an error leaves, and the verdicts that change, on the next run', async () => {
    await land([
      // Moves the action from day 1 to day 2.
      ...ofType(late, 'action.executed'),
      // verified -> drift, rolled back: another outcome on the same day.
      verifiedAgain(again, 'drift', at('09:30', D2)),
      ...ofType(again, 'contract.rolled_back'),
      // none -> failed: counted from now on.
      ...ofType(undecided, 'contract.verified'),
      // fp-db: a capture of its window before midnight, landing late, moves 2 occurrences to day 1.
      capture('fp-db', 'checkout', 'production', db1.kind, db1.category, at('23:50', D1), at('23:59', D1), 3),
      // fp-cache: an earlier delivery of the same report (same count) moves it wholly to day 1, so day 2 loses it.
      capture('fp-cache', 'search', 'staging', cache.kind, cache.category, at('23:40', D1), at('23:45', D1), 2),
    ]);
    expect((await runEtl(db, 1000)).status).toBe('succeeded');

    expect(await actionRollup()).toEqual([
      [D1, 'restart_service', 'verified', false, 1],
      [D2, 'clear_cache', 'drift', true, 1],
      [D2, 'restart_service', 'verified', false, 1],
      [D2, 'scale_up', 'failed', false, 1],
    ]);
    expect(await errorRollup()).toEqual([
      [D1, 'fp-cache', 2],
      [D1, 'fp-db', 3],
      [D2, 'fp-db', 6],
    ]);
    await expectRollupsEqualTheFacts(db);
    await sameEitherWay();

    const day = { ...twoDays, bucket: 'day' as const };
    expect((await successRateQuery(db)(day)).rows).toEqual([
      { bucket_start: midnight(D1), group: 'restart_service', executed: 1, verified: 1, success_rate: 1 },
      { bucket_start: midnight(D2), group: 'clear_cache', executed: 1, verified: 0, success_rate: 0 },
      { bucket_start: midnight(D2), group: 'restart_service', executed: 1, verified: 1, success_rate: 1 },
      { bucket_start: midnight(D2), group: 'scale_up', executed: 1, verified: 0, success_rate: 0 },
    ]);
    expect((await errorTrendsQuery(db)(day)).rows.map((r) => [r.bucket_start, r.fingerprint, r.occurrences])).toEqual([
      [midnight(D1), 'fp-cache', 2],
      [midnight(D1), 'fp-db', 3],
      [midnight(D2), 'fp-db', 6],
    ]);
  });

  it('gives the same rollups when everything is replayed, in small batches', async () => {
    const actions = await actionRollup();
    const errors = await errorRollup();
    await resetCube(db);
    expect(await actionRollup()).toEqual([]);
    expect(await errorRollup()).toEqual([]);
    // Three events a batch: the same days recomputed by many batches, and an action counted before its verdict.
    expect((await runEtl(db, 3)).status).toBe('succeeded');
    expect(await actionRollup()).toEqual(actions);
    expect(await errorRollup()).toEqual(errors);
    await expectRollupsEqualTheFacts(db);
    // Rebuilt from the facts alone (as for a cube not built by the ETL), again the same.
    await rebuildRollups(db);
    expect(await actionRollup()).toEqual(actions);
    expect(await errorRollup()).toEqual(errors);
  });

  it('reads the rollups only for whole UTC days by day or week, without a service or environment filter', async () => {
    // Rollups ten times the facts show which requests read them.
    await sql`update agg_actions_daily set executed = executed * 10`.execute(db);
    await sql`update agg_errors_daily set occurrences = occurrences * 10`.execute(db);
    const executed = async (req: Parameters<ReturnType<typeof successRateQuery>>[0]) =>
      (await successRateQuery(db)(req)).rows.reduce((n, r) => n + r.executed, 0);
    const rolledUp = async (req: Parameters<ReturnType<typeof rollbackDriftQuery>>[0]) =>
      (await rollbackDriftQuery(db)(req)).rows.reduce((n, r) => n + r.executed, 0);
    const occurrences = async (req: Parameters<ReturnType<typeof errorTrendsQuery>>[0]) =>
      (await errorTrendsQuery(db)(req)).rows.reduce((n, r) => n + r.occurrences, 0);

    for (const bucket of ['day', 'week'] as const) {
      expect(await executed({ ...twoDays, bucket })).toBe(40);
      expect(await executed({ ...twoDays, bucket, group_by: 'tier', playbook: 'restart_service' })).toBe(20);
      expect(await rolledUp({ ...twoDays, bucket })).toBe(40);
      expect(await occurrences({ ...twoDays, bucket })).toBe(110);
    }
    // Not whole days, an hour bucket, a service or environment filter, by service, or rollups turned off: facts.
    const midday = { from: midnight(D1), to: at('10:00', D2) };
    expect(await executed({ ...midday, bucket: 'day' })).toBe(3);
    expect(await executed({ ...twoDays, bucket: 'hour' })).toBe(4);
    expect(await executed({ ...twoDays, bucket: 'day', environment: 'production' })).toBe(3);
    expect(await executed({ ...twoDays, bucket: 'day', group_by: 'service' })).toBe(4);
    expect((await successRateQuery(db, { rollups: false })({ ...twoDays, bucket: 'day' })).rows).toHaveLength(4);
    expect(await rolledUp({ ...twoDays, bucket: 'week', service: 'search' })).toBe(1);
    expect(await rolledUp({ ...midday, bucket: 'week' })).toBe(3);
    expect(await occurrences({ ...twoDays, bucket: 'hour' })).toBe(11);
    expect(await occurrences({ ...twoDays, bucket: 'day', service: 'checkout' })).toBe(4);
    expect(await occurrences({ from: at('01:00', D1), to: twoDays.to, bucket: 'day' })).toBe(11);

    await rebuildRollups(db);
    expect(await executed({ ...twoDays, bucket: 'day' })).toBe(4);
  });
});

describe('migration 0002 on a cube built before it', () => {
  const schema = `t_cubemig${randomBytes(4).toString('hex')}`;
  let db: Kysely<Database>;

  afterAll(async () => {
    if (!db) return;
    await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(db);
    await db.destroy();
  });

  it('fills the rollups from the facts already there', async () => {
    db = testDb(schema);
    await runMigrations(db as Kysely<unknown>, schema, { '0001_init': migrations['0001_init']! });
    const s = star(db);
    const action = { service: 'checkout', playbook: 'restart_service', result: 'succeeded' } as const;
    await s.action({ ...action, id: 'a1', verdict: 'verified', minute: at('10:00', D1) });
    await s.action({ ...action, id: 'a2', verdict: 'drift', rolledBack: true, minute: at('23:59', D1) });
    await s.action({ ...action, id: 'a3', verdict: 'verified', minute: at('00:00', D2) });
    await s.action({ ...action, id: 'a4', verdict: 'verified', result: 'dry_run', minute: at('01:00', D2) });
    await s.action({ ...action, id: 'a5', verdict: 'none', denied: true, result: null, minute: at('02:00', D2) });
    for (const [service, hour, occurrences] of [
      ['checkout', at('23:00', D1), 3],
      ['payments', at('23:00', D1), 4],
      ['checkout', at('00:00', D2), 5],
    ] as const)
      await s.errors({ fingerprint: 'fp-db', service, hour, occurrences });

    await runMigrations(db as Kysely<unknown>, schema, migrations);
    expect(await successRateQuery(db)({ ...twoDays, bucket: 'day' })).toEqual({
      rows: [
        { bucket_start: midnight(D1), group: 'restart_service', executed: 2, verified: 1, success_rate: 0.5 },
        { bucket_start: midnight(D2), group: 'restart_service', executed: 1, verified: 1, success_rate: 1 },
      ],
    });
    expect((await errorTrendsQuery(db)({ ...twoDays, bucket: 'day' })).rows.map((r) => r.occurrences)).toEqual([7, 5]);
    await expectRollupsEqualTheFacts(db);
  });
});
