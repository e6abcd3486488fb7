// executor.query.* (a contract with snapshot, approval and audit; pending approvals; the audit chain and its
// verification) and executor.control.* (the pause switch; resume admits the held actions).
import type { QueryReply, QueryRequest } from '@grace/contracts';
import { decodeCursor, encodeCursor, QueryError, type Logger, type ServiceRuntime } from '@grace/service-kit';
import type { Kysely } from 'kysely';
import { admitContract } from './admission.js';
import { approvalFields, recordedVote } from './approvals.js';
import { CHAIN_START, verifyEntries, type ChainVerification } from './domain/audit-chain.js';
import { ACTOR, audit, inStep, originOf, planOf, type ExecutorDeps } from './lifecycle.js';
import {
  auditEntries,
  countContracts,
  getApproval,
  getContract,
  getSnapshot,
  lockControls,
  lockHeldContracts,
  pendingApprovals,
  readControls,
  updateContract,
  votesOf,
  writeControls,
  type ApprovalRow,
  type ContractRow,
  type Database,
} from './store.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const iso = (value: Date | string) => new Date(value).toISOString();

function contractOf(c: ContractRow) {
  return {
    contract_id: c.id,
    action_id: c.action_id,
    ...originOf(c),
    ...planOf(c),
    idempotency_key: c.idempotency_key,
    attempt: c.attempt,
    requested_by: c.requested_by,
    status: c.status,
    dry_run: c.dry_run,
    ...(c.approval_id ? { approval_id: c.approval_id } : {}),
    ...(c.snapshot_id ? { snapshot_id: c.snapshot_id } : {}),
    ...(c.result ? { result: c.result } : {}),
    ...(c.actual_state ? { actual_state: c.actual_state } : {}),
    ...(c.verdict ? { verdict: c.verdict } : {}),
    ...(c.confidence !== null ? { confidence: c.confidence } : {}),
    ...(c.error ? { error: c.error.slice(0, 4096) } : {}),
    created_at: iso(c.created_at),
    updated_at: iso(c.updated_at),
  };
}

async function approvalOf(db: Kysely<Database>, approval: ApprovalRow, contract: ContractRow) {
  const votes = await votesOf(db, approval.id);
  return {
    ...approvalFields(contract, approval),
    plan: planOf(contract),
    requested_by: contract.requested_by,
    reason: approval.reason,
    requested_at: iso(approval.requested_at),
    expires_at: iso(approval.expires_at),
    status: approval.status,
    votes: votes.slice(0, 64).map(recordedVote),
  };
}

export function contractQuery(db: Kysely<Database>) {
  return async (req: QueryRequest<'executor.query.contract'>): Promise<QueryReply<'executor.query.contract'>> => {
    if (req.contract_id && !UUID.test(req.contract_id))
      throw new QueryError('not_found', `no contract ${req.contract_id}`);
    const contract = await getContract(db, req);
    if (!contract) throw new QueryError('not_found', `no contract ${req.contract_id ?? `for action ${req.action_id}`}`);
    const [snapshot, approval, entries] = await Promise.all([
      contract.snapshot_id ? getSnapshot(db, contract.snapshot_id) : undefined,
      contract.approval_id ? getApproval(db, contract.approval_id) : undefined,
      auditEntries(db, { contract_id: contract.id, limit: 200 }),
    ]);
    return {
      contract: contractOf(contract),
      ...(snapshot
        ? {
            snapshot: {
              snapshot_id: snapshot.id,
              contract_id: snapshot.contract_id,
              adapter: contract.adapter,
              target: snapshot.target,
              state: snapshot.state,
              taken_at: iso(snapshot.taken_at),
              ...(snapshot.restored_at ? { restored_at: iso(snapshot.restored_at) } : {}),
            },
          }
        : {}),
      ...(approval ? { approval: await approvalOf(db, approval, contract) } : {}),
      audit: entries.map(({ contract_id, action_id, ...e }) => ({
        ...e,
        ...(contract_id ? { contract_id } : {}),
        ...(action_id ? { action_id } : {}),
      })),
    };
  };
}

export function approvalsQuery(db: Kysely<Database>) {
  return async (req: QueryRequest<'executor.query.approvals'>): Promise<QueryReply<'executor.query.approvals'>> => {
    const limit = req.limit ?? 50;
    let after: { requestedAt: string; id: string } | undefined;
    if (req.cursor) {
      const [requestedAt, id] = decodeCursor(req.cursor, 2) as [string, string];
      if (Number.isNaN(Date.parse(requestedAt)) || !UUID.test(id))
        throw new QueryError('invalid_request', 'cursor is not one this service gave out');
      after = { requestedAt, id };
    }
    const rows = await pendingApprovals(db, {
      ...(req.service ? { service: req.service } : {}),
      ...(req.environment ? { environment: req.environment } : {}),
      ...(after ? { after } : {}),
      limit: limit + 1,
    });
    const page = rows.slice(0, limit);
    const items = await Promise.all(
      page.map(({ contract, ...approval }) =>
        approvalOf(db, approval as ApprovalRow, {
          ...contract,
          created_at: new Date(contract.created_at),
          updated_at: new Date(contract.updated_at),
        }),
      ),
    );
    const last = page[page.length - 1];
    return {
      items,
      ...(rows.length > limit && last ? { next_cursor: encodeCursor([iso(last.requested_at), last.id]) } : {}),
    };
  };
}

/** Re-hash the whole chain page by page: the first broken link, if a row was altered or deleted. */
export async function verifyAuditChain(db: Kysely<Database>, pageSize = 1_000): Promise<ChainVerification> {
  let position = CHAIN_START;
  let checked = 0;
  for (;;) {
    const page = await auditEntries(db, { afterSeq: position.nextSeq - 1, limit: pageSize });
    // A gap at the very start of the page (rows deleted) shows as a seq other than the one expected.
    const result = verifyEntries(page, position);
    if (result.broken) return { ok: false, checked, first_broken_seq: result.broken.seq, reason: result.broken.reason };
    checked += page.length;
    position = result.position;
    if (page.length < pageSize) return { ok: true, checked };
  }
}

export function auditQuery(db: Kysely<Database>) {
  return async (req: QueryRequest<'executor.query.audit'>): Promise<QueryReply<'executor.query.audit'>> => {
    if (req.contract_id && !UUID.test(req.contract_id)) return { entries: [] };
    const limit = req.limit ?? 100;
    const entries = await auditEntries(db, {
      ...(req.contract_id ? { contract_id: req.contract_id } : {}),
      ...(req.action_id ? { action_id: req.action_id } : {}),
      ...(req.after_seq !== undefined ? { afterSeq: req.after_seq } : {}),
      limit,
    });
    const last = entries[entries.length - 1];
    return {
      entries: entries.map(({ contract_id, action_id, ...e }) => ({
        ...e,
        ...(contract_id ? { contract_id } : {}),
        ...(action_id ? { action_id } : {}),
      })),
      ...(entries.length === limit && last ? { next_seq: last.seq } : {}),
      ...(req.verify ? { verification: await verifyAuditChain(db) } : {}),
    };
  };
}

async function executorStatus(db: Kysely<Database>, globalDryRun: boolean) {
  const [controls, held, open] = await Promise.all([
    readControls(db),
    countContracts(db, 'held'),
    countContracts(db, 'open'),
  ]);
  return {
    paused: controls.paused,
    ...(controls.paused_by ? { paused_by: controls.paused_by } : {}),
    ...(controls.paused_at ? { paused_at: iso(controls.paused_at) } : {}),
    ...(controls.reason ? { reason: controls.reason } : {}),
    held_actions: held,
    open_contracts: open,
    dry_run: globalDryRun,
  };
}

export function statusQuery(db: Kysely<Database>, deps: ExecutorDeps) {
  return async (): Promise<QueryReply<'executor.control.status'>> => executorStatus(db, deps.globalDryRun);
}

export function pauseQuery(runtime: ServiceRuntime<Database, unknown>, deps: ExecutorDeps) {
  return async (req: QueryRequest<'executor.control.pause'>): Promise<QueryReply<'executor.control.pause'>> => {
    await runtime.transaction((trx, emit, afterCommit) =>
      inStep({ trx, emit, afterCommit, log: runtime.log }, async (step) => {
        const controls = await lockControls(trx);
        if (controls.paused) return;
        await writeControls(trx, { paused: true, paused_by: req.by, paused_at: step.now, reason: req.reason });
        audit(step, undefined, 'control.paused', { reason: req.reason }, `user:${req.by}`);
      }),
    );
    runtime.log.warn({ by: req.by, reason: req.reason }, 'paused: new actions are held');
    return executorStatus(runtime.db, deps.globalDryRun);
  };
}

export function resumeQuery(runtime: ServiceRuntime<Database, unknown>, deps: ExecutorDeps) {
  return async (req: QueryRequest<'executor.control.resume'>): Promise<QueryReply<'executor.control.resume'>> => {
    await runtime.transaction((trx, emit, afterCommit) =>
      inStep({ trx, emit, afterCommit, log: runtime.log }, async (step) => {
        const controls = await lockControls(trx);
        if (!controls.paused) return;
        await writeControls(trx, { paused: false, paused_by: null, paused_at: null, reason: null });
        audit(step, undefined, 'control.resumed', { ...(req.reason ? { reason: req.reason } : {}) }, `user:${req.by}`);
      }),
    );
    runtime.log.warn({ by: req.by }, 'resumed: held actions are admitted');
    await releaseHeld(runtime, deps, runtime.log);
    return executorStatus(runtime.db, deps.globalDryRun);
  };
}

/**
 * Admit the actions the pause switch held, oldest first, each in its own transaction: a pending one goes through
 * the constitution and policy as if it had just arrived; an approved one simply runs.
 */
export async function releaseHeld(runtime: ServiceRuntime<Database, unknown>, deps: ExecutorDeps, log: Logger) {
  let released = 0;
  for (;;) {
    const progressed = await runtime.transaction(async (trx, emit, afterCommit) => {
      const [held] = await lockHeldContracts(trx, 1);
      if (!held) return false;
      if ((await readControls(trx)).paused) return false;
      await inStep({ trx, emit, afterCommit, log }, async (step) => {
        if (held.status === 'pending' && held.approval_id === null) {
          await admitContract(step, deps, { ...held, held: false });
        } else {
          const row = await updateContract(trx, held.id, { held: false });
          audit(step, row, 'constitution.released', { status: row.status }, ACTOR);
        }
      });
      return true;
    });
    if (!progressed) break;
    released += 1;
  }
  if (released > 0) {
    log.info({ released }, 'held actions released');
    deps.wake();
  }
  return released;
}
