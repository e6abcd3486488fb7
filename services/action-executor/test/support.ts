// Test support for the executor: a target system on NATS with real state that answers the remediation protocol,
// a test policy, and builders of action requests, verdicts and votes.
import { createEvent, remediationSubject, type EventData, type GraceEvent } from '@grace/contracts';
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { randomUUID } from 'node:crypto';

export const TEST_POLICY = `
version: 1
defaults:
  approval: { quorum: 2, role: approver, expires_in: 30m }
rules:
  - name: tier-3-needs-approval
    match: { tier: 3 }
    effect: { require_approval: true }
  - name: no-automatic-database-drops
    match: { action: drop_database }
    effect: { deny: dropping a database is never automatic }
  - name: rehearse-payments
    match: { service: payments-rehearsal }
    effect: { dry_run: true }
`;

type State = Record<string, unknown>;
/** What an action does to the target's state; 'hang' never answers. */
export type TargetAction = ((state: State, params: Record<string, unknown>) => void) | 'hang';

export interface TargetSystem {
  readonly state: State;
  /** How often each idempotency key acted. */
  readonly executions: Map<string, number>;
  readonly calls: { operation: string; body: Record<string, unknown> }[];
  stop(): Promise<void>;
}

/**
 * A target system on the bus: answers remediation.<service>.<action>, .snapshot, .restore and .status inside the
 * sandbox's namespace, with state the actions change, and never acts twice for one idempotency key.
 */
export function startTarget(
  nc: NatsConnection,
  namespace: string,
  service: string,
  initial: State,
  actions: Record<string, TargetAction>,
): TargetSystem {
  const state: State = structuredClone(initial);
  const executions = new Map<string, number>();
  const replies = new Map<string, unknown>();
  const calls: TargetSystem['calls'] = [];
  const prefix = `${namespace}.${remediationSubject(service, '')}`;
  const sub: Subscription = nc.subscribe(`${prefix}*`, {
    callback: (_err, msg) => {
      const operation = msg.subject.slice(prefix.length);
      const body = msg.json<Record<string, unknown>>();
      calls.push({ operation, body });
      const respond = (reply: unknown) => {
        msg.respond(JSON.stringify(reply));
      };
      if (operation === 'snapshot')
        return respond({ state: structuredClone(state), taken_at: new Date().toISOString() });
      if (operation === 'status') return respond({ state: structuredClone(state) });
      if (operation === 'restore') {
        for (const key of Object.keys(state)) delete state[key];
        Object.assign(state, structuredClone(body.state as State));
        return respond({ status: 'restored', actual_state: structuredClone(state) });
      }
      const action = actions[operation];
      if (action === 'hang') return;
      const key = String(body.idempotency_key);
      if (replies.has(key)) return respond(replies.get(key));
      if (!action) return respond({ status: 'failed', actual_state: state, message: `no action ${operation}` });
      executions.set(key, (executions.get(key) ?? 0) + 1);
      action(state, body.params as Record<string, unknown>);
      const reply = { status: 'succeeded', actual_state: structuredClone(state) };
      replies.set(key, reply);
      respond(reply);
    },
  });
  return {
    state,
    executions,
    calls,
    async stop() {
      sub.unsubscribe();
    },
  };
}

export function requested(
  service: string,
  overrides: Partial<EventData<'action.requested'>> = {},
): GraceEvent<'action.requested'> {
  const incidentId = randomUUID();
  return createEvent(
    'action.requested',
    {
      action_id: randomUUID(),
      incident_id: incidentId,
      fingerprint: `fp-${randomUUID()}`,
      signature: 'database:poolexhausted',
      playbook: 'restart_pool',
      adapter: 'nats',
      action: 'restart_pool',
      target: { service, environment: 'production' },
      params: { reason: 'test' },
      tier: 2,
      expected_effect: { target_state: { 'pool.healthy': true }, error_rate_ceiling: 1 },
      checks: [{ kind: 'state', name: 'pool-healthy' }],
      timeout_ms: 5_000,
      idempotency_key: `${incidentId}:1`,
      attempt: 1,
      requested_by: { kind: 'service', id: 'sentinel' },
      requested_at: new Date().toISOString(),
      ...overrides,
    },
    { source: 'test/sentinel' },
  );
}

/** The verifier's verdict on an executed action. */
export function verdictOn(
  executed: GraceEvent<'action.executed'>,
  verdict: EventData<'contract.verified'>['verdict'],
): GraceEvent<'contract.verified'> {
  const e = executed.data;
  const now = new Date().toISOString();
  return createEvent(
    'contract.verified',
    {
      verification_id: randomUUID(),
      contract_id: e.contract_id,
      action_id: e.action_id,
      ...(e.incident_id ? { incident_id: e.incident_id } : {}),
      playbook: e.playbook,
      adapter: e.adapter,
      action: e.action,
      target: e.target,
      tier: e.tier,
      attempt: e.attempt,
      verdict,
      confidence: verdict === 'verified' ? 0.95 : 0.1,
      reason: `test verdict: ${verdict}`,
      checks: [],
      execution_ms: e.duration_ms,
      executed_at: e.finished_at,
      verified_at: now,
      time_to_verify_ms: 1,
    },
    { source: 'test/verifier', ...(executed.correlationid ? { correlationid: executed.correlationid } : {}) },
  );
}

export function vote(
  approvalId: string,
  voterId: string,
  roles: EventData<'approval.vote.cast'>['voter_roles'],
  decision: 'approve' | 'reject' = 'approve',
): GraceEvent<'approval.vote.cast'> {
  return createEvent(
    'approval.vote.cast',
    {
      vote_id: randomUUID(),
      approval_id: approvalId,
      voter_id: voterId,
      voter_roles: roles,
      decision,
      cast_at: new Date().toISOString(),
    },
    { source: 'test/chat-gateway' },
  );
}

/** The audit trail of a tier-2 action cut short (timed out, or its worker lost) and rolled back to its snapshot. */
export const CUT_SHORT_AND_ROLLED_BACK = [
  'contract.created',
  'policy.checked',
  'snapshot.taken',
  'execution.started',
  'execution.finished',
  'rollback.finished',
];
