// Test support for the sentinel: a test catalog, captured errors, and verdicts for requested actions.
import { createEvent, type EventData, type GraceEvent } from '@grace/contracts';
import { randomUUID } from 'node:crypto';

/** Four playbooks for `TestFailure` errors, no cooldown, so a test controls every choice. */
export const TEST_CATALOG = `
version: 1
playbooks:
${['alpha', 'bravo', 'charlie', 'delta']
  .map(
    (name) => `  - name: ${name}
    description: test playbook ${name}
    applies_to:
      kind: [TestFailure]
    adapter: nats
    action: ${name}_fix
    params: { reason: 'fix {{kind}} on {{service}}' }
    tier: 1
    expected_effect: { target_state: { healthy: true }, error_rate_ceiling: 1 }
    checks:
      - { kind: state, name: healthy, fields: [healthy] }
    timeout_ms: 30000
    cooldown: 0s`,
  )
  .join('\n')}
`;

export function captured(overrides: Partial<EventData<'error.captured'>> = {}): GraceEvent<'error.captured'> {
  const now = new Date().toISOString();
  return createEvent(
    'error.captured',
    {
      capture_id: randomUUID(),
      fingerprint: `fp-${randomUUID()}`,
      service: 'checkout',
      environment: 'production',
      kind: 'TestFailure',
      message: 'the test target is unhealthy',
      severity: 'error',
      first_seen: now,
      last_seen: now,
      count: 1,
      total_count: 1,
      update: false,
      storm: false,
      reported_event_id: randomUUID(),
      security_flags: [],
      ...overrides,
    },
    { source: 'test/trigger-mesh' },
  );
}

/** What every contract event says about the contract of a requested action (a new contract id). */
function contractOf(request: GraceEvent<'action.requested'>) {
  const r = request.data;
  return {
    contract_id: randomUUID(),
    action_id: r.action_id,
    ...(r.incident_id ? { incident_id: r.incident_id } : {}),
    ...(r.fingerprint ? { fingerprint: r.fingerprint } : {}),
    ...(r.signature ? { signature: r.signature } : {}),
    playbook: r.playbook,
    adapter: r.adapter,
    action: r.action,
    target: r.target,
    tier: r.tier,
    attempt: r.attempt,
  };
}

/** The verifier's verdict on a requested action. */
export function verdict(
  request: GraceEvent<'action.requested'>,
  outcome: EventData<'contract.verified'>['verdict'],
  confidence = outcome === 'verified' ? 1 : 0.2,
): GraceEvent<'contract.verified'> {
  const now = new Date().toISOString();
  return createEvent(
    'contract.verified',
    {
      verification_id: randomUUID(),
      ...contractOf(request),
      verdict: outcome,
      confidence,
      reason: `test verdict: ${outcome}`,
      checks: [],
      execution_ms: 5,
      executed_at: now,
      verified_at: now,
      time_to_verify_ms: 1,
    },
    { source: 'test/verifier', correlationid: request.correlationid },
  );
}

/** The executor's report that it restored the snapshot of a requested action. */
export function rolledBack(
  request: GraceEvent<'action.requested'>,
  trigger: EventData<'contract.rolled_back'>['trigger'],
): GraceEvent<'contract.rolled_back'> {
  return createEvent(
    'contract.rolled_back',
    {
      ...contractOf(request),
      snapshot_id: randomUUID(),
      trigger,
      reason: `test rollback after ${trigger}`,
      restored_state: { healthy: false },
      duration_ms: 3,
      rolled_back_at: new Date().toISOString(),
    },
    { source: 'test/executor', correlationid: request.correlationid },
  );
}

export function stats(
  signature: string,
  playbook: string,
  successes: number,
  failures: number,
): GraceEvent<'playbook.stats.updated'> {
  return createEvent(
    'playbook.stats.updated',
    {
      signature,
      playbook,
      executions: successes + failures,
      successes,
      failures,
      rollbacks: 0,
      denials: 0,
      alpha: successes + 1,
      beta: failures + 1,
      updated_at: new Date().toISOString(),
    },
    { source: 'test/learning-loop' },
  );
}

/** The executor's report that it ran a requested action (tier 1: no snapshot). */
export function executed(request: GraceEvent<'action.requested'>): GraceEvent<'action.executed'> {
  const r = request.data;
  const now = new Date().toISOString();
  return createEvent(
    'action.executed',
    {
      ...contractOf(request),
      params: r.params,
      expected_effect: r.expected_effect,
      checks: r.checks,
      timeout_ms: r.timeout_ms,
      result: 'succeeded',
      actual_state: { healthy: true },
      started_at: now,
      finished_at: now,
      duration_ms: 4,
    },
    { source: 'test/executor', correlationid: request.correlationid },
  );
}
