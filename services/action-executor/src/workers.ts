// The worker pool: claims contracts with work to do (SKIP LOCKED, leased) and runs their steps outside any
// transaction: snapshot (tier >= 2), execute with the action's timeout, restore on drift, failure or timeout.
import { errorMessage, GroupCommit, withSpan, WorkPool, type ServiceRuntime } from '@grace/service-kit';
import type { UpdateObject } from 'kysely';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { ActionAdapter } from './adapters/adapter.js';
import { factsOf, mustNext, next as nextStatus, type ContractEvent } from './domain/contract-status.js';
import { audit, emitFor, inStep, originOf, planOf, type ExecutorDeps, type Step } from './lifecycle.js';
import {
  getSnapshot,
  insertSnapshot,
  leaseFor,
  lockOwnedContract,
  lockWork,
  markSnapshotRestored,
  readControls,
  updateContract,
  updateContractIf,
  type ContractRow,
  type Database,
} from './store.js';

export interface WorkerSettings {
  workers: number;
  pollMs: number;
  leaseMarginMs: number;
  snapshotTimeoutMs: number;
  restoreAttempts: number;
  restoreRetryMs: number;
}

type Outcome<T> = { ok: true; value: T } | { ok: false; timedOut: boolean; message: string };

/**
 * A claimed contract; `started`: the claim itself started its execution (the adapter is called next);
 * `handedAt`: started by its admission and handed over in memory then (startOnAdmission).
 */
interface Claimed {
  contract: ContractRow;
  started: boolean;
  handedAt?: number;
}

/**
 * One step of a claimed contract: the one update it makes to the contract (from the row as it is), and what it does
 * once that update is in (audit, emit, other rows), given the updated row and the row it was computed from.
 */
interface StepPlan {
  changes: (step: Step, row: ContractRow) => UpdateObject<Database, 'contracts'>;
  then?: (
    step: Step,
    next: ContractRow,
    row: ContractRow,
  ) => Promise<ContractRow | undefined> | ContractRow | undefined;
}

/** The lease released, in the same update as a step's last status. */
const RELEASED = { lease_owner: null, lease_until: null } as const;

/**
 * Run an adapter call bounded by `timeoutMs`: the signal fires at the timeout and the worker stops waiting then,
 * whatever the adapter does, so a hanging target never holds a worker.
 */
async function bounded<T>(timeoutMs: number, call: (signal: AbortSignal) => Promise<T>): Promise<Outcome<T>> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Outcome<T>>((resolve) => {
    timer = setTimeout(() => {
      controller.abort();
      resolve({ ok: false, timedOut: true, message: `no answer within ${timeoutMs} ms` });
    }, timeoutMs);
  });
  const attempt = call(controller.signal).then(
    (value): Outcome<T> => ({ ok: true, value }),
    (err: unknown): Outcome<T> => ({ ok: false, timedOut: controller.signal.aborted, message: errorMessage(err) }),
  );
  try {
    return await Promise.race([attempt, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export class WorkerPool {
  private readonly owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly pool: WorkPool<Claimed>;
  /** The steps that finish while a transaction is in flight commit together in the next one. */
  private readonly steps: GroupCommit<Step>;

  constructor(
    private readonly runtime: ServiceRuntime<Database, unknown>,
    private readonly deps: ExecutorDeps,
    private readonly settings: WorkerSettings,
  ) {
    this.pool = new WorkPool({
      workers: settings.workers,
      pollMs: settings.pollMs,
      claim: async () => (await this.claim(1))[0],
      claimMany: (max) => this.claim(max),
      // A contract's steps run in a span of the trace of the action.requested that made it (tracing on).
      run: (claimed) =>
        withSpan(
          `run ${claimed.contract.playbook}`,
          {
            parent: claimed.contract.traceparent,
            attributes: {
              'grace.contract_id': claimed.contract.id,
              'grace.action_id': claimed.contract.action_id,
              'grace.adapter': claimed.contract.adapter,
              'grace.action': claimed.contract.action,
            },
          },
          () => this.run(claimed),
        ),
      log: runtime.log,
      onBusy: (change) => deps.metrics.workersBusy.inc(change),
    });
    this.steps = new GroupCommit<Step>(
      (body) =>
        runtime.transaction((trx, emit, afterCommit) => inStep({ trx, emit, afterCommit, log: runtime.log }, body)),
      { max: settings.workers, log: runtime.log },
    );
  }

  start(): void {
    this.pool.start();
  }

  /** Stop claiming; steps in flight finish (each is bounded by its action's timeout). */
  stop(): Promise<void> {
    return this.pool.stop();
  }

  wake(): void {
    this.pool.wake();
  }

  /**
   * The changes that start an admitted tier-1 action in its admission's own transaction, when a worker of this
   * instance is free for it: the contract is inserted executing and leased to this instance, as the claim would
   * have left it (the start is recorded before the adapter is called), and `startedOnAdmission` hands it over
   * after the commit, so no claim statement and no claim transaction run for it. Undefined: the workers claim it.
   */
  startOnAdmission(step: Step, row: ContractRow) {
    if (row.status !== 'approved' || row.dry_run || row.held || !nextStatus(row.status, 'started', factsOf(row)).ok)
      return undefined;
    if (!this.pool.reserve()) return undefined;
    return {
      status: mustNext(row.status, 'started', factsOf(row)),
      started_at: step.now,
      lease_owner: this.owner,
      lease_until: new Date(step.now.getTime() + row.timeout_ms + this.settings.leaseMarginMs),
    };
  }

  /** Audit the start of a contract startOnAdmission started, and hand it to a worker once it committed. */
  startedOnAdmission(step: Step, row: ContractRow): void {
    this.auditStart(step, row);
    step.afterCommit(() => this.pool.hand([{ contract: row, started: true, handedAt: Date.now() }]));
  }

  /**
   * One step in a transaction, only while this worker still holds the contract's lease. Its update is computed from
   * the row as this worker last wrote it and guarded by exactly that (status, lease owner, version), so the step is
   * one statement; a row that changed since is read under its lock and the update computed again from it. Steps of
   * other contracts that are ready at the same time share the transaction (group commit) and its one audit append.
   */
  private step(contract: ContractRow, plan: StepPlan): Promise<ContractRow | undefined> {
    return this.steps.submit(async (shared) => {
      const step = { ...shared, log: this.runtime.log.child({ contract_id: contract.id }) };
      let row = contract;
      let next = await updateContractIf(
        step.trx,
        row.id,
        { status: row.status, lease_owner: this.owner, updated_at: row.updated_at },
        plan.changes(step, row),
      );
      if (!next) {
        const locked = await lockOwnedContract(step.trx, contract.id, this.owner);
        if (!locked) return undefined;
        row = locked;
        next = await updateContract(step.trx, row.id, plan.changes(step, row));
      }
      return plan.then ? plan.then(step, next, row) : next;
    });
  }

  /**
   * Claim the oldest contracts with work to do, up to `max`, in one transaction that leases each and, when it is
   * ready to run (an approved tier-1 action, a snapshotted one), starts it in the same update: claim and start are
   * one write. An approved one found paused is held instead (the pause switch is read in the claim's transaction),
   * and the claim looks again.
   */
  private async claim(max: number): Promise<Claimed[]> {
    for (;;) {
      const { claimed, held } = await this.runtime.transaction((trx, emit, afterCommit) =>
        inStep({ trx, emit, afterCommit, log: this.runtime.log }, async (step) => {
          const out: { claimed: Claimed[]; held: number } = { claimed: [], held: 0 };
          let paused: boolean | undefined;
          for (const row of await lockWork(trx, max)) {
            // Approved but paused since: held until resume, never snapshotted nor run while paused.
            if (row.status === 'approved' && (paused ??= (await readControls(trx)).paused)) {
              await this.holdIn(step, row);
              out.held++;
              continue;
            }
            // Ready to start (the status machine says: an approved tier-1 action, a snapshotted one)?
            const runsNow = !row.dry_run && nextStatus(row.status, 'started', factsOf(row)).ok;
            out.claimed.push(
              runsNow
                ? { contract: await this.startIn(step, row), started: true }
                : {
                    contract: await updateContract(trx, row.id, {
                      lease_owner: this.owner,
                      lease_until: leaseFor(this.settings.leaseMarginMs + 60_000),
                    }),
                    started: false,
                  },
            );
          }
          return out;
        }),
      );
      if (claimed.length > 0 || held === 0) return claimed;
    }
  }

  /** Record the start before the adapter is called (a lost worker's action is then known to have maybe run). */
  private async startIn(step: Step, row: ContractRow): Promise<ContractRow> {
    const next = await updateContract(step.trx, row.id, this.startChanges(step, row, row.status));
    this.auditStart(step, next);
    return next;
  }

  private startChanges(step: Step, row: ContractRow, from: ContractRow['status']) {
    return {
      status: mustNext(from, 'started', factsOf(row)),
      started_at: step.now,
      lease_owner: this.owner,
      lease_until: leaseFor(row.timeout_ms + this.settings.leaseMarginMs),
    };
  }

  private auditStart(step: Step, row: ContractRow) {
    audit(step, row, 'execution.started', { adapter: row.adapter, action: row.action, plan: row.plan });
  }

  /** Take a claimed contract through its steps until it waits for someone else (a verdict) or ends. */
  private async run(claimed: Claimed): Promise<void> {
    let contract: ContractRow | undefined = claimed.contract;
    let started = claimed.started;
    // Handed over, it waited for a worker longer than its lease allows for: renewed before the adapter is
    // called, or left to whoever took it over.
    if (claimed.handedAt !== undefined && Date.now() - claimed.handedAt > this.settings.leaseMarginMs / 2)
      contract = await this.step(contract, {
        changes: (_step, row) => ({ lease_until: leaseFor(row.timeout_ms + this.settings.leaseMarginMs) }),
      });
    while (contract) {
      const adapter: ActionAdapter | undefined = this.deps.adapters[contract.adapter];
      switch (contract.status) {
        case 'approved':
          contract = contract.tier >= 2 ? await this.prepare(contract, adapter) : await this.execute(contract, adapter);
          break;
        case 'snapshotted':
          contract = await this.execute(contract, adapter);
          break;
        case 'executing':
          // Started by this claim: run it. Claimed with the status executing: its worker was lost.
          contract = started ? await this.act(contract, adapter) : await this.interrupted(contract);
          break;
        case 'rolling_back':
          contract = await this.restore(contract, adapter);
          break;
        default:
          await this.release(contract);
          contract = undefined;
      }
      started = false;
    }
  }

  private async release(contract: ContractRow): Promise<void> {
    await this.runtime.db
      .updateTable('contracts')
      .set(RELEASED)
      .where('id', '=', contract.id)
      .where('lease_owner', '=', this.owner)
      .execute();
  }

  /** Held by the pause switch: released on resume. */
  private async holdIn(step: Step, row: ContractRow) {
    const held = await updateContract(step.trx, row.id, { held: true, ...RELEASED });
    audit(step, held, 'constitution.held', { rule: 'pause-switch', reason: 'Grace was paused before it ran' });
  }

  /** Tier >= 2: no snapshot, no action. */
  private async prepare(contract: ContractRow, adapter: ActionAdapter | undefined) {
    const taken = adapter
      ? await this.timed(adapter, 'snapshot', this.settings.snapshotTimeoutMs, (signal) =>
          adapter.snapshot(
            { contract_id: contract.id, action: contract.action, target: contract.target, params: contract.params },
            signal,
          ),
        )
      : ({ ok: false, timedOut: false, message: `no ${contract.adapter} adapter` } as const);
    if (!taken.ok) {
      const error = `snapshot failed, so nothing was done (no snapshot, no action): ${taken.message}`;
      await this.step(contract, this.finishing('failed', {}, 'snapshot_failed', error, { carriedOut: false }));
      return undefined;
    }
    const snapshotId = randomUUID();
    const prepared = await this.step(contract, {
      // The snapshot and the start commit together, before the adapter is called: snapshot before action, in one
      // update (approved -> snapshotted -> executing). A dry run stops at snapshotted and is recorded next.
      changes: (step, row) => {
        const snapshotted = { ...row, snapshot_id: snapshotId };
        const status = mustNext(row.status, 'snapshot_taken', factsOf(snapshotted));
        return {
          snapshot_id: snapshotId,
          ...(row.dry_run ? { status } : this.startChanges(step, snapshotted, status)),
        };
      },
      then: async (step, next, row) => {
        await insertSnapshot(step.trx, {
          id: snapshotId,
          contract_id: row.id,
          adapter: row.adapter,
          target: JSON.stringify(row.target),
          state: JSON.stringify(taken.value),
          taken_at: step.now,
        });
        audit(step, next, 'snapshot.taken', { snapshot_id: snapshotId, state: taken.value });
        if (!row.dry_run) this.auditStart(step, next);
        return next;
      },
    });
    return prepared?.status === 'executing' ? this.act(prepared, adapter) : prepared;
  }

  /** Approved (tier 1) or snapshotted: start it, then run the action. A dry run is recorded instead. */
  private async execute(contract: ContractRow, adapter: ActionAdapter | undefined) {
    if (contract.dry_run) return this.step(contract, this.finishing('dry_run', {}, 'dry_run_recorded'));
    const started = await this.step(contract, {
      changes: (step, row) => this.startChanges(step, row, row.status),
      then: (step, next) => {
        this.auditStart(step, next);
        return next;
      },
    });
    return started ? this.act(started, adapter) : undefined;
  }

  /** Executing (started by this worker): run the action through its adapter, bounded by its timeout. */
  private async act(started: ContractRow, adapter: ActionAdapter | undefined) {
    const outcome = adapter
      ? await this.timed(adapter, 'execute', started.timeout_ms, (signal) =>
          adapter.execute(
            {
              contract_id: started.id,
              action_id: started.action_id,
              idempotency_key: started.idempotency_key,
              action: started.action,
              target: started.target,
              params: started.params,
              timeout_ms: started.timeout_ms,
            },
            signal,
          ),
        )
      : ({ ok: false, timedOut: false, message: `no ${started.adapter} adapter` } as const);
    if (outcome.ok) {
      const { status, actual_state, message } = outcome.value;
      const error = status === 'failed' ? (message ?? 'the adapter reported a failure') : undefined;
      return this.step(started, this.finishing(status, actual_state, 'executed', error));
    }
    if (outcome.timedOut) return this.step(started, this.finishing('timed_out', {}, 'cut_short', outcome.message));
    // Without an adapter the target was never called: nothing to verify.
    return this.step(
      started,
      this.finishing('failed', {}, 'executed', outcome.message, { carriedOut: adapter !== undefined }),
    );
  }

  /** A contract left executing by a worker that stopped: the target may or may not have acted. */
  private interrupted(contract: ContractRow) {
    return this.step(
      contract,
      this.finishing(
        'failed',
        {},
        'cut_short',
        'interrupted: the worker running the action stopped before it reported; the target may or may not have acted',
      ),
    );
  }

  /**
   * Record what execution gave and publish action.executed, in one update that also releases the lease unless a
   * rollback follows. The event decides what is next (the status machine): wait for the verifier's verdict
   * (executed, dry_run_recorded); roll back at once (cut_short: a timed-out or interrupted execution, with a
   * snapshot); or end failed (cut_short without a snapshot, snapshot_failed: nothing was done).
   */
  private finishing(
    result: 'succeeded' | 'failed' | 'timed_out' | 'dry_run',
    actualState: Record<string, unknown>,
    event: Extract<ContractEvent, 'executed' | 'dry_run_recorded' | 'cut_short' | 'snapshot_failed'>,
    error?: string,
    { carriedOut = true }: { carriedOut?: boolean } = {},
  ): StepPlan {
    return {
      changes: (step, row) => {
        const status = mustNext(row.status, event, factsOf(row));
        const rollBack = status === 'rolling_back';
        return {
          status,
          ...(rollBack ? {} : RELEASED),
          result,
          actual_state: JSON.stringify(actualState),
          error: error ?? null,
          started_at: row.started_at ?? step.now,
          finished_at: step.now,
          ...(rollBack
            ? {
                rollback_trigger: result === 'timed_out' ? ('timed_out' as const) : ('failed' as const),
                rollback_reason: error ?? result,
              }
            : {}),
        };
      },
      then: (step, next) => this.finished(step, next, result, actualState, error, carriedOut),
    };
  }

  private finished(
    step: Step,
    next: ContractRow,
    result: 'succeeded' | 'failed' | 'timed_out' | 'dry_run',
    actualState: Record<string, unknown>,
    error: string | undefined,
    carriedOut: boolean,
  ): ContractRow | undefined {
    const startedAt = next.started_at ?? step.now;
    emitFor(step, next)('action.executed', {
      contract_id: next.id,
      action_id: next.action_id,
      ...originOf(next),
      ...planOf(next),
      attempt: next.attempt,
      result,
      ...(error ? { error: error.slice(0, 4096) } : {}),
      actual_state: actualState,
      ...(next.snapshot_id ? { snapshot_id: next.snapshot_id } : {}),
      ...(carriedOut ? {} : { carried_out: false }),
      started_at: new Date(startedAt).toISOString(),
      finished_at: step.now.toISOString(),
      duration_ms: Math.max(0, step.now.getTime() - new Date(startedAt).getTime()),
    });
    audit(step, next, 'execution.finished', { result, ...(error ? { error } : {}), actual_state: actualState });
    step.afterCommit(() => this.deps.metrics.executed.inc({ adapter: next.adapter, result }));
    return next.status === 'rolling_back' ? next : undefined;
  }

  /** Put the snapshot back; a failed restore is retried RESTORE_ATTEMPTS times, then left failed for a human. */
  private async restore(contract: ContractRow, adapter: ActionAdapter | undefined) {
    const snapshot = contract.snapshot_id ? await getSnapshot(this.runtime.db, contract.snapshot_id) : undefined;
    const trigger = contract.rollback_trigger ?? 'failed';
    const started = new Date();
    const outcome =
      adapter && snapshot
        ? await this.timed(adapter, 'restore', contract.timeout_ms, (signal) =>
            adapter.restore(
              { contract_id: contract.id, snapshot_id: snapshot.id, target: snapshot.target, state: snapshot.state },
              signal,
            ),
          )
        : ({
            ok: false,
            timedOut: false,
            message: snapshot ? `no ${contract.adapter} adapter` : 'no snapshot',
          } as const);
    if (outcome.ok && outcome.value.status === 'restored' && snapshot)
      return this.step(contract, {
        changes: (_step, row) => ({ status: mustNext(row.status, 'restored', factsOf(row)), ...RELEASED }),
        then: async (step, next) => {
          await markSnapshotRestored(step.trx, snapshot.id, step.now);
          this.rolledBack(step, next, snapshot.id, trigger, outcome.value.actual_state, started);
          return undefined;
        },
      });
    const message = outcome.ok ? (outcome.value.message ?? 'the adapter could not restore') : outcome.message;
    return this.step(contract, {
      changes: (step, row) => {
        const attempts = row.restore_attempts + 1;
        if (attempts < this.settings.restoreAttempts && snapshot)
          return {
            status: mustNext(row.status, 'restore_retry', factsOf(row)),
            restore_attempts: attempts,
            lease_owner: null,
            lease_until: new Date(step.now.getTime() + this.settings.restoreRetryMs),
          };
        return {
          status: mustNext(row.status, 'restore_failed', factsOf(row)),
          restore_attempts: attempts,
          error: `rollback failed after ${attempts} tries, the target needs a human: ${message}`,
          ...RELEASED,
        };
      },
      then: (step, next, row) => {
        const attempts = next.restore_attempts;
        if (next.status === 'rolling_back') {
          const retryAt = new Date(step.now.getTime() + this.settings.restoreRetryMs);
          audit(step, row, 'rollback.retry', { attempt: attempts, error: message, retry_at: retryAt.toISOString() });
          step.afterCommit(() => this.deps.metrics.rollbacks.inc({ trigger, outcome: 'retry' }));
          return undefined;
        }
        audit(step, next, 'rollback.failed', { attempts, error: message });
        step.afterCommit(() => this.deps.metrics.rollbacks.inc({ trigger, outcome: 'failed' }));
        step.log.error({ contract_id: row.id, error: message }, 'rollback failed; the target needs a human');
        return undefined;
      },
    });
  }

  /** A restored snapshot: contract.rolled_back, audited. */
  private rolledBack(
    step: Step,
    next: ContractRow,
    snapshotId: string,
    trigger: NonNullable<ContractRow['rollback_trigger']>,
    restoredState: Record<string, unknown>,
    started: Date,
  ): void {
    emitFor(step, next)('contract.rolled_back', {
      contract_id: next.id,
      action_id: next.action_id,
      ...originOf(next),
      playbook: next.playbook,
      adapter: next.adapter,
      action: next.action,
      target: next.target,
      tier: next.tier,
      attempt: next.attempt,
      snapshot_id: snapshotId,
      trigger,
      ...(next.verification_id ? { verification_id: next.verification_id } : {}),
      reason: (next.rollback_reason ?? trigger).slice(0, 2048),
      restored_state: restoredState,
      duration_ms: step.now.getTime() - started.getTime(),
      rolled_back_at: step.now.toISOString(),
    });
    audit(step, next, 'rollback.finished', { snapshot_id: snapshotId, trigger, restored_state: restoredState });
    step.afterCommit(() => this.deps.metrics.rollbacks.inc({ trigger, outcome: 'restored' }));
  }

  private async timed<T>(
    adapter: ActionAdapter,
    operation: string,
    timeoutMs: number,
    call: (s: AbortSignal) => Promise<T>,
  ) {
    const end = this.deps.metrics.adapterDuration.startTimer({ adapter: adapter.name, operation });
    try {
      const outcome = await bounded(timeoutMs, call);
      if (!outcome.ok && !outcome.timedOut)
        this.runtime.log.warn({ operation, error: outcome.message }, 'adapter call failed');
      return outcome;
    } finally {
      end();
    }
  }
}
