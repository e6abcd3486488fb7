// error.captured -> classify -> find or open the incident (one open per fingerprint and environment) -> act.
import type { GraceEvent } from '@grace/contracts';
import type { HandlerContext } from '@grace/service-kit';
import { classify, signatureOf } from '../domain/classify.js';
import { incidentData, nextAttempt, stepOf, transition, type LifecycleDeps } from '../remediation.js';
import {
  activeMute,
  addTransitions,
  lockOpenIncident,
  lockRecentEscalation,
  openIncident,
  updateIncident,
  type Database,
} from '../store.js';

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
    // A human owns an escalated incident: more of the same error is counted on it, not remediated again.
    const held = await lockRecentEscalation(
      ctx.trx,
      cap.fingerprint,
      cap.environment,
      new Date(step.now.getTime() - deps.escalationHoldMs),
    );
    if (held) {
      if (cap.total_count > held.occurrences) await updateIncident(ctx.trx, held.id, { occurrences: cap.total_count });
      ctx.log.debug({ incident_id: held.id }, 'counted on the escalated incident');
      return;
    }
    // Muted by a routing rule (trigger-mesh) or by an operator (sentinel.control.mute): the longer one holds.
    const signature = signatureOf({ kind: cap.kind, category: cls.category });
    const ruleMute =
      cap.muted_until && Date.parse(cap.muted_until) > step.now.getTime() ? new Date(cap.muted_until) : null;
    const operatorMute = await activeMute(ctx.trx, cap.fingerprint, signature, step.now);
    const byOperator = operatorMute !== undefined && (!ruleMute || operatorMute.until > ruleMute);
    const mutedUntil = byOperator ? operatorMute.until : ruleMute;
    const opened = await openIncident(ctx.trx, {
      fingerprint: cap.fingerprint,
      environment: cap.environment,
      signature,
      service: cap.service,
      kind: cap.kind,
      message: cap.message,
      severity: cls.severity,
      category: cls.category,
      blast_radius: cls.blastRadius,
      attributes: cap.attributes ? JSON.stringify(cap.attributes) : null,
      route: cap.route ?? null,
      status: mutedUntil ? 'muted' : 'triaged',
      reason: !mutedUntil
        ? cls.reason
        : byOperator
          ? `muted by ${operatorMute.by} until ${mutedUntil.toISOString()}: ${operatorMute.reason}`
          : `muted by a routing rule until ${mutedUntil.toISOString()}`,
      attempts: 0,
      occurrences: cap.total_count,
      capture_id: cap.capture_id,
      muted_until: mutedUntil,
      opened_at: step.now,
      triaged_at: step.now,
      changed_at: step.now,
    });

    if (opened) {
      await addTransitions(ctx.trx, [
        {
          incident_id: opened.id,
          status: 'detected',
          previous_status: null,
          reason: `captured ${cap.kind} on ${cap.service}`,
          at: step.now,
        },
        {
          incident_id: opened.id,
          status: opened.status,
          previous_status: 'detected',
          reason: opened.reason,
          at: step.now,
        },
      ]);
      ctx.emit('incident.opened', {
        ...incidentData(opened),
        status: opened.status as 'triaged' | 'muted',
        previous_status: 'detected',
        capture_id: cap.capture_id,
      });
      step.afterCommit(() => deps.metrics.opened.inc());
      if (!mutedUntil) await nextAttempt(step, deps, opened, cls.reason);
      return;
    }

    // An incident is already open: count the occurrences; a mute that ran out starts remediation.
    const open = await lockOpenIncident(ctx.trx, cap.fingerprint, cap.environment);
    if (!open) throw new Error(`the open incident of ${cap.fingerprint}/${cap.environment} closed meanwhile; retrying`);
    if (open.status === 'muted' && !mutedUntil) {
      const triaged = await transition(step, open, 'triaged', 'the mute window ended', {
        occurrences: Math.max(open.occurrences, cap.total_count),
        muted_until: null,
      });
      step.emit('incident.updated', { ...incidentData(triaged), status: 'triaged', previous_status: 'muted' });
      return nextAttempt(step, deps, triaged, 'the mute window ended');
    }
    if (cap.total_count <= open.occurrences) return;
    const row = await updateIncident(ctx.trx, open.id, { occurrences: cap.total_count, changed_at: step.now });
    ctx.emit('incident.updated', {
      ...incidentData({ ...row, reason: `${cap.total_count} occurrences so far` }),
      status: row.status as Exclude<typeof row.status, 'resolved' | 'escalated'>,
      previous_status: row.status,
    });
  };
}
