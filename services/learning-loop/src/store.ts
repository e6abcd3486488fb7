// learning-loop's tables (Kysely types) and statements: outcome records, statistics rows (locked per key), the
// publisher's dirty keys, and a recount of the statistics from the outcomes.
import { type Timestamp, type DbHandle } from '@grace/service-kit';
import { sql, type ColumnType, type Insertable, type Selectable, type Transaction } from 'kysely';
import { EMPTY_STATS, type StatsState, type Verdict } from './domain/statistics.js';

type NullableTimestamp = ColumnType<Date | null, Date | string | null, Date | string | null>;

export interface OutcomesTable {
  action_id: string;
  contract_id: string | null;
  incident_id: string | null;
  playbook: string;
  signature: string | null;
  service: string;
  environment: string;
  adapter: string;
  action: string;
  tier: number;
  verdict: Verdict | null;
  confidence: number | null;
  execution_result: string | null;
  denied: ColumnType<boolean, boolean | undefined, boolean>;
  rolled_back: ColumnType<boolean, boolean | undefined, boolean>;
  execution_ms: number | null;
  time_to_verify_ms: number | null;
  verified_at: NullableTimestamp;
  recorded_at: Timestamp;
}

export interface StatisticsTable {
  signature: string;
  playbook: string;
  executions: number;
  successes: number;
  failures: number;
  rollbacks: number;
  denials: number;
  confidence_sum: number;
  confidence_count: number;
  time_to_verify_sum: number;
  time_to_verify_count: number;
  alpha: number;
  beta: number;
  last_verdict: Verdict | null;
  last_outcome_at: NullableTimestamp;
  decayed_at: NullableTimestamp;
  updated_at: Timestamp;
  dirty: ColumnType<boolean, boolean | undefined, boolean>;
}

export interface Database {
  outcomes: OutcomesTable;
  statistics: StatisticsTable;
}

export type OutcomeRow = Selectable<OutcomesTable>;
export type StatisticsRow = Selectable<StatisticsTable>;
type Db = DbHandle<Database>;

/** The statistics key of a playbook over every signature. */
export const OVERALL = '';

/** The outcome records of these actions that exist, locked for this transaction. */
export async function lockExistingOutcomes(trx: Transaction<Database>, actionIds: readonly string[]) {
  if (actionIds.length === 0) return [];
  return trx.selectFrom('outcomes').selectAll().where('action_id', 'in', actionIds).forUpdate().execute();
}

/**
 * Insert whole outcome records in one statement; the action ids another transaction inserted first are left out
 * of what it returns.
 */
export async function insertOutcomes(
  trx: Transaction<Database>,
  rows: readonly Insertable<OutcomesTable>[],
): Promise<Set<string>> {
  if (rows.length === 0) return new Set();
  const inserted = await trx
    .insertInto('outcomes')
    .values([...rows])
    .onConflict((oc) => oc.column('action_id').doNothing())
    .returning('action_id')
    .execute();
  return new Set(inserted.map((row) => row.action_id));
}

export async function updateOutcome(
  trx: Transaction<Database>,
  actionId: string,
  changes: Partial<Insertable<OutcomesTable>>,
): Promise<void> {
  await trx.updateTable('outcomes').set(changes).where('action_id', '=', actionId).execute();
}

const toState = (row: StatisticsRow): StatsState => ({
  executions: row.executions,
  successes: row.successes,
  failures: row.failures,
  rollbacks: row.rollbacks,
  denials: row.denials,
  confidenceSum: row.confidence_sum,
  confidenceCount: row.confidence_count,
  timeToVerifySum: row.time_to_verify_sum,
  timeToVerifyCount: row.time_to_verify_count,
  alpha: row.alpha,
  beta: row.beta,
  lastVerdict: row.last_verdict,
  lastOutcomeAt: row.last_outcome_at,
  decayedAt: row.decayed_at,
});

const fromState = (s: StatsState) => ({
  executions: s.executions,
  successes: s.successes,
  failures: s.failures,
  rollbacks: s.rollbacks,
  denials: s.denials,
  confidence_sum: s.confidenceSum,
  confidence_count: s.confidenceCount,
  time_to_verify_sum: s.timeToVerifySum,
  time_to_verify_count: s.timeToVerifyCount,
  alpha: s.alpha,
  beta: s.beta,
  last_verdict: s.lastVerdict,
  last_outcome_at: s.lastOutcomeAt,
  decayed_at: s.decayedAt,
});

export interface StatisticsKey {
  signature: string;
  playbook: string;
}

const keyOf = (k: StatisticsKey) => `${k.playbook}\u0000${k.signature}`;
const byKey = (a: StatisticsKey, b: StatisticsKey) =>
  a.playbook === b.playbook ? a.signature.localeCompare(b.signature) : a.playbook.localeCompare(b.playbook);

/**
 * Apply `changes` (in their order) to the statistics of their keys and mark those for the publisher, in three
 * statements whatever the number of keys: the new keys created, every key locked (in key order, so concurrent
 * updates of overlapping keys cannot deadlock), every key written.
 */
export async function updateStatistics(
  trx: Transaction<Database>,
  changes: readonly { keys: readonly StatisticsKey[]; change: (state: StatsState) => StatsState }[],
  now: Date,
): Promise<void> {
  const keys = new Map<string, StatisticsKey>();
  for (const { keys: each } of changes) for (const key of each) keys.set(keyOf(key), key);
  if (keys.size === 0) return;
  const ordered = [...keys.values()].sort(byKey);
  await trx
    .insertInto('statistics')
    .values(ordered.map((key) => ({ ...key, ...fromState(EMPTY_STATS), updated_at: now })))
    .onConflict((oc) => oc.columns(['signature', 'playbook']).doNothing())
    .execute();
  const rows = await trx
    .selectFrom('statistics')
    .selectAll()
    .where((eb) =>
      eb.or(ordered.map((k) => eb.and([eb('signature', '=', k.signature), eb('playbook', '=', k.playbook)]))),
    )
    .orderBy('playbook')
    .orderBy('signature')
    .forUpdate()
    .execute();
  const states = new Map(rows.map((row) => [keyOf(row), toState(row)]));
  for (const { keys: each, change } of changes)
    for (const key of each) states.set(keyOf(key), change(states.get(keyOf(key))!));
  // Every key written in one statement: each exists and is locked by now, so the insert always updates.
  const written = ordered.map((key) => ({
    ...key,
    ...fromState(states.get(keyOf(key))!),
    updated_at: now,
    dirty: true,
  }));
  await trx
    .insertInto('statistics')
    .values(written)
    .onConflict((oc) =>
      oc.columns(['signature', 'playbook']).doUpdateSet((eb) =>
        Object.fromEntries(
          Object.keys(written[0]!)
            .filter((column) => column !== 'signature' && column !== 'playbook')
            .map((column) => [column, eb.ref(`excluded.${column}` as 'excluded.executions')]),
        ),
      ),
    )
    .execute();
}

/** Changed keys not yet published, locked (SKIP LOCKED: replicas publish different keys). */
export async function lockDirtyStatistics(trx: Transaction<Database>, limit: number): Promise<StatisticsRow[]> {
  return trx
    .selectFrom('statistics')
    .selectAll()
    .where('dirty', '=', true)
    .orderBy('updated_at')
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .execute();
}

export async function markPublished(trx: Transaction<Database>, rows: readonly StatisticsRow[]): Promise<void> {
  if (rows.length === 0) return;
  // One statement for the batch: the rows are locked by lockDirtyStatistics in this transaction.
  await trx
    .updateTable('statistics')
    .set({ dirty: false })
    .where((eb) =>
      eb.or(rows.map((row) => eb.and([eb('signature', '=', row.signature), eb('playbook', '=', row.playbook)]))),
    )
    .execute();
}

/** Whether any statistic waits to be published (one cheap statement, so an idle publisher opens no transaction). */
export async function hasDirtyStatistics(db: Db): Promise<boolean> {
  const row = await db
    .selectFrom('statistics')
    .select('signature')
    .where('dirty', '=', true)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

export const stateOf = toState;

export async function listStatistics(
  db: Db,
  filter: { playbook?: string; signature?: string; after?: [string, string]; limit: number },
): Promise<StatisticsRow[]> {
  let query = db.selectFrom('statistics').selectAll();
  if (filter.playbook) query = query.where('playbook', '=', filter.playbook);
  if (filter.signature !== undefined) query = query.where('signature', '=', filter.signature);
  if (filter.after) {
    const [playbook, signature] = filter.after;
    query = query.where((eb) =>
      eb.or([eb('playbook', '>', playbook), eb.and([eb('playbook', '=', playbook), eb('signature', '>', signature)])]),
    );
  }
  return query.orderBy('playbook').orderBy('signature').limit(filter.limit).execute();
}

export async function listOutcomes(
  db: Db,
  filter: {
    playbook?: string;
    signature?: string;
    service?: string;
    environment?: string;
    verdict?: Verdict;
    from?: string;
    to?: string;
    before?: [string, string];
    limit: number;
  },
): Promise<OutcomeRow[]> {
  let query = db.selectFrom('outcomes').selectAll();
  for (const column of ['playbook', 'signature', 'service', 'environment', 'verdict'] as const) {
    const value = filter[column];
    if (value !== undefined) query = query.where(column, '=', value);
  }
  if (filter.from) query = query.where('recorded_at', '>=', new Date(filter.from));
  if (filter.to) query = query.where('recorded_at', '<=', new Date(filter.to));
  if (filter.before) {
    const [recordedAt, actionId] = filter.before;
    const at = new Date(recordedAt);
    query = query.where((eb) =>
      eb.or([eb('recorded_at', '<', at), eb.and([eb('recorded_at', '=', at), eb('action_id', '<', actionId)])]),
    );
  }
  return query.orderBy('recorded_at', 'desc').orderBy('action_id', 'desc').limit(filter.limit).execute();
}

/**
 * The statistics as they follow from the outcome table alone (dry runs excluded), per (signature, playbook) and
 * per playbook overall: what the running statistics must equal whatever was redelivered.
 */
export async function recountStatistics(db: Db) {
  const counted = sql<{
    signature: string;
    playbook: string;
    executions: number;
    successes: number;
    failures: number;
    rollbacks: number;
    denials: number;
  }>`
    with keyed as (
      select coalesce(signature, '') as signature, playbook, verdict, rolled_back, denied, execution_result
      from outcomes where signature is not null
      union all
      select '' as signature, playbook, verdict, rolled_back, denied, execution_result from outcomes)
    select signature, playbook,
      count(*) filter (where verdict is not null and execution_result is distinct from 'dry_run')::int as executions,
      count(*) filter (where verdict = 'verified' and execution_result is distinct from 'dry_run')::int as successes,
      count(*) filter (where verdict in ('failed', 'drift') and execution_result is distinct from 'dry_run')::int
        as failures,
      count(*) filter (where rolled_back)::int as rollbacks,
      count(*) filter (where denied)::int as denials
    from keyed group by signature, playbook order by playbook, signature`;
  return (await counted.execute(db)).rows;
}
