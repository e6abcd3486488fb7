// action-executor's own Prometheus metrics, on the kit's registry.
import type { KitMetrics } from '@grace/service-kit';
import { Counter, Gauge, Histogram } from 'prom-client';

export interface ExecutorMetrics {
  denied: Counter<'by' | 'rule'>;
  executed: Counter<'adapter' | 'result'>;
  rollbacks: Counter<'trigger' | 'outcome'>;
  approvals: Counter<'outcome'>;
  adapterDuration: Histogram<'adapter' | 'operation'>;
  workersBusy: Gauge;
}

export function createMetrics(kit: KitMetrics): ExecutorMetrics {
  const registers = [kit.registry];
  return {
    denied: new Counter({
      name: 'grace_executor_actions_denied_total',
      help: 'Actions denied, by policy or constitution rule',
      labelNames: ['by', 'rule'],
      registers,
    }),
    executed: new Counter({
      name: 'grace_executor_actions_executed_total',
      help: 'Actions executed, by adapter and result',
      labelNames: ['adapter', 'result'],
      registers,
    }),
    rollbacks: new Counter({
      name: 'grace_executor_rollbacks_total',
      help: 'Snapshot restores, by trigger and outcome (restored, retry, failed)',
      labelNames: ['trigger', 'outcome'],
      registers,
    }),
    approvals: new Counter({
      name: 'grace_executor_approvals_total',
      help: 'Approvals, by outcome (requested, granted, rejected, expired)',
      labelNames: ['outcome'],
      registers,
    }),
    adapterDuration: new Histogram({
      name: 'grace_executor_adapter_duration_seconds',
      help: 'Adapter calls, by adapter and operation (snapshot, execute, restore)',
      labelNames: ['adapter', 'operation'],
      buckets: [0.005, 0.025, 0.1, 0.5, 1, 5, 15, 60, 300],
      registers,
    }),
    workersBusy: new Gauge({ name: 'grace_executor_workers_busy', help: 'Workers running a contract step', registers }),
  };
}
