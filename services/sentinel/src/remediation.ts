// The incident lifecycle: open and triage, choose the next playbook (Thompson sampling), request the action,
// resolve, or escalate with the whole decision trail. Everything runs inside the caller's transaction, on a draft
// of the incident (its row, locked or about to be inserted): each step changes the draft in memory, and the
// handler writes it in one statement (`save`), then emits what the steps queued.
import type { EventData } from '@grace/contracts';
import type { Emit, HandlerContext, Logger } from '@grace/service-kit';
import type { Transaction } from 'kysely';
import { randomUUID } from 'node:crypto';
import { planFor, type CompiledCatalog, type TriageInput } from './domain/catalog.js';
import { choosePlaybook, type Rng } from './domain/thompson.js';
import type { SentinelMetrics } from './metrics.js';
import {
  lockIncidentByAction,
  openIncident,
  choiceFacts,
  updateIncident,
  type AttemptEntry,
  type AttemptOutcome,
  type Database,
  type IncidentRow,
  type IncidentStatus,
  type IncidentSummary,
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

/**
 * An incident being changed: the row as it will be, what changed since it was read, and the events and counters
 * that go out once it is written. Nothing reaches the database or the bus before `save`.
 */
export class Draft {
  readonly changes: Partial<IncidentRow> = {};
  private readonly queued: ((step: Step) => void)[] = [];

  constructor(
    public row: IncidentRow,
    /** Not in the database yet: `save` inserts it (unless another one is open). */
    readonly isNew = false,
  ) {}

  set(patch: Partial<IncidentRow>): void {
    this.row = { ...this.row, ...patch };
    Object.assign(this.changes, patch);
  }

  /** Queue an event (built now, from the row as it is now) or a counter for after the write. */
  later(fn: (step: Step) => void): void {
    this.queued.push(fn);
  }

  /** The current attempt (the last one), if any. */
  get current(): AttemptEntry | undefined {
    return this.row.trail[this.row.trail.length - 1];
  }

  /** Change the current attempt. */
  setCurrent(patch: Partial<AttemptEntry>): void {
    const trail = this.row.trail;
    this.set({ trail: [...trail.slice(0, -1), { ...trail[trail.length - 1]!, ...patch }] });
  }

  flush(step: Step): void {
    for (const fn of this.queued.splice(0)) fn(step);
  }
}

/**
 * Write a draft in one statement and emit what it queued. A new incident is inserted unless one is already open
 * for its fingerprint and environment: then nothing is written or emitted, and false comes back.
 */
export async function save(step: Step, draft: Draft): Promise<boolean> {
  if (draft.isNew) {
    if (!(await openIncident(step.trx, draft.row))) return false;
  } else if (Object.keys(draft.changes).length > 0) {
    await updateIncident(step.trx, draft.row.id, draft.changes);
  }
  draft.flush(step);
  return true;
}

const iso = (d: Date | string) => new Date(d).toISOString();
const bounded = (text: string) => (text.length > 2048 ? `${text.slice(0, 2047)}…` : text);

/** What every incident event says about the incident, from its row. */
export function incidentData(row: IncidentSummary) {
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

export function decisionOf(a: AttemptEntry): EventData<'incident.escalated'>['trail'][number] {
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

/** Move an incident to a new status, recording why on its timeline; returns the status it had. */
export function transition(
  step: Step,
  draft: Draft,
  status: IncidentStatus,
  reason: string,
  patch: Partial<IncidentRow> = {},
): IncidentStatus {
  const previous = draft.row.status;
  draft.set({
    ...patch,
    status,
    reason: bounded(reason),
    changed_at: step.now,
    ...(status === 'resolved' || status === 'escalated' ? { closed_at: step.now } : {}),
    timeline: [
      ...draft.row.timeline,
      { status, previous_status: previous, reason: bounded(reason), at: step.now.toISOString() },
    ],
  });
  return previous;
}

export function escalate(step: Step, deps: LifecycleDeps, draft: Draft, reason: string): void {
  const previous = transition(step, draft, 'escalated', reason, { awaiting_rollback_since: null });
  const data = {
    ...incidentData(draft.row),
    status: 'escalated' as const,
    previous_status: previous,
    trail: draft.row.trail.map(decisionOf).slice(0, 32),
  };
  const id = draft.row.id;
  draft.later((s) => {
    s.emit('incident.escalated', data);
    s.afterCommit(() => deps.metrics.escalated.inc());
    s.log.info({ incident_id: id, reason }, 'incident escalated');
  });
}

/**
 * Choose the next playbook for an incident and request it; escalate when the attempts are used up or no
 * candidate is left. A playbook already tried on this incident, or cooling down on the same target, is
 * never chosen; the others are drawn from Beta(successes + 1, failures + 1) of their learned statistics.
 */
export async function nextAttempt(step: Step, deps: LifecycleDeps, draft: Draft, why: string): Promise<void> {
  const incident = draft.row;
  if (incident.attempts >= deps.maxAttempts) {
    return escalate(step, deps, draft, `${why}; ${incident.attempts} of ${deps.maxAttempts} attempts used`);
  }
  const catalog = deps.catalog();
  const input = triageInput(incident);
  const playbooks = catalog.candidatesFor(input);
  if (playbooks.length === 0) {
    return escalate(step, deps, draft, `${why}; no playbook in catalog ${catalog.checksum.slice(0, 12)} applies`);
  }
  const tried = new Set(incident.trail.map((a) => a.playbook));
  const longestCooldown = Math.max(...playbooks.map((p) => p.cooldownMs));
  const { uses, stats } = await choiceFacts(
    step.trx,
    {
      service: incident.service,
      environment: incident.environment,
      since: new Date(step.now.getTime() - longestCooldown),
    },
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
    return escalate(step, deps, draft, `${why}; every applicable playbook was tried or is cooling down`);
  }
  const playbook = catalog.byName.get(chosen)!;
  const plan = planFor(playbook, input);
  const attempt = incident.attempts + 1;
  const actionId = randomUUID();
  const score = scored.find((s) => s.playbook === chosen)?.score;
  const reason = `${why}; attempt ${attempt}: ${chosen} (draw ${score?.toFixed(3)} among ${scored.filter((s) => s.score !== undefined).length} eligible)`;
  const requested: EventData<'action.requested'> = {
    action_id: actionId,
    incident_id: incident.id,
    fingerprint: incident.fingerprint,
    signature: incident.signature,
    ...plan,
    idempotency_key: `${incident.id}:${attempt}`,
    attempt,
    requested_by: { kind: 'service', id: 'sentinel' },
    requested_at: step.now.toISOString(),
  };
  const previous = transition(step, draft, 'remediating', reason, {
    attempts: attempt,
    playbook: chosen,
    action_id: actionId,
    awaiting_rollback_since: null,
    trail: [
      ...incident.trail,
      {
        attempt,
        playbook: chosen,
        action_id: actionId,
        reason: bounded(reason),
        candidates: scored,
        decided_at: step.now.toISOString(),
        outcome: 'pending',
        outcome_reason: null,
        confidence: null,
      },
    ],
  });
  const updated = { ...incidentData(draft.row), status: 'remediating' as const, previous_status: previous };
  draft.later((s) => {
    s.emit('action.requested', requested);
    s.emit('incident.updated', updated);
    s.afterCommit(() => deps.metrics.actionsRequested.inc({ playbook: chosen }));
  });
}

/** The incident whose current attempt requested this action and is still pending, locked; else undefined. */
async function pendingAttemptOf(step: Step, actionId: string): Promise<Draft | undefined> {
  const row = await lockIncidentByAction(step.trx, actionId);
  const draft = row ? new Draft(row) : undefined;
  if (!draft || draft.current?.action_id !== actionId) {
    step.log.debug({ action_id: actionId }, 'not an action of this sentinel; ignored');
    return undefined;
  }
  if (draft.current.outcome !== 'pending') {
    step.log.debug({ action_id: actionId, outcome: draft.current.outcome }, 'attempt already settled; ignored');
    return undefined;
  }
  return draft;
}

const isClosed = (status: IncidentStatus) => status === 'resolved' || status === 'escalated';

/**
 * An attempt ended: record its outcome once (later news of the same action changes nothing), then resolve
 * the incident on `verified`, or go on to the next playbook. One UPDATE of the incident.
 */
export async function settle(
  step: Step,
  deps: LifecycleDeps,
  actionId: string,
  outcome: Exclude<AttemptOutcome, 'pending'>,
  reason: string,
  resolution?: { contractId: string; confidence: number },
): Promise<void> {
  const draft = await pendingAttemptOf(step, actionId);
  if (!draft) return;
  const attempt = draft.current!;
  draft.setCurrent({ outcome, outcome_reason: bounded(reason), confidence: resolution?.confidence ?? null });
  draft.set({ awaiting_rollback_since: null });
  if (isClosed(draft.row.status)) {
    await save(step, draft);
    return;
  }
  if (outcome === 'verified' && resolution) {
    const previous = transition(
      step,
      draft,
      'resolved',
      `attempt ${attempt.attempt} (${attempt.playbook}) verified: ${reason}`,
    );
    const resolved: EventData<'incident.resolved'> = {
      ...incidentData(draft.row),
      status: 'resolved',
      previous_status: previous as EventData<'incident.resolved'>['previous_status'],
      playbook: attempt.playbook,
      action_id: actionId,
      contract_id: resolution.contractId,
      confidence: resolution.confidence,
    };
    draft.later((s) => {
      s.emit('incident.resolved', resolved);
      s.afterCommit(() => deps.metrics.resolved.inc());
    });
  } else {
    await nextAttempt(step, deps, draft, `attempt ${attempt.attempt} (${attempt.playbook}) ${outcome}: ${reason}`);
  }
  await save(step, draft);
}

/**
 * A tier >= 2 action was judged drift or failed: the executor now restores its snapshot. The next playbook must
 * not run on the target before that (the constitution would deny it as a second open contract, and it would act
 * on a half-changed system), so the attempt stays pending until `contract.rolled_back` settles it. If the
 * rollback has already been reported, this changes nothing.
 */
export async function awaitRollback(step: Step, actionId: string, verdictReason: string): Promise<void> {
  const draft = await pendingAttemptOf(step, actionId);
  if (!draft || draft.row.awaiting_rollback_since) return;
  draft.setCurrent({
    outcome_reason: bounded(`${verdictReason}; waiting for the executor to restore the snapshot`),
  });
  draft.set({ awaiting_rollback_since: step.now });
  await save(step, draft);
  step.log.info({ action_id: actionId }, 'verdict against a tier >= 2 action: waiting for its rollback');
}

/** The executor has not confirmed a rollback in time: the target may be half-changed, so a human decides. */
export async function rollbackOverdue(step: Step, deps: LifecycleDeps, actionId: string, waitedMs: number) {
  const draft = await pendingAttemptOf(step, actionId);
  if (!draft || !draft.row.awaiting_rollback_since) return;
  const attempt = draft.current!;
  const reason = `${attempt.outcome_reason ?? 'verdict against the action'}; no rollback confirmed within ${Math.round(waitedMs / 1000)} s`;
  draft.setCurrent({ outcome: 'failed', outcome_reason: bounded(reason), confidence: null });
  draft.set({ awaiting_rollback_since: null });
  if (!isClosed(draft.row.status))
    escalate(
      step,
      deps,
      draft,
      `attempt ${attempt.attempt} (${attempt.playbook}): ${reason}; the target may be between states`,
    );
  await save(step, draft);
}

/**
 * Record on the incident's timeline something its source said that changes no status (e.g. one alert of its group
 * resolved): an entry from its status to the same status.
 */
export function noteOnTimeline(step: Step, draft: Draft, reason: string): void {
  const status = draft.row.status;
  draft.set({
    timeline: [
      ...draft.row.timeline,
      { status, previous_status: status, reason: bounded(reason), at: step.now.toISOString() },
    ],
  });
}

/**
 * The source of an open or escalated incident says it is over (every alert of its group resolved): resolve it with
 * the reason `source resolved` (an escalation too: the page it raised is over), unless an action is running on it
 * (its attempt is pending, or waits for its rollback: the verdict decides then). Emits incident.resolved with
 * resolved_by `source`; false when nothing changed.
 */
export function resolveAtSource(step: Step, deps: LifecycleDeps, draft: Draft, why: string): boolean {
  const running = draft.current?.outcome === 'pending' || draft.row.awaiting_rollback_since;
  if (draft.row.status === 'resolved' || running) return false;
  const previous = transition(step, draft, 'resolved', `source resolved: ${why}`);
  const resolved: EventData<'incident.resolved'> = {
    ...incidentData(draft.row),
    status: 'resolved',
    previous_status: previous,
    resolved_by: 'source',
    confidence: 1,
  };
  const id = draft.row.id;
  draft.later((s) => {
    s.emit('incident.resolved', resolved);
    s.afterCommit(() => deps.metrics.resolved.inc());
    s.log.info({ incident_id: id, reason: why }, 'incident resolved by its source');
  });
  return true;
}
