// Admission of a new contract: the constitution (pause switch, one open contract per target, action budget), then
// the policy (deny, raise the tier, require approval, dry run), then approval or straight to the workers.
import { randomUUID } from 'node:crypto';
import { AdapterError } from './adapters/adapter.js';
import { mustNext } from './domain/contract-status.js';
import { evaluatePolicy } from './domain/policy.js';
import {
  audit,
  denyContract,
  emitFor,
  planOf,
  updateWriter,
  type ExecutorDeps,
  type Step,
  type WriteContract,
} from './lifecycle.js';
import {
  actionsAdmittedOn,
  insertApproval,
  lockTarget,
  openContractOn,
  readControls,
  type ContractRow,
  type AdmissionRead,
} from './store.js';

/**
 * The previous attempt on the same incident is still waiting for its verdict here, though the sentinel asks for the
 * next attempt only once it has that verdict: the two events travel on different streams, and this executor has
 * not consumed the verdict yet. Transient: the request is delivered again (with backoff) once it has.
 */
export class VerdictPendingError extends Error {
  constructor(contractId: string) {
    super(`contract ${contractId}, the previous attempt on this incident, has not had its verdict here yet`);
    this.name = 'VerdictPendingError';
  }
}

/**
 * Decide what happens to a pending contract (new, or held by the pause switch and now resumed), and write the
 * decision in one statement: `write` (the insert of a new request's contract, or by default an update of the
 * stored row). With `waitForVerdict`, a request that follows a previous attempt still awaiting its verdict here
 * throws VerdictPendingError instead of being denied by one-open-contract-per-target. `locked`: the caller holds
 * the target's lock already.
 */
export async function admitContract(
  step: Step,
  deps: ExecutorDeps,
  contract: ContractRow,
  options: { waitForVerdict?: boolean; write?: WriteContract; locked?: boolean; read?: AdmissionRead } = {},
): Promise<ContractRow> {
  const { trx, now } = step;
  const write = options.write ?? updateWriter(step, contract);
  if (!options.locked) await lockTarget(trx, contract.service, contract.environment);

  const controls = options.read?.controls ?? (await readControls(trx));
  if (controls.paused) {
    const row = await write({ held: true });
    audit(step, row, 'constitution.held', {
      rule: 'pause-switch',
      reason: `Grace is paused by ${controls.paused_by ?? 'an admin'}: ${controls.reason ?? 'no reason given'}`,
    });
    return row;
  }

  const open = options.read
    ? options.read.open
    : await openContractOn(trx, contract.service, contract.environment, contract.id);
  if (open) {
    const previousAttempt =
      open.status === 'executed' && contract.incident_id !== null && open.incident_id === contract.incident_id;
    if (previousAttempt && options.waitForVerdict) throw new VerdictPendingError(open.id);
    return denyContract(
      step,
      deps,
      contract,
      {
        by: 'constitution',
        rule: 'one-open-contract-per-target',
        reason: `contract ${open.id} (${open.playbook}) on ${contract.service}/${contract.environment} is still ${open.status}`,
      },
      write,
    );
  }

  const { policy, version } = deps.policy();
  const decision = evaluatePolicy(policy, {
    service: contract.service,
    environment: contract.environment,
    playbook: contract.playbook,
    adapter: contract.adapter,
    action: contract.action,
    tier: contract.requested_tier,
    now,
  });
  const checked = {
    policy_version: version,
    matched: decision.matched,
    requested_tier: contract.requested_tier,
    tier: decision.tier,
    ...(decision.denied ? { denied: decision.denied } : {}),
    ...(decision.approval ? { approval: decision.approval } : {}),
    ...(decision.dryRun ? { dry_run: decision.dryRun } : {}),
  };
  /** The policy's entry; an admitted contract's says so with its plan (one entry, not a second one). */
  const policyChecked = (outcome?: Record<string, unknown>) =>
    audit(step, contract, 'policy.checked', { ...checked, ...outcome });
  /** Denied after the policy was evaluated: its entry first, then the denial. */
  const deniedAfterPolicy = (why: Parameters<typeof denyContract>[3]) => {
    policyChecked();
    return denyContract(step, deps, contract, why, write);
  };

  const { budget } = deps;
  if (decision.tier >= budget.minTier) {
    const since = new Date(now.getTime() - budget.windowMs);
    const used = await actionsAdmittedOn(
      trx,
      contract.service,
      contract.environment,
      budget.minTier,
      since,
      contract.id,
    );
    if (used >= budget.max) {
      return deniedAfterPolicy({
        by: 'constitution',
        rule: 'action-budget',
        reason: `${used} actions of tier >= ${budget.minTier} on ${contract.service}/${contract.environment} in the last ${Math.round(budget.windowMs / 60_000)} min; the budget is ${budget.max}`,
      });
    }
  }
  if (decision.denied) {
    return deniedAfterPolicy({
      by: 'policy',
      rule: decision.denied.rule,
      reason: decision.denied.reason,
      policyVersion: version,
    });
  }

  const adapter = deps.adapters[contract.adapter];
  let plan: string;
  try {
    if (!adapter)
      throw new AdapterError(deps.unavailableAdapters[contract.adapter] ?? `no ${contract.adapter} adapter`);
    plan = adapter.describe({ action: contract.action, target: contract.target, params: contract.params });
  } catch (err) {
    if (!(err instanceof AdapterError)) throw err;
    return deniedAfterPolicy({
      by: 'constitution',
      rule: 'runnable-plan',
      reason: `the ${contract.adapter} adapter cannot run this plan: ${err.message}`,
    });
  }

  const dryRun = deps.globalDryRun || decision.dryRun !== undefined;
  const admitted = {
    held: false,
    tier: decision.tier,
    dry_run: dryRun,
    plan,
    policy_version: version,
  };

  if (decision.approval) {
    const approvalId = randomUUID();
    const expiresAt = new Date(now.getTime() + decision.approval.expiresInMs);
    const row = await write({
      ...admitted,
      status: mustNext(contract.status, 'approval_requested'),
      approval_id: approvalId,
    });
    await insertApproval(trx, {
      id: approvalId,
      contract_id: row.id,
      quorum_required: decision.approval.quorum.required,
      quorum_role: decision.approval.quorum.role,
      reason: decision.approval.reason,
      rule: decision.approval.rule,
      status: 'pending',
      requested_at: now,
      expires_at: expiresAt,
    });
    emitFor(step, row)('approval.requested', {
      approval_id: approvalId,
      contract_id: row.id,
      action_id: row.action_id,
      ...(row.incident_id ? { incident_id: row.incident_id } : {}),
      quorum: decision.approval.quorum,
      plan: planOf(row),
      requested_by: row.requested_by,
      reason: decision.approval.reason,
      requested_at: now.toISOString(),
      expires_at: expiresAt.toISOString(),
    });
    policyChecked();
    audit(step, row, 'approval.requested', {
      approval_id: approvalId,
      rule: decision.approval.rule,
      quorum: decision.approval.quorum,
      expires_at: expiresAt.toISOString(),
    });
    step.afterCommit(() => deps.metrics.approvals.inc({ outcome: 'requested' }));
    return row;
  }

  const row = await write({ ...admitted, status: mustNext(contract.status, 'admitted') });
  policyChecked({ outcome: { status: row.status, dry_run: row.dry_run, plan } });
  return row;
}
