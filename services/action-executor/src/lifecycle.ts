// What every step of a contract's life shares: the step context, the executor's dependencies, and the event data
// built from a contract row (its plan, its origin, a denial).
import type { EventData } from '@grace/contracts';
import { lastInTransaction, type Emit, type Logger } from '@grace/service-kit';
import type { Transaction } from 'kysely';
import type { ActionAdapter, AdapterName } from './adapters/adapter.js';
import { mustNext } from './domain/contract-status.js';
import type { CompiledPolicy } from './domain/policy.js';
import type { ExecutorMetrics } from './metrics.js';
import {
  appendAudit,
  updateContract,
  type AuditStep,
  type ContractChanges,
  type ContractRow,
  type Database,
} from './store.js';

export const ACTOR = 'service:action-executor';

/** What a step runs in: a transaction, its outbox, its log and what runs after its commit. */
export interface StepContext {
  trx: Transaction<Database>;
  emit: Emit;
  log: Logger;
  /** Run after the commit (counters, wake-ups), never on rollback. */
  afterCommit(fn: () => void): void;
}

/** One transaction of a step: its state change, its events (outbox) and its audit entries commit together. */
export interface Step extends StepContext {
  now: Date;
  /**
   * Audit entries of the step: appended to the chain last in the transaction, with those of every other step and
   * batch that shares it, in one statement just before the commit (the chain's lock is held for that and the
   * commit only).
   */
  audit: AuditStep[];
}

export interface ExecutorDeps {
  policy: () => { policy: CompiledPolicy; version: string };
  adapters: Partial<Record<AdapterName, ActionAdapter>>;
  /** Why an adapter is missing (e.g. no kubeconfig), to say so in the contract. */
  unavailableAdapters: Partial<Record<AdapterName, string>>;
  globalDryRun: boolean;
  budget: { max: number; minTier: number; windowMs: number };
  metrics: ExecutorMetrics;
  /** Deliveries of an event before it is dead-lettered (the kit's MAX_ATTEMPTS). */
  maxAttempts: number;
  /** Wake the workers of this instance: a contract has work to do. */
  wake: () => void;
  /** The worker pool's start of an admitted action in its admission (WorkerPool.startOnAdmission); none: claimed. */
  starter?: {
    startOnAdmission(step: Step, row: ContractRow): Partial<ContractRow> | undefined;
    startedOnAdmission(step: Step, row: ContractRow): void;
  };
}

/** Run `fn` as a step; its audit entries are appended last in its transaction (with the other steps' there). */
export async function inStep<T>(context: StepContext, fn: (step: Step) => Promise<T>): Promise<T> {
  const { trx, emit, log, afterCommit } = context;
  const step: Step = { trx, emit, log, afterCommit, now: new Date(), audit: [] };
  const result = await fn(step);
  lastInTransaction(trx, 'audit', step.audit, (entries) => appendAudit(trx, entries));
  return result;
}

export function audit(
  step: Step,
  contract: ContractRow | undefined,
  name: string,
  detail: Record<string, unknown>,
  actor = ACTOR,
) {
  step.audit.push({
    step: name,
    actor,
    contract_id: contract?.id ?? null,
    action_id: contract?.action_id ?? null,
    detail,
  });
}

/** Events about a contract keep the correlation id and the trace of the action.requested that started it. */
export function emitFor(step: Step, contract: ContractRow): Emit {
  return (subject, data, options) =>
    step.emit(subject, data, {
      ...(contract.correlation_id ? { correlationid: contract.correlation_id } : {}),
      ...(contract.traceparent ? { traceparent: contract.traceparent } : {}),
      ...options,
    });
}

export function originOf(c: ContractRow) {
  return {
    ...(c.incident_id ? { incident_id: c.incident_id } : {}),
    ...(c.fingerprint ? { fingerprint: c.fingerprint } : {}),
    ...(c.signature ? { signature: c.signature } : {}),
  };
}

export function planOf(c: ContractRow): EventData<'approval.requested'>['plan'] {
  return {
    playbook: c.playbook,
    adapter: c.adapter,
    action: c.action,
    target: c.target,
    params: c.params,
    tier: c.tier,
    expected_effect: c.expected_effect,
    checks: c.checks,
    timeout_ms: c.timeout_ms,
  };
}

export interface Denial {
  by: 'policy' | 'constitution';
  rule: string;
  reason: string;
  policyVersion?: string;
  /** What ends it: a denial (status denied), or an approval that expired (status expired). */
  event?: 'denied' | 'approval_expired';
}

/**
 * How a step writes its contract: one update of the stored row, or (admission of a new request) its insert with
 * everything admission decided, so a contract is written once per step.
 */
export type WriteContract = (changes: ContractChanges) => Promise<ContractRow>;

export const updateWriter =
  (step: Step, contract: Pick<ContractRow, 'id'>): WriteContract =>
  (changes) =>
    updateContract(step.trx, contract.id, changes);

/** End a contract that will never run: status denied, `action.denied` naming the rule, an audit entry. */
export async function denyContract(
  step: Step,
  deps: ExecutorDeps,
  contract: ContractRow,
  denial: Denial,
  write: WriteContract = updateWriter(step, contract),
) {
  const row = await write({
    status: mustNext(contract.status, denial.event ?? 'denied'),
    held: false,
    error: `${denial.by} rule ${denial.rule}: ${denial.reason}`,
    ...(denial.policyVersion ? { policy_version: denial.policyVersion } : {}),
  });
  emitFor(step, row)('action.denied', {
    action_id: row.action_id,
    ...originOf(row),
    playbook: row.playbook,
    adapter: row.adapter,
    action: row.action,
    target: row.target,
    tier: row.tier,
    attempt: row.attempt,
    denied_by: denial.by,
    rule: denial.rule,
    ...(denial.policyVersion ? { policy_version: denial.policyVersion } : {}),
    reason: denial.reason,
    denied_at: step.now.toISOString(),
  });
  audit(step, row, `${denial.by}.denied`, { rule: denial.rule, reason: denial.reason });
  step.afterCommit(() => deps.metrics.denied.inc({ by: denial.by, rule: denial.rule }));
  step.log.info({ contract_id: row.id, rule: denial.rule, by: denial.by }, 'action denied');
  return row;
}
