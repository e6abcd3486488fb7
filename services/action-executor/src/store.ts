// action-executor's tables (Kysely types) and the statements it runs: contracts, the workers' claims, snapshots,
// approvals and votes, the audit chain, the pause switch.
import type { schemas } from '@grace/contracts';
import { type DbHandle, lockInTransaction, type Timestamp } from '@grace/service-kit';
import { jsonObjectFrom } from 'kysely/helpers/postgres';
import { sql, type ColumnType, type Insertable, type Selectable, type Transaction, type UpdateObject } from 'kysely';
import { canonicalJson, type StoredAuditEntry } from './domain/audit-chain.js';
import { CONTRACT_STATUSES, FINAL_STATUSES } from './domain/contract-status.js';

type Json = Record<string, unknown>;
export type ContractStatus = schemas.ContractStatus;

export interface ContractsTable {
  id: string;
  action_id: string;
  idempotency_key: string;
  incident_id: string | null;
  fingerprint: string | null;
  signature: string | null;
  playbook: string;
  adapter: 'nats' | 'http' | 'kubernetes';
  action: string;
  service: string;
  environment: string;
  target: ColumnType<schemas.Target, string, string>;
  params: ColumnType<Json, string, string>;
  requested_tier: number;
  tier: number;
  expected_effect: ColumnType<schemas.ExpectedEffect, string, string>;
  checks: ColumnType<schemas.Check[], string, string>;
  timeout_ms: number;
  attempt: number;
  requested_by: ColumnType<{ kind: 'service' | 'user'; id: string }, string, string>;
  requested_at: Timestamp;
  status: ContractStatus;
  held: ColumnType<boolean, boolean | undefined, boolean>;
  dry_run: ColumnType<boolean, boolean | undefined, boolean>;
  plan: string | null;
  policy_version: string | null;
  approval_id: string | null;
  snapshot_id: string | null;
  result: schemas.ExecutionResult | null;
  actual_state: ColumnType<Json | null, string | null, string | null>;
  verdict: schemas.Verdict | null;
  confidence: number | null;
  verification_id: string | null;
  error: string | null;
  correlation_id: string | null;
  /** The trace of the action.requested that made it (0003_traceparent): its steps' events continue it. */
  traceparent: string | null;
  lease_owner: string | null;
  lease_until: ColumnType<Date | null, Date | string | null, Date | string | null>;
  rollback_trigger: 'drift' | 'failed' | 'timed_out' | null;
  rollback_reason: string | null;
  restore_attempts: ColumnType<number, number | undefined, number>;
  started_at: ColumnType<Date | null, Date | string | null, Date | string | null>;
  finished_at: ColumnType<Date | null, Date | string | null, Date | string | null>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface SnapshotsTable {
  id: string;
  contract_id: string;
  adapter: string;
  target: ColumnType<schemas.Target, string, string>;
  state: ColumnType<Json, string, string>;
  taken_at: Timestamp;
  restored_at: ColumnType<Date | null, Date | string | null, Date | string | null>;
}

export interface ApprovalsTable {
  id: string;
  contract_id: string;
  quorum_required: number;
  quorum_role: 'viewer' | 'operator' | 'approver' | 'admin';
  reason: string;
  rule: string;
  status: 'pending' | 'granted' | 'rejected' | 'expired';
  requested_at: Timestamp;
  expires_at: Timestamp;
  decided_at: ColumnType<Date | null, Date | string | null, Date | string | null>;
}

export interface VotesTable {
  vote_id: string;
  approval_id: string;
  voter_id: string;
  voter_roles: ColumnType<string[], string, string>;
  decision: 'approve' | 'reject';
  comment: string | null;
  counted: boolean;
  not_counted_reason: string | null;
  cast_at: Timestamp;
  recorded_at: Timestamp;
}

export interface AuditEntriesTable {
  seq: ColumnType<string, number, number>;
  at: Timestamp;
  step: string;
  actor: string;
  contract_id: string | null;
  action_id: string | null;
  detail: ColumnType<Json, string, string>;
  prev_hash: string;
  hash: string;
}

export interface ControlsTable {
  id: number;
  paused: boolean;
  paused_by: string | null;
  paused_at: ColumnType<Date | null, Date | string | null, Date | string | null>;
  reason: string | null;
  updated_at: Timestamp;
}

export interface Database {
  contracts: ContractsTable;
  snapshots: SnapshotsTable;
  approvals: ApprovalsTable;
  votes: VotesTable;
  audit_entries: AuditEntriesTable;
  controls: ControlsTable;
}

export type ContractRow = Selectable<ContractsTable>;
export type SnapshotRow = Selectable<SnapshotsTable>;
export type ApprovalRow = Selectable<ApprovalsTable>;
export type VoteRow = Selectable<VotesTable>;
export type NewContract = Insertable<ContractsTable>;
export type Db = DbHandle<Database>;

/** Contracts whose target may not take a new action: still running, awaiting a verdict, or rolling back. */
export const OPEN_STATUSES: readonly ContractStatus[] = CONTRACT_STATUSES.filter((s) => !FINAL_STATUSES.includes(s));

export const json = (value: unknown): string => JSON.stringify(value);

/** Insert a new contract; undefined when its action id or idempotency key is already known. */
export async function insertContract(trx: Db, row: NewContract): Promise<ContractRow | undefined> {
  return trx
    .insertInto('contracts')
    .values(row)
    .onConflict((oc) => oc.doNothing())
    .returningAll()
    .executeTakeFirst();
}

export async function lockContract(trx: Transaction<Database>, id: string): Promise<ContractRow | undefined> {
  return trx.selectFrom('contracts').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
}

export async function lockContractByAction(
  trx: Transaction<Database>,
  actionId: string,
): Promise<ContractRow | undefined> {
  return trx.selectFrom('contracts').selectAll().where('action_id', '=', actionId).forUpdate().executeTakeFirst();
}

export async function getContract(
  db: Db,
  by: { contract_id?: string; action_id?: string },
): Promise<ContractRow | undefined> {
  let query = db.selectFrom('contracts').selectAll();
  if (by.contract_id) query = query.where('id', '=', by.contract_id);
  if (by.action_id) query = query.where('action_id', '=', by.action_id);
  return query.executeTakeFirst();
}

/** What a step changes in a contract row. */
export type ContractChanges = Partial<Omit<Insertable<ContractsTable>, 'id'>>;

/** One update of a contract (values or SQL expressions), the row as it now is returned (no read-back). */
export async function updateContract(
  trx: Db,
  id: string,
  changes: UpdateObject<Database, 'contracts'>,
): Promise<ContractRow> {
  const row = await updateContractIf(trx, id, {}, changes);
  if (!row) throw new Error(`no contract ${id} to update`);
  return row;
}

/**
 * One update of a contract that is still as `expected` says (its status, the lease's owner, the version it had), in
 * one statement: the row as it now is, or undefined when it has changed since (nothing is written then).
 */
export async function updateContractIf(
  trx: Db,
  id: string,
  expected: Partial<Pick<ContractRow, 'status' | 'lease_owner' | 'updated_at'>>,
  changes: UpdateObject<Database, 'contracts'>,
): Promise<ContractRow | undefined> {
  let query = trx
    .updateTable('contracts')
    .set({ ...changes, updated_at: new Date() })
    .where('id', '=', id);
  if (expected.status !== undefined) query = query.where('status', '=', expected.status);
  if (expected.lease_owner !== undefined) query = query.where('lease_owner', '=', expected.lease_owner);
  if (expected.updated_at !== undefined) query = query.where('updated_at', '=', expected.updated_at);
  return query.returningAll().executeTakeFirst();
}

/**
 * Serialise decisions about one target (service and environment) across replicas for the rest of the
 * transaction, so two actions cannot both pass the budget or the one-open-contract rule.
 */
export async function lockTarget(trx: Transaction<Database>, service: string, environment: string): Promise<void> {
  await lockInTransaction(trx, `target:${service}:${environment}`);
}

/** Another contract on the target that is still open, if any. */
export async function openContractOn(
  trx: Db,
  service: string,
  environment: string,
  exceptId: string,
): Promise<Pick<ContractRow, 'id' | 'playbook' | 'status' | 'incident_id'> | undefined> {
  return trx
    .selectFrom('contracts')
    .select(['id', 'playbook', 'status', 'incident_id'])
    .where('service', '=', service)
    .where('environment', '=', environment)
    .where('id', '!=', exceptId)
    .where('held', '=', false)
    .where('status', 'in', OPEN_STATUSES)
    .orderBy('created_at')
    .limit(1)
    .executeTakeFirst();
}

/** Tier >= minTier actions admitted on the target since `since` (denied and expired ones never ran). */
export async function actionsAdmittedOn(
  trx: Db,
  service: string,
  environment: string,
  minTier: number,
  since: Date,
  exceptId: string,
): Promise<number> {
  const row = await trx
    .selectFrom('contracts')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('service', '=', service)
    .where('environment', '=', environment)
    .where('tier', '>=', minTier)
    .where('created_at', '>=', since)
    .where('id', '!=', exceptId)
    .where('held', '=', false)
    .where('status', 'not in', ['denied', 'expired'])
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** What admission reads of the target, under its lock: the pause switch and another open contract on it. */
export interface AdmissionRead {
  controls: Selectable<ControlsTable>;
  open: Pick<ContractRow, 'id' | 'playbook' | 'status' | 'incident_id'> | undefined;
}

/**
 * In one statement, what admitting a new request reads under its target's lock: whether a contract with its
 * action id or idempotency key is stored already, the pause switch, and another open contract on the target.
 */
export async function readForAdmission(
  trx: Db,
  request: { actionId: string; idempotencyKey: string; service: string; environment: string },
): Promise<AdmissionRead & { known: boolean }> {
  const row = await trx
    .selectFrom('controls')
    .selectAll('controls')
    .select((eb) => [
      eb
        .exists(
          eb
            .selectFrom('contracts')
            .select('contracts.id')
            .where((w) =>
              w.or([
                w('contracts.action_id', '=', request.actionId),
                w('contracts.idempotency_key', '=', request.idempotencyKey),
              ]),
            ),
        )
        .as('known'),
      jsonObjectFrom(
        eb
          .selectFrom('contracts')
          .select(['contracts.id', 'contracts.playbook', 'contracts.status', 'contracts.incident_id'])
          .where('contracts.service', '=', request.service)
          .where('contracts.environment', '=', request.environment)
          .where('contracts.held', '=', false)
          .where('contracts.status', 'in', OPEN_STATUSES)
          .orderBy('contracts.created_at')
          .limit(1),
      ).as('open'),
    ])
    .where('controls.id', '=', 1)
    .executeTakeFirstOrThrow();
  const { known, open, ...controls } = row;
  return { known: Boolean(known), open: (open ?? undefined) as AdmissionRead['open'], controls };
}

/** Statuses a worker has something to do in (run it, record a lost worker's action, restore a snapshot). */
export const WORK_STATUSES: readonly ContractStatus[] = ['approved', 'snapshotted', 'executing', 'rolling_back'];

/**
 * Lock the oldest `limit` contracts with work to do now (an approved or snapshotted one to run, a rollback to do,
 * or one whose worker's lease ran out) for the claiming transaction, which leases each in the same update as its
 * next status. SKIP LOCKED: replicas never claim the same contract.
 */
export async function lockWork(trx: Transaction<Database>, limit: number): Promise<ContractRow[]> {
  return trx
    .selectFrom('contracts')
    .selectAll()
    .where('status', 'in', WORK_STATUSES)
    .where('held', '=', false)
    .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', sql<Date>`now()`)]))
    .orderBy('created_at')
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .execute();
}

/** A lease that runs out `ms` from now by the database's clock (the one claims compare with). */
export const leaseFor = (ms: number) => sql<Date>`now() + make_interval(secs => ${ms / 1000})`;

/** Lock a claimed contract for its next step; undefined when the lease was lost to another worker. */
export async function lockOwnedContract(
  trx: Transaction<Database>,
  id: string,
  owner: string,
): Promise<ContractRow | undefined> {
  return trx
    .selectFrom('contracts')
    .selectAll()
    .where('id', '=', id)
    .where('lease_owner', '=', owner)
    .forUpdate()
    .executeTakeFirst();
}

export async function insertSnapshot(trx: Db, row: Insertable<SnapshotsTable>): Promise<void> {
  await trx.insertInto('snapshots').values(row).execute();
}

export async function getSnapshot(db: Db, id: string): Promise<SnapshotRow | undefined> {
  return db.selectFrom('snapshots').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function markSnapshotRestored(trx: Db, id: string, at: Date): Promise<void> {
  await trx.updateTable('snapshots').set({ restored_at: at }).where('id', '=', id).execute();
}

export async function insertApproval(trx: Db, row: Insertable<ApprovalsTable>): Promise<void> {
  await trx.insertInto('approvals').values(row).execute();
}

export async function lockApproval(trx: Transaction<Database>, id: string): Promise<ApprovalRow | undefined> {
  return trx.selectFrom('approvals').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
}

export async function getApproval(db: Db, id: string): Promise<ApprovalRow | undefined> {
  return db.selectFrom('approvals').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function setApprovalStatus(trx: Db, id: string, status: ApprovalRow['status'], at: Date): Promise<void> {
  await trx.updateTable('approvals').set({ status, decided_at: at }).where('id', '=', id).execute();
}

/** Pending approvals past their expiry, locked (SKIP LOCKED: one replica expires each). */
export async function lockExpiredApprovals(
  trx: Transaction<Database>,
  now: Date,
  limit: number,
): Promise<ApprovalRow[]> {
  return trx
    .selectFrom('approvals')
    .selectAll()
    .where('status', '=', 'pending')
    .where('expires_at', '<=', now)
    .orderBy('expires_at')
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .execute();
}

export async function pendingApprovals(
  db: Db,
  filter: { service?: string; environment?: string; after?: { requestedAt: string; id: string }; limit: number },
): Promise<(ApprovalRow & { contract: ContractRow })[]> {
  let query = db
    .selectFrom('approvals')
    .innerJoin('contracts', 'contracts.id', 'approvals.contract_id')
    .selectAll('approvals')
    .select((eb) => eb.fn('to_jsonb', [eb.table('contracts')]).as('contract'))
    .where('approvals.status', '=', 'pending');
  if (filter.service) query = query.where('contracts.service', '=', filter.service);
  if (filter.environment) query = query.where('contracts.environment', '=', filter.environment);
  if (filter.after) {
    const { requestedAt, id } = filter.after;
    query = query.where((eb) =>
      eb.or([
        eb('approvals.requested_at', '>', new Date(requestedAt)),
        eb.and([eb('approvals.requested_at', '=', new Date(requestedAt)), eb('approvals.id', '>', id)]),
      ]),
    );
  }
  const rows = await query.orderBy('approvals.requested_at').orderBy('approvals.id').limit(filter.limit).execute();
  return rows as unknown as (ApprovalRow & { contract: ContractRow })[];
}

export async function insertVote(trx: Db, row: Insertable<VotesTable>): Promise<boolean> {
  const inserted = await trx
    .insertInto('votes')
    .values(row)
    .onConflict((oc) => oc.column('vote_id').doNothing())
    .returning('vote_id')
    .executeTakeFirst();
  return inserted !== undefined;
}

export async function votesOf(db: Db, approvalId: string): Promise<VoteRow[]> {
  return db
    .selectFrom('votes')
    .selectAll()
    .where('approval_id', '=', approvalId)
    .orderBy('recorded_at')
    .orderBy('vote_id')
    .execute();
}

/** Contracts held by the pause switch, oldest first, locked for admission. */
export async function lockHeldContracts(trx: Transaction<Database>, limit: number): Promise<ContractRow[]> {
  return trx
    .selectFrom('contracts')
    .selectAll()
    .where('held', '=', true)
    .orderBy('created_at')
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .execute();
}

export async function countContracts(db: Db, where: 'held' | 'open'): Promise<number> {
  let query = db.selectFrom('contracts').select((eb) => eb.fn.countAll<string>().as('n'));
  query =
    where === 'held'
      ? query.where('held', '=', true)
      : query.where('held', '=', false).where('status', 'in', OPEN_STATUSES);
  const row = await query.executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function readControls(db: Db): Promise<Selectable<ControlsTable>> {
  return db.selectFrom('controls').selectAll().where('id', '=', 1).executeTakeFirstOrThrow();
}

export async function lockControls(trx: Transaction<Database>): Promise<Selectable<ControlsTable>> {
  return trx.selectFrom('controls').selectAll().where('id', '=', 1).forUpdate().executeTakeFirstOrThrow();
}

export async function writeControls(
  trx: Db,
  changes: { paused: boolean; paused_by: string | null; paused_at: Date | null; reason: string | null },
): Promise<void> {
  await trx
    .updateTable('controls')
    .set({ ...changes, updated_at: new Date() })
    .where('id', '=', 1)
    .execute();
}

// ---- audit chain ----

export interface AuditStep {
  step: string;
  actor: string;
  contract_id?: string | null;
  action_id?: string | null;
  detail: Json;
}

/**
 * Append entries to the audit chain, in one round trip (the schema's `append_audit`, migration 0002). The chain
 * is one sequence across replicas, so appends are serialised with a transaction-scoped advisory lock; a step's entries
 * come here last in its transaction (inStep, through the kit's lastInTransaction), so the lock is held for this
 * statement and the commit only. Each entry's hash is `hashEntry`'s: the
 * SHA-256 of its canonical JSON, built here around the two fields only the chain's end knows (`prev_hash` and
 * `seq`, whose keys sort between `detail` and `step`).
 */
export async function appendAudit(trx: Transaction<Database>, steps: readonly AuditStep[]): Promise<void> {
  if (steps.length === 0) return;
  const at = new Date().toISOString();
  const entries = steps.map((s) => ({
    at,
    step: s.step,
    actor: s.actor,
    contract_id: s.contract_id ?? null,
    action_id: s.action_id ?? null,
    detail: s.detail,
  }));
  // canonicalJson({ action_id, actor, at, contract_id, detail, prev_hash, seq, step }) =
  //   prefix + prev_hash + '","seq":' + seq + suffix
  const prefixes = entries.map(({ step: _step, ...head }) => `${canonicalJson(head).slice(0, -1)},"prev_hash":"`);
  const suffixes = entries.map((e) => `,"step":${canonicalJson(e.step)}}`);
  await sql`select append_audit(${at}::timestamptz, ${prefixes}::text[], ${suffixes}::text[],
      ${entries.map((e) => e.step)}::text[], ${entries.map((e) => e.actor)}::text[],
      ${entries.map((e) => e.contract_id)}::uuid[], ${entries.map((e) => e.action_id)}::text[],
      ${entries.map((e) => json(e.detail))}::jsonb[])`.execute(trx);
}

const toStored = (row: Selectable<AuditEntriesTable>): StoredAuditEntry => ({
  seq: Number(row.seq),
  at: new Date(row.at).toISOString(),
  step: row.step,
  actor: row.actor,
  contract_id: row.contract_id,
  action_id: row.action_id,
  detail: row.detail,
  prev_hash: row.prev_hash,
  hash: row.hash,
});

export async function auditEntries(
  db: Db,
  filter: { contract_id?: string; action_id?: string; afterSeq?: number; limit: number },
): Promise<StoredAuditEntry[]> {
  let query = db.selectFrom('audit_entries').selectAll();
  if (filter.contract_id) query = query.where('contract_id', '=', filter.contract_id);
  if (filter.action_id) query = query.where('action_id', '=', filter.action_id);
  if (filter.afterSeq !== undefined) query = query.where('seq', '>', String(filter.afterSeq) as never);
  const rows = await query.orderBy('seq').limit(filter.limit).execute();
  return rows.map(toStored);
}
