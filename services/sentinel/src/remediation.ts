// The incident lifecycle: open and triage, choose the next playbook (Thompson sampling), request the action,
// resolve, or escalate with the whole decision trail. Everything runs inside the caller's transaction.
import type { EventData } from '@grace/contracts';
import type { Emit, HandlerContext, Logger } from '@grace/service-kit';
import type { Transaction } from 'kysely';
import { randomUUID } from 'node:crypto';
import { planFor, type CompiledCatalog, type TriageInput } from './domain/catalog.js';
import { choosePlaybook, type Rng } from './domain/thompson.js';
import type { SentinelMetrics } from './metrics.js';
import {
  addAttempt,
  addTransitions,
  attemptsOf,
  lastUses,
  lockAttemptByAction,
  lockIncident,
  markAwaitingRollback,
  settleAttempt,
  statsFor,
  updateIncident,
  type AttemptOutcome,
  type AttemptRow,
  type Database,
  type IncidentRow,
  type IncidentStatus,
} from './store.js';

export interface LifecycleDeps {
  catalog: () => CompiledCatalog;
  rng: Rng;
  maxAttempts: number;
  /** How long after an escalation new captures are counted on it instead of opening a new incident. */
  escalationHoldMs: number;
  metrics: SentinelMetrics;
}

export interface Step {
  trx: Transaction<Database>;
  emit: Emit;
  log: Logger;
  now: Date;
  /** Run after the commit (counters), never on rollback. */
  afterCommit(fn: () => void): void;
}

/** A step in a consumer's transaction. */
export const stepOf = (ctx: HandlerContext<Database>): Step => ({
  trx: ctx.trx,
  emit: ctx.emit,
  log: ctx.log,
  now: new Date(),
  afterCommit: ctx.afterCommit,
});

const iso = (d: Date | string) => new Date(d).toISOString();
const bounded = (text: string) => (text.length > 2048 ? `${text.slice(0, 2047)}…` : text);

/** What every incident event says about the incident, from its row. */
export function incidentData(row: IncidentRow) {
  return {
    incident_id: row.id,
    fingerprint: row.fingerprint,
    signature: row.signature,
    service: row.service,
    environment: row.environment,
    kind: row.kind,
    severity: row.severity,
    category: row.category,
    blast_radius: row.blast_radius,
    reason: bounded(row.reason),
    attempts: row.attempts,
    occurrences: Math.max(1, row.occurrences),
    ...(row.playbook ? { playbook: row.playbook } : {}),
    ...(row.action_id ? { action_id: row.action_id } : {}),
    ...(row.muted_until ? { muted_until: iso(row.muted_until) } : {}),
    opened_at: iso(row.opened_at),
    ...(row.triaged_at ? { triaged_at: iso(row.triaged_at) } : {}),
    changed_at: iso(row.changed_at),
  };
}

export function decisionOf(a: AttemptRow): EventData<'incident.escalated'>['trail'][number] {
  return {
    attempt: a.attempt,
    playbook: a.playbook,
    action_id: a.action_id,
    reason: bounded(a.reason),
    candidates: a.candidates.slice(0, 64),
    decided_at: iso(a.decided_at),
    outcome: a.outcome,
    ...(a.outcome_reason ? { outcome_reason: bounded(a.outcome_reason) } : {}),
    ...(a.confidence !== null ? { confidence: a.confidence } : {}),
  };
}

export function triageInput(row: IncidentRow): TriageInput {
  return {
    service: row.service,
    environment: row.environment,
    kind: row.kind,
    category: row.category,
    severity: row.severity,
    message: row.message,
    fingerprint: row.fingerprint,
    ...(row.attributes ? { attributes: row.attributes as TriageInput['attributes'] } : {}),
  };
}

/** Move an incident to a new status, recording why (the row, a transition, and the returned row). */
export async function transition(
  step: Step,
  incident: IncidentRow,
  status: IncidentStatus,
  reason: string,
  patch: Partial<IncidentRow> = {},
): Promise<IncidentRow> {
  const row = await updateIncident(step.trx, incident.id, {
    ...patch,
    status,
    reason: bounded(reason),
    changed_at: step.now,
    ...(status === 'resolved' || status === 'escalated' ? { closed_at: step.now } : {}),
  } as Parameters<typeof updateIncident>[2]);
  await addTransitions(step.trx, [
    { incident_id: incident.id, status, previous_status: incident.status, reason: bounded(reason), at: step.now },
  ]);
  return row;
}

export async function escalate(step: Step, deps: LifecycleDeps, incident: IncidentRow, reason: string): Promise<void> {
  const row = await transition(step, incident, 'escalated', reason);
  const trail = (await attemptsOf(step.trx, incident.id)).map(decisionOf);
  step.emit('incident.escalated', {
    ...incidentData(row),
    status: 'escalated',
    previous_status: incident.status,
    trail: trail.slice(0, 32),
  });
  step.afterCommit(() => deps.metrics.escalated.inc());
  step.log.info({ incident_id: incident.id, reason }, 'incident escalated');
}

/**
 * Choose the next playbook for an incident and request it; escalate when the attempts are used up or no
 * candidate is left. A playbook already tried on this incident, or cooling down on the same target, is
 * never chosen; the others are drawn from Beta(successes + 1, failures + 1) of their learned statistics.
 */
export async function nextAttempt(step: Step, deps: LifecycleDeps, incident: IncidentRow, why: string): Promise<void> {
  if (incident.attempts >= deps.maxAttempts) {
    return escalate(step, deps, incident, `${why}; ${incident.attempts} of ${deps.maxAttempts} attempts used`);
  }
  const catalog = deps.catalog();
  const input = triageInput(incident);
  const playbooks = catalog.candidatesFor(input);
  if (playbooks.length === 0) {
    return escalate(step, deps, incident, `${why}; no playbook in catalog ${catalog.checksum.slice(0, 12)} applies`);
  }
  const tried = new Set((await attemptsOf(step.trx, incident.id)).map((a) => a.playbook));
  const longestCooldown = Math.max(...playbooks.map((p) => p.cooldownMs));
  const uses = await lastUses(
    step.trx,
    incident.service,
    incident.environment,
    new Date(step.now.getTime() - longestCooldown),
  );
  const stats = await statsFor(
    step.trx,
    incident.signature,
    playbooks.map((p) => p.name),
  );
  const { chosen, scored } = choosePlaybook(
    playbooks.map((p) => {
      const s = stats.get(p.name);
      const lastUse = uses.get(p.name);
      const coolingUntil = lastUse ? lastUse.getTime() + p.cooldownMs : 0;
      const excluded = tried.has(p.name)
        ? 'already tried on this incident'
        : coolingUntil > step.now.getTime()
          ? `cooling down on ${incident.service}/${incident.environment} until ${new Date(coolingUntil).toISOString()}`
          : undefined;
      return {
        playbook: p.name,
        successes: Math.max(0, (s?.alpha ?? 1) - 1),
        failures: Math.max(0, (s?.beta ?? 1) - 1),
        ...(excluded ? { excluded } : {}),
      };
    }),
    deps.rng,
  );
  if (!chosen) {
    return escalate(step, deps, incident, `${why}; every applicable playbook was tried or is cooling down`);
  }
  const playbook = catalog.byName.get(chosen)!;
  const plan = planFor(playbook, input);
  const attempt = incident.attempts + 1;
  const actionId = randomUUID();
  const score = scored.find((s) => s.playbook === chosen)?.score;
  const reason = `${why}; attempt ${attempt}: ${chosen} (draw ${score?.toFixed(3)} among ${scored.filter((s) => s.score !== undefined).length} eligible)`;
  await addAttempt(step.trx, {
    incident_id: incident.id,
    attempt,
    playbook: chosen,
    action_id: actionId,
    service: incident.service,
    environment: incident.environment,
    reason: bounded(reason),
    candidates: JSON.stringify(scored),
    decided_at: step.now,
    outcome_reason: null,
    confidence: null,
  });
  step.emit('action.requested', {
    action_id: actionId,
    incident_id: incident.id,
    fingerprint: incident.fingerprint,
    signature: incident.signature,
    ...plan,
    idempotency_key: `${incident.id}:${attempt}`,
    attempt,
    requested_by: { kind: 'service', id: 'sentinel' },
    requested_at: step.now.toISOString(),
  });
  const row = await transition(step, incident, 'remediating', reason, {
    attempts: attempt,
    playbook: chosen,
    action_id: actionId,
  });
  step.emit('incident.updated', { ...incidentData(row), status: 'remediating', previous_status: incident.status });
  step.afterCommit(() => deps.metrics.actionsRequested.inc({ playbook: chosen }));
}

/**
 * An attempt ended: record its outcome once (later news of the same action changes nothing), then resolve
 * the incident on `verified`, or go on to the next playbook.
 */
export async function settle(
  step: Step,
  deps: LifecycleDeps,
  actionId: string,
  outcome: Exclude<AttemptOutcome, 'pending'>,
  reason: string,
  resolution?: { contractId: string; confidence: number },
): Promise<void> {
  const attempt = await lockAttemptByAction(step.trx, actionId);
  if (!attempt) {
    step.log.debug({ action_id: actionId }, 'not an action of this sentinel; ignored');
    return;
  }
  if (attempt.outcome !== 'pending') {
    step.log.debug({ action_id: actionId, outcome: attempt.outcome }, 'attempt already settled; ignored');
    return;
  }
  await settleAttempt(step.trx, actionId, outcome, bounded(reason), resolution?.confidence);
  const incident = await lockIncident(step.trx, attempt.incident_id);
  if (!incident || incident.status === 'resolved' || incident.status === 'escalated') return;
  if (outcome === 'verified' && resolution) {
    const row = await transition(
      step,
      incident,
      'resolved',
      `attempt ${attempt.attempt} (${attempt.playbook}) verified: ${reason}`,
    );
    step.emit('incident.resolved', {
      ...incidentData(row),
      status: 'resolved',
      previous_status: incident.status,
      playbook: attempt.playbook,
      action_id: actionId,
      contract_id: resolution.contractId,
      confidence: resolution.confidence,
    });
    step.afterCommit(() => deps.metrics.resolved.inc());
    return;
  }
  await nextAttempt(step, deps, incident, `attempt ${attempt.attempt} (${attempt.playbook}) ${outcome}: ${reason}`);
}

/**
 * A tier >= 2 action was judged drift or failed: the executor now restores its snapshot. The next playbook must
 * not run on the target before that (the constitution would deny it as a second open contract, and it would act
 * on a half-changed system), so the attempt stays pending until `contract.rolled_back` settles it. If the
 * rollback has already been reported, this changes nothing.
 */
export async function awaitRollback(step: Step, actionId: string, verdictReason: string): Promise<void> {
  const attempt = await lockAttemptByAction(step.trx, actionId);
  if (!attempt || attempt.outcome !== 'pending' || attempt.awaiting_rollback_since) return;
  await markAwaitingRollback(
    step.trx,
    actionId,
    bounded(`${verdictReason}; waiting for the executor to restore the snapshot`),
    step.now,
  );
  step.log.info({ action_id: actionId }, 'verdict against a tier >= 2 action: waiting for its rollback');
}

/** The executor has not confirmed a rollback in time: the target may be half-changed, so a human decides. */
export async function rollbackOverdue(step: Step, deps: LifecycleDeps, actionId: string, waitedMs: number) {
  const attempt = await lockAttemptByAction(step.trx, actionId);
  if (!attempt || attempt.outcome !== 'pending' || !attempt.awaiting_rollback_since) return;
  const reason = `${attempt.outcome_reason ?? 'verdict against the action'}; no rollback confirmed within ${Math.round(waitedMs / 1000)} s`;
  await settleAttempt(step.trx, actionId, 'failed', bounded(reason));
  const incident = await lockIncident(step.trx, attempt.incident_id);
  if (!incident || incident.status === 'resolved' || incident.status === 'escalated') return;
  await escalate(
    step,
    deps,
    incident,
    `attempt ${attempt.attempt} (${attempt.playbook}): ${reason}; the target may be between states`,
  );
}
