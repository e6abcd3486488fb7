// trigger-mesh's own Prometheus metrics, on the kit's registry.
import type { KitMetrics } from '@grace/service-kit';
import { Counter } from 'prom-client';

export interface TriggerMeshMetrics {
  findings: Counter<'category' | 'kind'>;
  dropped: Counter<'rule'>;
  storm: Counter<'scope'>;
  announced: Counter<'update'>;
  ingested: Counter<'route' | 'status'>;
  sentrySkipped: Counter<'type'>;
  alertsSkipped: Counter<'reason'>;
}

export function createMetrics(kit: KitMetrics): TriggerMeshMetrics {
  const registers = [kit.registry];
  return {
    findings: new Counter({
      name: 'grace_trigger_mesh_findings_total',
      help: 'Secrets redacted and injection attempts flagged',
      labelNames: ['category', 'kind'],
      registers,
    }),
    dropped: new Counter({
      name: 'grace_trigger_mesh_dropped_total',
      help: 'Errors dropped as noise by a routing rule (counted, not captured)',
      labelNames: ['rule'],
      registers,
    }),
    storm: new Counter({
      name: 'grace_trigger_mesh_storm_errors_total',
      help: 'Errors that arrived over a rate limit (counted in aggregate)',
      labelNames: ['scope'],
      registers,
    }),
    announced: new Counter({
      name: 'grace_trigger_mesh_captures_announced_total',
      help: 'error.captured events emitted (update=false: first of a window)',
      labelNames: ['update'],
      registers,
    }),
    ingested: new Counter({
      name: 'grace_trigger_mesh_http_requests_total',
      help: 'HTTP ingest requests by route and status',
      labelNames: ['route', 'status'],
      registers,
    }),
    sentrySkipped: new Counter({
      name: 'grace_trigger_mesh_sentry_items_skipped_total',
      help: 'Sentry envelope items that are not errors (sessions, transactions, client reports...), by item type',
      labelNames: ['type'],
      registers,
    }),
    alertsSkipped: new Counter({
      name: 'grace_trigger_mesh_alertmanager_alerts_skipped_total',
      help: 'Alerts of Alertmanager notifications left out (each time one is sent), by reason: too_large = its event over MAX_EVENT_BYTES',
      labelNames: ['reason'],
      registers,
    }),
  };
}
