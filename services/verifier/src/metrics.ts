// verifier's own Prometheus metrics, on the kit's registry.
import type { KitMetrics } from '@grace/service-kit';
import { Counter, Gauge, Histogram } from 'prom-client';

export interface VerifierMetrics {
  verdicts: Counter<'verdict'>;
  checks: Counter<'kind' | 'status'>;
  timeToVerify: Histogram;
  workersBusy: Gauge;
}

export function createMetrics(kit: KitMetrics): VerifierMetrics {
  const registers = [kit.registry];
  return {
    verdicts: new Counter({
      name: 'grace_verifier_verdicts_total',
      help: 'Verdicts, by verdict',
      labelNames: ['verdict'],
      registers,
    }),
    checks: new Counter({
      name: 'grace_verifier_checks_total',
      help: 'Checks run, by kind and status',
      labelNames: ['kind', 'status'],
      registers,
    }),
    timeToVerify: new Histogram({
      name: 'grace_verifier_time_to_verify_seconds',
      help: 'From the end of the action to its verdict (includes error-rate windows)',
      buckets: [0.01, 0.05, 0.1, 0.25, 1, 5, 30, 120, 600],
      registers,
    }),
    workersBusy: new Gauge({ name: 'grace_verifier_workers_busy', help: 'Verifications being judged', registers }),
  };
}
