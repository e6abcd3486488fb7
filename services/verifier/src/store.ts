// verifier's tables (Kysely types) and statements: the verification queue and its results, baselines, and the
// count of captured errors per second with each fingerprint's dedupe-window position.
import { type Timestamp, type DbHandle } from '@grace/service-kit';
import type { EventData } from '@grace/contracts';
import {
  sql,
  type ColumnType,
  type InsertObject,
  type Insertable,
  type Kysely,
  type Selectable,
  type Transaction,
} from 'kysely';
import type { BaselineState } from './domain/baselines.js';

type NullableTimestamp = ColumnType<Date | null, Date | string | null, Date | string | null>;
export type Executed = EventData<'action.executed'>;
export type Verified = EventData<'contract.verified'>;

export interface VerificationsTable {
  id: string;
  contract_id: string;
  action_id: string;
  executed: ColumnType<Executed, string, string>;
  correlation_id: string | null;
  /** The trace of the action.executed it verifies (0004_traceparent): contract.verified continues it. */
  traceparent: ColumnType<string | null, string | null | undefined, string | null>;
  status: 'pending' | 'done';
  due_at: Timestamp;
  lease_owner: string | null;
  lease_until: NullableTimestamp;
  verdict: string | null;
  confidence: number | null;
  result: ColumnType<Verified | null, string | null, string | null>;
  created_at: Timestamp;
  verified_at: NullableTimestamp;
}

export interface BaselinesTable {
  service: string;
  environment: string;
  check: string;
  metric: string;
  kind: 'http' | 'nats' | 'error_rate' | 'state';
  value: number;
  m2: number;
  samples: number;
  updated_at: Timestamp;
}

export interface CapturesTable {
  service: string;
  environment: string;
  fingerprint: string;
  first_seen: Timestamp;
  count: number;
  last_seen: Timestamp;
}

/** An alert its source reported resolved (0002_source_resolutions, firing from 0003_resolution_firing). */
export interface SourceResolutionsTable {
  service: string;
  environment: string;
  fingerprint: string;
  alert_fingerprint: string;
  starts_at: Timestamp;
  ends_at: Timestamp;
  /** Alerts of the group still firing once this one resolved; null on rows from before 0003. */
  firing: number | null;
  received_at: ColumnType<Date, never, never>;
}

export interface Database {
  verifications: VerificationsTable;
  baselines: BaselinesTable;
  captures: CapturesTable;
  source_resolutions: SourceResolutionsTable;
}

export type VerificationRow = Selectable<VerificationsTable>;
export type BaselineRow = Selectable<BaselinesTable>;
type Db = DbHandle<Database>;

/** Queue a verification; undefined when the contract's is queued already (a redelivered action.executed). */
export async function queueVerification(
  trx: Db,
  row: InsertObject<Database, 'verifications'>,
): Promise<VerificationRow | undefined> {
  return (await trx
    .insertInto('verifications')
    .values(row)
    .onConflict((oc) => oc.column('contract_id').doNothing())
    .returningAll()
    .executeTakeFirst()) as VerificationRow | undefined;
}

/** Claim up to `max` due verifications (or ones whose worker's lease ran out) in one statement; SKIP LOCKED. */
export async function claimDue(db: Kysely<Database>, owner: string, leaseMs: number, max = 1) {
  const result = await sql<VerificationRow>`
    update verifications set lease_owner = ${owner}, lease_until = now() + make_interval(secs => ${leaseMs / 1000})
    where id in (
      select id from verifications
      where status = 'pending' and due_at <= now() and (lease_until is null or lease_until < now())
      order by due_at
      for update skip locked
      limit ${max})
    returning *`.execute(db);
  return result.rows.sort((a, b) => new Date(a.due_at).getTime() - new Date(b.due_at).getTime());
}

/** Store the verdict; false when another worker got there first (the lease was lost). */
export async function completeVerification(
  trx: Transaction<Database>,
  id: string,
  owner: string,
  result: Verified,
  at: Date,
): Promise<boolean> {
  const updated = await trx
    .updateTable('verifications')
    .set({
      status: 'done',
      verdict: result.verdict,
      confidence: result.confidence,
      result: JSON.stringify(result),
      verified_at: at,
      lease_owner: null,
      lease_until: null,
    })
    .where('id', '=', id)
    .where('lease_owner', '=', owner)
    .where('status', '=', 'pending')
    .returning('id')
    .executeTakeFirst();
  return updated !== undefined;
}

export async function findVerification(
  db: Db,
  by: { verification_id?: string; contract_id?: string; action_id?: string },
): Promise<VerificationRow | undefined> {
  let query = db.selectFrom('verifications').selectAll();
  if (by.verification_id) query = query.where('id', '=', by.verification_id);
  if (by.contract_id) query = query.where('contract_id', '=', by.contract_id);
  if (by.action_id) query = query.where('action_id', '=', by.action_id);
  return query.orderBy('created_at', 'desc').limit(1).executeTakeFirst();
}

export interface BaselineKey {
  service: string;
  environment: string;
  check: string;
  metric: string;
}

export async function baselinesFor(db: Db, service: string, environment: string): Promise<BaselineRow[]> {
  return db
    .selectFrom('baselines')
    .selectAll()
    .where('service', '=', service)
    .where('environment', '=', environment)
    .execute();
}

/** Learn from a verified run: each value changes its baseline under a row lock (keys in order). */
export async function learnBaselines(
  trx: Transaction<Database>,
  values: (BaselineKey & { kind: BaselinesTable['kind']; observed: number })[],
  learn: (previous: BaselineState | undefined, observed: number) => BaselineState,
  now: Date,
): Promise<void> {
  const ordered = [...values].sort((a, b) =>
    `${a.check}\u0000${a.metric}`.localeCompare(`${b.check}\u0000${b.metric}`),
  );
  for (const v of ordered) {
    const previous = await trx
      .selectFrom('baselines')
      .select(['value', 'm2', 'samples'])
      .where('service', '=', v.service)
      .where('environment', '=', v.environment)
      .where('check', '=', v.check)
      .where('metric', '=', v.metric)
      .forUpdate()
      .executeTakeFirst();
    const next = learn(previous, v.observed);
    await trx
      .insertInto('baselines')
      .values({
        service: v.service,
        environment: v.environment,
        check: v.check,
        metric: v.metric,
        kind: v.kind,
        ...next,
        updated_at: now,
      })
      .onConflict((oc) =>
        oc.columns(['service', 'environment', 'check', 'metric']).doUpdateSet({ ...next, updated_at: now }),
      )
      .execute();
  }
}

export async function listBaselines(
  db: Db,
  filter: { service?: string; environment?: string; check?: string; after?: string[]; limit: number },
): Promise<BaselineRow[]> {
  let query = db.selectFrom('baselines').selectAll();
  if (filter.service) query = query.where('service', '=', filter.service);
  if (filter.environment) query = query.where('environment', '=', filter.environment);
  if (filter.check) query = query.where('check', '=', filter.check);
  if (filter.after) {
    const [service, environment, check, metric] = filter.after as [string, string, string, string];
    query = query.where(
      (eb) => eb.refTuple('service', 'environment', 'check', 'metric'),
      '>',
      (eb) => eb.tuple(service, environment, check, metric),
    );
  }
  return query
    .orderBy('service')
    .orderBy('environment')
    .orderBy('check')
    .orderBy('metric')
    .limit(filter.limit)
    .execute();
}

// ---- the verifier's own count of captured errors ----

export interface Capture {
  service: string;
  environment: string;
  fingerprint: string;
  first_seen: Date;
  last_seen: Date;
  count: number;
}

/** Keep captures as announced; a repeated announcement (same window, same count) is stored once. */
export async function recordCaptures(trx: Transaction<Database>, captures: readonly Capture[]): Promise<void> {
  if (captures.length === 0) return;
  await trx
    .insertInto('captures')
    .values([...captures])
    .onConflict((oc) => oc.columns(['service', 'environment', 'fingerprint', 'first_seen', 'count']).doNothing())
    .execute();
}

/**
 * Occurrences in [from, to) for a fingerprint, or for every fingerprint of the service: each capture adds its
 * count less the count of the capture before it in the same dedupe window, at its last_seen. Windows older than
 * the retention are gone whole (pruned by first_seen), so no capture is counted without its predecessors.
 */
export async function errorsBetween(
  db: Db,
  scope: { service: string; environment: string; fingerprint?: string },
  from: Date,
  to: Date,
): Promise<number> {
  const fingerprint = scope.fingerprint ? sql`and fingerprint = ${scope.fingerprint}` : sql``;
  const result = await sql<{ n: number }>`
    select coalesce(sum(added), 0)::int as n from (
      select last_seen,
             count - coalesce(lag(count) over (partition by fingerprint, first_seen order by count), 0) as added
      from captures
      where service = ${scope.service} and environment = ${scope.environment} ${fingerprint}
        and first_seen < ${to}
    ) announced
    where last_seen >= ${from} and last_seen < ${to}`.execute(db);
  return result.rows[0]?.n ?? 0;
}

export async function pruneCaptures(db: Kysely<Database>, olderThan: Date): Promise<void> {
  await db.deleteFrom('captures').where('first_seen', '<', olderThan).execute();
  await db.deleteFrom('source_resolutions').where('ends_at', '<', olderThan).execute();
}

/** Keep alerts reported resolved; the same resolution twice is stored once. */
export async function recordResolutions(
  trx: Transaction<Database>,
  rows: readonly Omit<Insertable<SourceResolutionsTable>, 'received_at'>[],
): Promise<void> {
  if (rows.length === 0) return;
  await trx
    .insertInto('source_resolutions')
    .values([...rows])
    .onConflict((oc) => oc.columns(['fingerprint', 'environment', 'alert_fingerprint', 'starts_at']).doNothing())
    .execute();
}

/** What the source reported resolved in a window: how many alerts, and how many of the group still fired after the last. */
export interface Resolutions {
  resolved: number;
  /** `firing` of the latest resolution in the window (null when none, or when it was not recorded). */
  stillFiring: number | null;
}

/** Alerts of a service (or of one fingerprint) its source reported resolved in [from, to). */
export async function resolutionsBetween(
  db: Db,
  scope: { service: string; environment: string; fingerprint?: string },
  from: Date,
  to: Date,
): Promise<Resolutions> {
  const fingerprint = scope.fingerprint ? sql`and fingerprint = ${scope.fingerprint}` : sql``;
  const result = await sql<{ resolved: number; still_firing: number | null }>`
    select count(*)::int as resolved,
           (array_agg(firing order by ends_at desc, received_at desc))[1] as still_firing
    from source_resolutions
    where service = ${scope.service} and environment = ${scope.environment} ${fingerprint}
      and ends_at >= ${from} and ends_at < ${to}`.execute(db);
  const row = result.rows[0];
  return { resolved: row?.resolved ?? 0, stillFiring: row?.still_firing ?? null };
}
