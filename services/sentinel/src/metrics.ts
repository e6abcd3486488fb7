// sentinel's own Prometheus metrics, on the kit's registry.
import type { KitMetrics } from '@grace/service-kit';
import { Counter } from 'prom-client';

export interface SentinelMetrics {
  opened: Counter;
  resolved: Counter;
  escalated: Counter;
  actionsRequested: Counter<'playbook'>;
}

export function createMetrics(kit: KitMetrics): SentinelMetrics {
  const registers = [kit.registry];
  return {
    opened: new Counter({ name: 'grace_sentinel_incidents_opened_total', help: 'Incidents opened', registers }),
    resolved: new Counter({ name: 'grace_sentinel_incidents_resolved_total', help: 'Incidents resolved', registers }),
    escalated: new Counter({
      name: 'grace_sentinel_incidents_escalated_total',
      help: 'Incidents escalated',
      registers,
    }),
    actionsRequested: new Counter({
      name: 'grace_sentinel_actions_requested_total',
      help: 'action.requested by playbook',
      labelNames: ['playbook'],
      registers,
    }),
  };
}
