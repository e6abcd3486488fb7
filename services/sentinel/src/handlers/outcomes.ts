// What became of a requested action: executing -> verifying; verified -> resolved; failed, drift, rolled back,
// denied or not carried out at all -> the next playbook, or escalation. A tier >= 2 action judged drift or failed
// waits for its rollback; one that did nothing (no snapshot, no adapter) has none to wait for.
import type { GraceEvent } from '@grace/contracts';
import type { HandlerContext } from '@grace/service-kit';
import {
  awaitRollback,
  Draft,
  incidentData,
  save,
  settle,
  stepOf,
  transition,
  type LifecycleDeps,
} from '../remediation.js';
import { lockIncidentByAction, upsertStats, type Database } from '../store.js';

export function onExecuted(deps: LifecycleDeps) {
  return async (event: GraceEvent<'action.executed'>, ctx: HandlerContext<Database>): Promise<void> => {
    // Nothing was done to the target: no verdict is worth waiting for and no rollback will come; move on now.
    if (event.data.carried_out === false)
      return settle(
        stepOf(ctx),
        deps,
        event.data.action_id,
        'failed',
        `not carried out: ${event.data.error ?? 'the executor did nothing'}`,
      );
    const row = await lockIncidentByAction(ctx.trx, event.data.action_id);
    if (!row || row.status !== 'remediating') return;
    const draft = new Draft(row);
    const attempt = draft.current;
    if (!attempt || attempt.action_id !== event.data.action_id || attempt.outcome !== 'pending') return;
    const step = stepOf(ctx);
    const previous = transition(
      step,
      draft,
      'verifying',
      `${attempt.playbook} executed (${event.data.result}) in ${event.data.duration_ms} ms; awaiting the verifier`,
    );
    const updated = { ...incidentData(draft.row), status: 'verifying' as const, previous_status: previous };
    draft.later((s) => s.emit('incident.updated', updated));
    await save(step, draft);
  };
}

export function onVerified(deps: LifecycleDeps) {
  return async (event: GraceEvent<'contract.verified'>, ctx: HandlerContext<Database>): Promise<void> => {
    const d = event.data;
    const reason = `${d.verdict}: ${d.reason} (confidence ${d.confidence})`;
    // The executor rolls a tier >= 2 action back on drift or failure: the next attempt waits for that.
    if (d.verdict !== 'verified' && d.tier >= 2 && d.execution_result !== 'dry_run')
      return awaitRollback(stepOf(ctx), d.action_id, reason);
    await settle(
      stepOf(ctx),
      deps,
      d.action_id,
      d.verdict,
      `${d.reason} (confidence ${d.confidence})`,
      d.verdict === 'verified' ? { contractId: d.contract_id, confidence: d.confidence } : undefined,
    );
  };
}

export function onRolledBack(deps: LifecycleDeps) {
  return async (event: GraceEvent<'contract.rolled_back'>, ctx: HandlerContext<Database>): Promise<void> => {
    await settle(
      stepOf(ctx),
      deps,
      event.data.action_id,
      'rolled_back',
      `rolled back after ${event.data.trigger}: ${event.data.reason}`,
    );
  };
}

export function onDenied(deps: LifecycleDeps) {
  return async (event: GraceEvent<'action.denied'>, ctx: HandlerContext<Database>): Promise<void> => {
    const d = event.data;
    await settle(stepOf(ctx), deps, d.action_id, 'denied', `denied by ${d.denied_by} rule ${d.rule}: ${d.reason}`);
  };
}

export function onStats() {
  return async (event: GraceEvent<'playbook.stats.updated'>, ctx: HandlerContext<Database>): Promise<void> => {
    await upsertStats(ctx.trx, event.data);
  };
}
