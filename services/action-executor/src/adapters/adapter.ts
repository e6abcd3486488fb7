// The one interface every action adapter implements: describe, snapshot, execute, restore.
import type {
  RemediationReply,
  RemediationRequest,
  RestoreReply,
  RestoreRequest,
  SnapshotRequest,
} from '@grace/contracts';

export type AdapterName = 'nats' | 'http' | 'kubernetes';
export type JsonObject = Record<string, unknown>;

/** What an action is, as an adapter sees it when describing or checking a plan. */
export type PlanInput = Pick<RemediationRequest, 'action' | 'target' | 'params'>;

/**
 * An adapter does one kind of action. Every call gets an AbortSignal that fires at the action's timeout: pass
 * it to every request so a hanging target is cut (the executor also stops waiting at the timeout, whatever the
 * adapter does).
 */
export interface ActionAdapter {
  readonly name: AdapterName;
  /**
   * One line saying what `execute` would do, recorded in the contract's plan and audit entry. Throws
   * `AdapterError` when the plan cannot run on this adapter (unknown action, missing target fields, bad params),
   * so a bad plan fails before anything is touched.
   */
  describe(plan: PlanInput): string;
  /** The current state of what the action will change (taken before acting on tier >= 2). */
  snapshot(request: SnapshotRequest, signal: AbortSignal): Promise<JsonObject>;
  /** Act once; the same idempotency key must never act twice on the target. */
  execute(request: RemediationRequest, signal: AbortSignal): Promise<RemediationReply>;
  /** Put back the state a snapshot recorded. */
  restore(request: RestoreRequest, signal: AbortSignal): Promise<RestoreReply>;
}

/** A plan an adapter cannot run, or a call that failed; the message says what to fix. */
export class AdapterError extends Error {
  constructor(
    message: string,
    /** True when trying again later may succeed (target unreachable, 5xx); false for a bad plan. */
    readonly retryable = false,
  ) {
    super(message);
    this.name = 'AdapterError';
  }
}
