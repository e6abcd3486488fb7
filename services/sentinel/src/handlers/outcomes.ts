// What became of a requested action: executing -> verifying; verified -> resolved; failed, drift, rolled back
// or denied -> the next playbook, or escalation. A tier >= 2 action judged drift or failed waits for its rollback.
import type { GraceEvent } from '@grace/contracts';
import type { HandlerContext } from '@grace/service-kit';
import { awaitRollback, incidentData, settle, stepOf, transition, type LifecycleDeps } from '../remediation.js';
import { lockAttemptByAction, lockIncident, upsertStats, type Database } from '../store.js';

export function onExecuted() {
  return async (event: GraceEvent<'action.executed'>, ctx: HandlerContext<Database>): Promise<void> => {
    const attempt = await lockAttemptByAction(ctx.trx, event.data.action_id);
    if (!attempt || attempt.outcome !== 'pending') return;
    const incident = await lockIncident(ctx.trx, attempt.incident_id);
    if (!incident || incident.status !== 'remediating' || incident.action_id !== attempt.action_id) return;
    const row = await transition(
      stepOf(ctx),
      incident,
      'verifying',
      `${attempt.playbook} executed (${event.data.result}) in ${event.data.duration_ms} ms; awaiting the verifier`,
    );
    ctx.emit('incident.updated', { ...incidentData(row), status: 'verifying', previous_status: 'remediating' });
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
