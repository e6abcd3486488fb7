// error.captured -> classify -> find or open the incident (one open per fingerprint and environment) -> act.
// A new incident is inserted once, already with its first attempt and its timeline; a known one is updated once.
import type { GraceEvent } from '@grace/contracts';
import type { HandlerContext } from '@grace/service-kit';
import { randomUUID } from 'node:crypto';
import { classify, signatureOf } from '../domain/classify.js';
import { Draft, incidentData, nextAttempt, save, stepOf, transition, type LifecycleDeps } from '../remediation.js';
import { lockOpenIncident, lockTriage, updateIncident, type Database } from '../store.js';

export function triageError(deps: LifecycleDeps) {
  return async (event: GraceEvent<'error.captured'>, ctx: HandlerContext<Database>): Promise<void> => {
    const step = stepOf(ctx);
    const cap = event.data;
    const cls = classify({
      kind: cap.kind,
      message: cap.message,
      severity: cap.severity,
      ...(cap.category ? { category: cap.category } : {}),
      count: cap.count,
      total_count: cap.total_count,
      storm: cap.storm,
      ...(cap.attributes ? { attributes: cap.attributes } : {}),
    });
    const signature = signatureOf({ kind: cap.kind, category: cls.category });
    // Captures of one fingerprint are handled one at a time (replicas, batches): each sees what the last one did,
    // so a burst opens one incident even when it is escalated at once (no playbook applies). The same statement
    // locks the incidents the capture meets (a human owns an escalated one: more of the same error is counted on
    // it, not remediated again) and reads the operator's mute, if any (muted by sentinel.control.mute).
    const met = await lockTriage(
      ctx.trx,
      { ...cap, signature },
      step.now,
      new Date(step.now.getTime() - deps.escalationHoldMs),
      new Date(cap.last_seen),
    );
    const operatorMute = met.mute;
    // Escalated: a human owns it. Resolved after this capture's last occurrence: it already covered these errors
    // (a count that arrives after the resolution). Either way they are counted on it and nothing opens.
    const held = met.escalated ?? (met.open ? undefined : met.covering);
    if (held) {
      if (cap.total_count > held.occurrences) await updateIncident(ctx.trx, held.id, { occurrences: cap.total_count });
      ctx.log.debug({ incident_id: held.id, status: held.status }, 'counted on the closed incident');
      return;
    }
    // Muted by a routing rule (trigger-mesh) or by an operator (sentinel.control.mute): the longer one holds.
    const ruleMute =
      cap.muted_until && Date.parse(cap.muted_until) > step.now.getTime() ? new Date(cap.muted_until) : null;
    const byOperator = operatorMute !== undefined && (!ruleMute || operatorMute.until > ruleMute);
    const mutedUntil = byOperator ? operatorMute.until : ruleMute;

    let open = met.open;
    if (!open) {
      const status = mutedUntil ? ('muted' as const) : ('triaged' as const);
      const reason = !mutedUntil
        ? cls.reason
        : byOperator
          ? `muted by ${operatorMute.by} until ${mutedUntil.toISOString()}: ${operatorMute.reason}`
          : `muted by a routing rule until ${mutedUntil.toISOString()}`;
      const at = step.now.toISOString();
      const draft = new Draft(
        {
          id: randomUUID(),
          fingerprint: cap.fingerprint,
          environment: cap.environment,
          signature,
          service: cap.service,
          kind: cap.kind,
          message: cap.message,
          severity: cls.severity,
          category: cls.category,
          blast_radius: cls.blastRadius,
          attributes: cap.attributes ?? null,
          route: cap.route ?? null,
          status,
          reason,
          attempts: 0,
          occurrences: cap.total_count,
          capture_id: cap.capture_id,
          playbook: null,
          action_id: null,
          muted_until: mutedUntil,
          opened_at: step.now,
          triaged_at: step.now,
          changed_at: step.now,
          closed_at: null,
          timeline: [
            { status: 'detected', previous_status: null, reason: `captured ${cap.kind} on ${cap.service}`, at },
            { status, previous_status: 'detected', reason, at },
          ],
          trail: [],
          awaiting_rollback_since: null,
        },
        true,
      );
      const opened = { ...incidentData(draft.row), status, previous_status: 'detected' as const };
      draft.later((s) => {
        s.emit('incident.opened', { ...opened, capture_id: cap.capture_id });
        s.afterCommit(() => deps.metrics.opened.inc());
      });
      if (!mutedUntil) await nextAttempt(step, deps, draft, cls.reason);
      if (await save(step, draft)) return;
      // Opened meanwhile despite the lock (it cannot be, but the unique index is the last word): count on it.
      open = await lockOpenIncident(ctx.trx, cap.fingerprint, cap.environment);
      if (!open)
        throw new Error(`the open incident of ${cap.fingerprint}/${cap.environment} closed meanwhile; retrying`);
    }

    // An incident is already open: count the occurrences; a mute that ran out starts remediation.
    const draft = new Draft(open);
    if (open.status === 'muted' && !mutedUntil) {
      transition(step, draft, 'triaged', 'the mute window ended', {
        occurrences: Math.max(open.occurrences, cap.total_count),
        muted_until: null,
      });
      const triaged = { ...incidentData(draft.row), status: 'triaged' as const, previous_status: 'muted' as const };
      draft.later((s) => s.emit('incident.updated', triaged));
      await nextAttempt(step, deps, draft, 'the mute window ended');
      await save(step, draft);
      return;
    }
    if (cap.total_count <= open.occurrences) return;
    draft.set({ occurrences: cap.total_count, changed_at: step.now });
    const row = draft.row;
    await save(step, draft);
    ctx.emit('incident.updated', {
      ...incidentData({ ...row, reason: `${cap.total_count} occurrences so far` }),
      status: row.status as Exclude<typeof row.status, 'resolved' | 'escalated'>,
      previous_status: row.status,
    });
  };
}
