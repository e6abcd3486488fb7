// The parliament: votes on a pending approval (who counts, quorum, rejection) and approvals that expire.
import type { EventData } from '@grace/contracts';
import { PermanentError, type ServiceRuntime } from '@grace/service-kit';
import { mustNext } from './domain/contract-status.js';
import { audit, denyContract, emitFor, inStep, type ExecutorDeps, type Step } from './lifecycle.js';
import {
  insertVote,
  lockApproval,
  lockContract,
  lockExpiredApprovals,
  setApprovalStatus,
  updateContract,
  votesOf,
  type ApprovalRow,
  type ContractRow,
  type Database,
  type VoteRow,
} from './store.js';

/** Fields every approval.* event (and an approval in a query reply) carries. */
export function approvalFields(contract: ContractRow, approval: ApprovalRow) {
  return {
    approval_id: approval.id,
    contract_id: contract.id,
    action_id: contract.action_id,
    ...(contract.incident_id ? { incident_id: contract.incident_id } : {}),
    quorum: { required: approval.quorum_required, role: approval.quorum_role },
  };
}

export const recordedVote = (v: VoteRow) => ({
  voter_id: v.voter_id,
  decision: v.decision,
  cast_at: new Date(v.cast_at).toISOString(),
  counted: v.counted,
  ...(v.not_counted_reason ? { not_counted_reason: v.not_counted_reason } : {}),
});

/** Why a vote does not count towards the quorum, or undefined when it does. */
function whyNotCounted(
  vote: EventData<'approval.vote.cast'>,
  approval: ApprovalRow,
  contract: ContractRow,
  earlier: readonly VoteRow[],
): string | undefined {
  if (approval.status !== 'pending') return `the approval is already ${approval.status}`;
  if (contract.requested_by.kind === 'user' && contract.requested_by.id === vote.voter_id)
    return 'the requester of the action does not count';
  if (!vote.voter_roles.includes(approval.quorum_role))
    return `not an ${approval.quorum_role} (roles: ${vote.voter_roles.join(', ')})`;
  if (earlier.some((v) => v.counted && v.voter_id === vote.voter_id)) return 'this person already voted';
  return undefined;
}

/** Record a vote; true when it granted the approval (the action now runs). */
export async function castVote(
  step: Step,
  deps: ExecutorDeps,
  vote: EventData<'approval.vote.cast'>,
): Promise<boolean> {
  const { trx, now } = step;
  const approval = await lockApproval(trx, vote.approval_id);
  if (!approval) throw new PermanentError(`no approval ${vote.approval_id} is known to this executor`);
  const contract = await lockContract(trx, approval.contract_id);
  if (!contract) throw new PermanentError(`approval ${approval.id} has no contract`);

  if (approval.status === 'pending' && approval.expires_at.getTime() <= now.getTime()) {
    await expireApproval(step, deps, approval, contract);
    approval.status = 'expired';
  }
  const earlier = await votesOf(trx, approval.id);
  const reason = whyNotCounted(vote, approval, contract, earlier);
  const fresh = await insertVote(trx, {
    vote_id: vote.vote_id,
    approval_id: approval.id,
    voter_id: vote.voter_id,
    voter_roles: JSON.stringify(vote.voter_roles),
    decision: vote.decision,
    comment: vote.comment ?? null,
    counted: reason === undefined,
    not_counted_reason: reason ?? null,
    cast_at: vote.cast_at,
    recorded_at: now,
  });
  if (!fresh) return false;
  audit(
    step,
    contract,
    'approval.vote_recorded',
    { approval_id: approval.id, decision: vote.decision, counted: reason === undefined, ...(reason ? { reason } : {}) },
    `user:${vote.voter_id}`,
  );
  if (reason !== undefined) {
    step.log.info({ approval_id: approval.id, voter_id: vote.voter_id, reason }, 'vote recorded, not counted');
    return false;
  }

  const votes = await votesOf(trx, approval.id);
  const emit = emitFor(step, contract);
  if (vote.decision === 'reject') {
    await setApprovalStatus(trx, approval.id, 'rejected', now);
    emit('approval.rejected', {
      ...approvalFields(contract, approval),
      votes: votes.map(recordedVote),
      rejected_by: vote.voter_id,
      ...(vote.comment ? { reason: vote.comment } : {}),
      rejected_at: now.toISOString(),
    });
    step.afterCommit(() => deps.metrics.approvals.inc({ outcome: 'rejected' }));
    await denyContract(step, deps, contract, {
      by: 'policy',
      rule: `approval-rejected`,
      reason: `${vote.voter_id} rejected the action${vote.comment ? `: ${vote.comment}` : ''}`,
    });
    return false;
  }

  const approvers = new Set(votes.filter((v) => v.counted && v.decision === 'approve').map((v) => v.voter_id));
  if (approvers.size < approval.quorum_required) return false;
  await setApprovalStatus(trx, approval.id, 'granted', now);
  emit('approval.granted', {
    ...approvalFields(contract, approval),
    votes: votes.map(recordedVote),
    granted_at: now.toISOString(),
  });
  const row = await updateContract(trx, contract.id, { status: mustNext(contract.status, 'approval_granted') });
  audit(step, row, 'approval.granted', { approval_id: approval.id, approvers: [...approvers] });
  step.afterCommit(() => deps.metrics.approvals.inc({ outcome: 'granted' }));
  return true;
}

/** The quorum was not reached in time: the action never runs; the sentinel hears it as a denial. */
export async function expireApproval(step: Step, deps: ExecutorDeps, approval: ApprovalRow, contract: ContractRow) {
  const votes = await votesOf(step.trx, approval.id);
  await setApprovalStatus(step.trx, approval.id, 'expired', step.now);
  emitFor(step, contract)('approval.expired', {
    ...approvalFields(contract, approval),
    votes: votes.map(recordedVote),
    expires_at: new Date(approval.expires_at).toISOString(),
  });
  step.afterCommit(() => deps.metrics.approvals.inc({ outcome: 'expired' }));
  await denyContract(step, deps, contract, {
    by: 'policy',
    rule: 'approval-expired',
    reason: `the quorum (${approval.quorum_required} ${approval.quorum_role}) was not reached by ${new Date(approval.expires_at).toISOString()}`,
    event: 'approval_expired',
  });
}

/** End the pending approvals whose time ran out (each replica sweeps; SKIP LOCKED shares the work). */
export async function expireDueApprovals(
  runtime: Pick<ServiceRuntime<Database, unknown>, 'transaction' | 'log'>,
  deps: ExecutorDeps,
): Promise<number> {
  return runtime.transaction((trx, emit, afterCommit) =>
    inStep({ trx, emit, afterCommit, log: runtime.log }, async (step) => {
      const due = await lockExpiredApprovals(trx, step.now, 50);
      for (const approval of due) {
        const contract = await lockContract(trx, approval.contract_id);
        if (contract) await expireApproval(step, deps, approval, contract);
      }
      return due.length;
    }),
  );
}
