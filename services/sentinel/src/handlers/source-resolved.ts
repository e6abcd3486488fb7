// alert.resolved (trigger-mesh: an Alertmanager alert of a group stopped firing) -> an entry on the timeline of the
// group's incident (its fingerprint and environment); when no alert of the group fires any more and no action runs
// on the incident (open or escalated), it is resolved with the reason `source resolved` (remediation.ts,
// resolveAtSource). Counts of those alerts that arrive later are counted on it (error-captured.ts).
import type { GraceEvent } from '@grace/contracts';
import type { HandlerContext } from '@grace/service-kit';
import { Draft, noteOnTimeline, resolveAtSource, save, stepOf, type LifecycleDeps } from '../remediation.js';
import { lockFingerprint, lockIncidentOfSource, type Database } from '../store.js';

/**
 * The resolution travels straight from trigger-mesh while the firing alerts go through capture: it may come first.
 * Without an incident it is retried (the kit's backoff: RETRY_BASE_MS, doubled) up to this many deliveries, then
 * logged and left: the group's reports were dropped by a routing rule, or never captured.
 */
export const DELIVERIES_BEFORE_NO_INCIDENT = 4;

export function onAlertResolved(deps: LifecycleDeps) {
  return async (event: GraceEvent<'alert.resolved'>, ctx: HandlerContext<Database>): Promise<void> => {
    const step = stepOf(ctx);
    const a = event.data;
    // One at a time with the captures of the same fingerprint (triage takes the same lock).
    await lockFingerprint(ctx.trx, { fingerprint: a.fingerprint, environment: a.environment });
    const row = await lockIncidentOfSource(ctx.trx, a.fingerprint, a.environment);
    if (!row) {
      if (ctx.deliveryCount < DELIVERIES_BEFORE_NO_INCIDENT)
        throw new Error(`no incident of ${a.fingerprint}/${a.environment} yet: its capture may still be on its way`);
      ctx.log.info(
        { fingerprint: a.fingerprint, environment: a.environment, alert_fingerprint: a.alert_fingerprint },
        'an alert resolved, and its group has no incident',
      );
      return;
    }
    const draft = new Draft(row);
    noteOnTimeline(
      step,
      draft,
      `alert ${a.alertname} (${a.alert_fingerprint}) resolved at ${a.ends_at}; ${a.firing} of ${a.members} alerts of its group still firing`,
    );
    if (a.firing === 0) resolveAtSource(step, deps, draft, `all ${a.members} alerts of the group resolved`);
    await save(step, draft);
  };
}
