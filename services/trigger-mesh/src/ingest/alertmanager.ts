// /ingest/alertmanager: Alertmanager's webhook (version 4), as Alertmanager sends it: every alert of a group in one
// notification (a batch: the body limit is INGEST_MAX_REQUEST_BYTES), again at each group_interval change and
// repeat_interval, with resolved alerts when send_resolved is on.
//
// All alerts of a group report under the group's fingerprint (one capture, one incident per environment), each
// keeping its own as `alert_fingerprint`. trigger-mesh remembers each alert of a group (alert fingerprint +
// startsAt, table alert_members), so that only an alert that starts firing is reported (error.reported, one
// occurrence); a re-notification of a firing alert updates its row and reports nothing; an alert that was firing
// and is now resolved is published as alert.resolved, saying how many of the group still fire.
//
// Every alert is held to the per-event limit (MAX_EVENT_BYTES): an alert whose event would exceed it is skipped and
// named in the answer's `skipped` (the rest of the group is accepted: Alertmanager does not retry a 4xx, so refusing
// the whole group would lose it); when every alert of a notification is over the limit, the answer is 413 naming
// them. Event ids derive from (producer, group, alert, startsAt, firing), so a notification retried after a 503 is
// stored once.
import { createEvent, type GraceEvent } from '@grace/contracts';
import { validateSchema } from '@grace/contracts';
import { HttpError } from '@grace/service-kit';
import { createHash } from 'node:crypto';
import {
  AlertmanagerWebhook,
  mapAlertmanager,
  type AlertmanagerWebhookType,
  type MappedAlert,
} from '../domain/alertmanager.js';
import { graceEventId } from '../domain/ids.js';
import { fingerprintOf } from '../domain/fingerprint.js';
import { boundedAttributes, truncate } from '../domain/report-bounds.js';
import {
  alertGroupCounts,
  alertKey,
  lockAlertGroup,
  saveAlertMembers,
  type AlertMember,
  type KnownAlert,
} from '../store.js';
import { parseJson, type IngestRoute } from './route.js';

/** An alert left out because its event is over the per-event limit. */
export interface SkippedAlert {
  index: number;
  alertname: string;
  alert_fingerprint: string;
  reason: string;
}

const bytes = (event: GraceEvent) => Buffer.byteLength(JSON.stringify(event));

export const alertmanagerRoute: IngestRoute = {
  name: 'alertmanager',
  paths: ['/ingest/alertmanager'],
  // A notification carries a whole group: 1,000 alerts of ~550 B are ~550 KB.
  limit: (deps) => deps.maxRequestBytes,
  async handle(req, { deps, producer, body, publishAll }) {
    const checked = validateSchema<AlertmanagerWebhookType>(AlertmanagerWebhook, parseJson(req, body));
    if (!checked.ok) {
      throw new HttpError(400, 'invalid_request', 'not an Alertmanager webhook (version 4) payload', {
        details: checked.errors,
      });
    }
    const source = `ingest/${producer.name}`;
    const mapping = mapAlertmanager(checked.value, producer.name);
    const groupHash = createHash('sha256').update(mapping.groupKey).digest('hex');
    const idOf = (a: MappedAlert, what: 'firing' | 'resolved', firings: number) =>
      graceEventId(
        producer.name,
        `alertmanager:${what}`,
        `${groupHash}\n${a.alertFingerprint}\n${a.startsAt}\n${firings}`,
      );
    const skipped: SkippedAlert[] = [];
    const skip = (a: MappedAlert, size: number) =>
      skipped.push({
        index: a.index,
        alertname: a.alertname,
        alert_fingerprint: a.alertFingerprint,
        reason: `alert ${a.index} (${a.alertname}, fingerprint ${a.alertFingerprint}): its error.reported is ${size} bytes, over the per-event limit of ${deps.maxBodyBytes}`,
      });

    // Counted and logged whatever the answer (a notification of nothing but oversized alerts is a 413).
    const reportSkipped = () => {
      if (skipped.length === 0) return;
      deps.metrics.alertsSkipped.inc({ reason: 'too_large' }, skipped.length);
      deps.log.warn({ producer: producer.name, skipped: skipped.slice(0, 10) }, 'alerts over the per-event limit');
    };
    const answer = await deps.db
      .transaction()
      .execute(async (trx) => {
        const known = await lockAlertGroup(
          trx,
          producer.name,
          groupHash,
          mapping.alerts.map((a) => ({ alertFingerprint: a.alertFingerprint, startsAt: a.startsAt })),
        );
        const now = new Date();
        const reports: GraceEvent<'error.reported'>[] = [];
        const resolvedAlerts: { alert: MappedAlert; firings: number }[] = [];
        const members = new Map<string, AlertMember>();
        let renotified = 0;
        let resolvedUnknown = 0;
        for (const a of mapping.alerts) {
          const key = alertKey(a.alertFingerprint, a.startsAt);
          // The same alert twice in one payload (it is not sent so): its last entry counts.
          const was: KnownAlert | undefined = members.has(key)
            ? { status: members.get(key)!.status, firings: members.get(key)!.firings!, notifications: 0 }
            : known.get(key);
          let firings = was?.firings ?? 0;
          if (a.status === 'firing') {
            if (was?.status === 'firing') {
              renotified++;
            } else {
              firings++;
              const event = createEvent('error.reported', a.report, { source, id: idOf(a, 'firing', firings) });
              const size = bytes(event);
              if (size > deps.maxBodyBytes) {
                skip(a, size);
                continue;
              }
              reports.push(event);
            }
          } else if (was?.status === 'firing') {
            resolvedAlerts.push({ alert: a, firings });
          } else {
            // Resolved, and never seen firing (or already resolved): recorded, nothing to announce.
            if (!was) resolvedUnknown++;
            else renotified++;
          }
          members.set(key, {
            producer: producer.name,
            group_hash: groupHash,
            group_key: mapping.groupKey,
            alert_fingerprint: a.alertFingerprint,
            starts_at: a.startsAt,
            fingerprint: fingerprintOf(a.report),
            environment: a.report.environment,
            service: a.report.service,
            alertname: a.alertname,
            labels: JSON.stringify(a.labels),
            status: a.status,
            firings,
            notifications: (known.get(key)?.notifications ?? 0) + 1,
            last_notified_at: now,
            ends_at: a.status === 'resolved' ? a.endsAt : null,
            resolved_at: a.status === 'resolved' ? (was?.status === 'firing' ? now : null) : null,
          });
        }
        if (skipped.length > 0 && skipped.length === mapping.alerts.length) {
          throw new HttpError(
            413,
            'too_large',
            `every alert of the notification is over the per-event limit of ${deps.maxBodyBytes} bytes`,
            { details: skipped.map((s) => ({ path: `alerts.${s.index}`, message: s.reason })) },
          );
        }
        await saveAlertMembers(trx, [...members.values()]);

        // Each resolution says how many of its group (in its environment) still fire: the last of them says 0.
        const counts = await alertGroupCounts(trx, producer.name, groupHash);
        const laterInEnvironment = new Map<string, number>();
        for (const { alert } of resolvedAlerts)
          laterInEnvironment.set(alert.report.environment, (laterInEnvironment.get(alert.report.environment) ?? 0) + 1);
        const resolutions: GraceEvent<'alert.resolved'>[] = [];
        for (const { alert: a, firings } of resolvedAlerts) {
          const environment = a.report.environment;
          const later = laterInEnvironment.get(environment)! - 1;
          laterInEnvironment.set(environment, later);
          const count = counts.get(environment) ?? { members: 1, firing: 0 };
          const labels = boundedAttributes(Object.entries(a.labels));
          const resolved = (withLabels: boolean) =>
            createEvent(
              'alert.resolved',
              {
                fingerprint: fingerprintOf(a.report),
                environment,
                service: a.report.service,
                alert_fingerprint: a.alertFingerprint,
                alertname: truncate(a.alertname, 256),
                group_key: truncate(mapping.groupKey, 1024) || '{}',
                starts_at: a.startsAt,
                ends_at: a.endsAt,
                firing: count.firing + later,
                members: Math.max(1, count.members),
                producer: producer.name,
                ...(labels && withLabels ? { labels } : {}),
              },
              // Its correlation is the report of the firing it ends.
              { source, id: idOf(a, 'resolved', firings), correlationid: idOf(a, 'firing', firings) },
            );
          // Its labels are the only part without a small bound: over the limit, it goes without them (they are in
          // alert_members), so a resolution is never left out.
          const event = resolved(true);
          resolutions.push(bytes(event) > deps.maxBodyBytes ? resolved(false) : event);
        }
        // JetStream holds every event before the state commits: a failure is a 503 (Alertmanager retries), and the
        // retried notification finds the state as it was and publishes the same ids again (stored once).
        await publishAll([...reports, ...resolutions]);
        return {
          accepted: reports.length,
          renotified,
          resolved: resolutions.length,
          resolved_unknown: resolvedUnknown,
          skipped,
          event_ids: [...reports, ...resolutions].map((e) => e.id),
        };
      })
      .finally(reportSkipped);
    return answer;
  },
};
