// The action.executed events the verifier's tests send: a succeeded tier-2 action with one state check, the
// target reporting the expected state; each test overrides what it is about.
import { createEvent, type EventData, type GraceEvent } from '@grace/contracts';
import { randomUUID } from 'node:crypto';

export function executed(overrides: Partial<EventData<'action.executed'>> = {}): GraceEvent<'action.executed'> {
  const finished = new Date();
  return createEvent(
    'action.executed',
    {
      contract_id: randomUUID(),
      action_id: randomUUID(),
      incident_id: randomUUID(),
      fingerprint: `fp-${randomUUID()}`,
      signature: 'database:poolexhausted',
      playbook: 'reconnect_database',
      adapter: 'nats',
      action: 'reconnect_database',
      target: { service: 'orders', environment: 'production' },
      params: {},
      tier: 2,
      expected_effect: { target_state: { 'pool.healthy': true }, error_rate_ceiling: 1 },
      checks: [{ kind: 'state', name: 'pool-healthy' }],
      timeout_ms: 30_000,
      attempt: 1,
      result: 'succeeded',
      actual_state: { pool: { healthy: true, size: 10 } },
      started_at: new Date(finished.getTime() - 40).toISOString(),
      finished_at: finished.toISOString(),
      duration_ms: 40,
      ...overrides,
    },
    { source: 'test/action-executor' },
  );
}
