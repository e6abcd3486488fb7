// A scripted history of Grace's events on 2026-11-20 (and one error a week before), whose cube numbers are worked
// out by hand in cube.test.ts.
import { createEvent, type EventData, type EventSubject, type GraceEvent } from '@grace/contracts';

export const DAY = '2026-11-20';
export const at = (time: string, day = DAY) => `${day}T${time}:00.000Z`;
const id = (name: string) => `00000000-0000-4000-8000-${name.padStart(12, '0')}`;

const event = <S extends EventSubject>(subject: S, data: EventData<S>, key: string): GraceEvent<S> =>
  createEvent(subject, data, { source: 'test/history', id: id(key) });

let captureNo = 0;
export function capture(
  fingerprint: string,
  service: string,
  environment: string,
  kind: string,
  category: string,
  firstSeen: string,
  lastSeen: string,
  count: number,
): GraceEvent<'error.captured'> {
  captureNo += 1;
  return event(
    'error.captured',
    {
      capture_id: id(`c${fingerprint.length}`),
      fingerprint,
      service,
      environment,
      kind,
      category,
      message: `${kind} on ${service}`,
      severity: 'error',
      first_seen: firstSeen,
      last_seen: lastSeen,
      count,
      total_count: count,
      update: firstSeen !== lastSeen,
      storm: false,
      reported_event_id: id(`r${captureNo}`),
      security_flags: [],
    },
    `1${String(captureNo).padStart(4, '0')}`,
  );
}

let incidentEventNo = 0;
/** An incident event of the script; `data` overrides fields of the event's data (e.g. resolved_by). */
export function incident(
  key: string,
  type: 'incident.opened' | 'incident.resolved' | 'incident.escalated',
  at: { opened: string; changed: string },
  where: { service: string; environment: string; fingerprint: string; kind: string; category: string },
  data: Record<string, unknown> = {},
): GraceEvent {
  incidentEventNo += 1;
  const base = {
    incident_id: id(key),
    fingerprint: where.fingerprint,
    signature: `${where.category}:${where.kind.toLowerCase()}`,
    service: where.service,
    environment: where.environment,
    kind: where.kind,
    severity: 'error' as const,
    category: where.category,
    reason: 'scripted',
    attempts: type === 'incident.opened' ? 0 : 1,
    occurrences: 1,
    opened_at: at.opened,
    triaged_at: at.opened,
    changed_at: at.changed,
  };
  const eventKey = `2${String(incidentEventNo).padStart(4, '0')}`;
  if (type === 'incident.opened')
    return event('incident.opened', { ...base, status: 'triaged', capture_id: id('c1'), ...data }, eventKey);
  if (type === 'incident.resolved')
    return event(
      'incident.resolved',
      {
        ...base,
        status: 'resolved',
        previous_status: 'verifying',
        playbook: 'restart_service',
        action_id: id('a1'),
        contract_id: id('k1'),
        confidence: 1,
        ...data,
      },
      eventKey,
    );
  return event(
    'incident.escalated',
    { ...base, status: 'escalated', previous_status: 'verifying', trail: [], ...data },
    eventKey,
  );
}

export interface ActionScript {
  key: string;
  playbook: string;
  adapter: 'nats' | 'http' | 'kubernetes';
  tier: 1 | 2 | 3;
  service: string;
  environment: string;
  requestedAt: string;
  approval?: { requestedAt: string; grantedAt: string; approvers: number };
  denied?: string;
  executed?: { startedAt: string; finishedAt: string; result: 'succeeded' | 'failed' | 'timed_out' | 'dry_run' };
  verdict?: { verdict: 'verified' | 'failed' | 'drift'; at: string; confidence: number };
  rolledBackAt?: string;
}

let actionEventNo = 0;
/** The events of one action, in flow order. */
export function actionEvents(a: ActionScript): GraceEvent[] {
  const plan = {
    playbook: a.playbook,
    adapter: a.adapter,
    action: a.playbook,
    target: { service: a.service, environment: a.environment },
    params: {},
    tier: a.tier,
    expected_effect: { target_state: { ready: true }, error_rate_ceiling: 1 },
    checks: [],
    timeout_ms: 60_000,
  };
  const ref = {
    action_id: id(`a${a.key}`),
    fingerprint: 'fp-db',
    playbook: a.playbook,
    adapter: a.adapter,
    action: a.playbook,
    target: plan.target,
    tier: a.tier,
    attempt: 1,
  };
  const next = () => `3${String((actionEventNo += 1)).padStart(4, '0')}`;
  const contractId = id(`k${a.key}`);
  const events: GraceEvent[] = [
    event(
      'action.requested',
      {
        ...plan,
        action_id: ref.action_id,
        fingerprint: 'fp-db',
        idempotency_key: `${a.key}:1`,
        attempt: 1,
        requested_by: { kind: 'service', id: 'sentinel' },
        requested_at: a.requestedAt,
      },
      next(),
    ),
  ];
  if (a.approval) {
    const approval = { approval_id: id(`p${a.key}`), contract_id: contractId, action_id: ref.action_id };
    const quorum = { required: 2, role: 'approver' as const };
    events.push(
      event(
        'approval.requested',
        {
          ...approval,
          quorum,
          plan,
          requested_by: { kind: 'service', id: 'sentinel' },
          reason: 'tier 3',
          requested_at: a.approval.requestedAt,
          expires_at: a.approval.grantedAt,
        },
        next(),
      ),
      event(
        'approval.granted',
        {
          ...approval,
          quorum,
          votes: Array.from({ length: a.approval.approvers }, (_, i) => ({
            voter_id: `approver-${i}`,
            decision: 'approve' as const,
            cast_at: a.approval!.grantedAt,
            counted: true,
          })),
          granted_at: a.approval.grantedAt,
        },
        next(),
      ),
    );
  }
  if (a.denied)
    events.push(
      event(
        'action.denied',
        { ...ref, denied_by: 'policy', rule: 'scripted', reason: 'scripted', denied_at: a.denied },
        next(),
      ),
    );
  if (a.executed) {
    const duration = Date.parse(a.executed.finishedAt) - Date.parse(a.executed.startedAt);
    events.push(
      event(
        'action.executed',
        {
          ...plan,
          contract_id: contractId,
          action_id: ref.action_id,
          fingerprint: 'fp-db',
          attempt: 1,
          result: a.executed.result,
          actual_state: {},
          started_at: a.executed.startedAt,
          finished_at: a.executed.finishedAt,
          duration_ms: duration,
        },
        next(),
      ),
    );
  }
  if (a.verdict && a.executed)
    events.push(
      event(
        'contract.verified',
        {
          ...ref,
          verification_id: id(`v${a.key}`),
          contract_id: contractId,
          verdict: a.verdict.verdict,
          confidence: a.verdict.confidence,
          execution_result: a.executed.result,
          reason: 'scripted',
          checks: [],
          execution_ms: 1000,
          executed_at: a.executed.finishedAt,
          verified_at: a.verdict.at,
          time_to_verify_ms: Date.parse(a.verdict.at) - Date.parse(a.executed.finishedAt),
        },
        next(),
      ),
    );
  if (a.rolledBackAt)
    events.push(
      event(
        'contract.rolled_back',
        {
          ...ref,
          contract_id: contractId,
          snapshot_id: id(`s${a.key}`),
          trigger: 'drift',
          reason: 'scripted',
          restored_state: {},
          duration_ms: 2000,
          rolled_back_at: a.rolledBackAt,
        },
        next(),
      ),
    );
  return events;
}

const checkout = { service: 'checkout', environment: 'production' };
const search = { service: 'search', environment: 'staging' };
const db = { fingerprint: 'fp-db', kind: 'ConnectionRefused', category: 'database' };
const cache = { fingerprint: 'fp-cache', kind: 'CacheMiss', category: 'cache' };

export const ACTIONS: ActionScript[] = [
  {
    key: '1',
    playbook: 'restart_service',
    adapter: 'kubernetes',
    tier: 2,
    ...checkout,
    requestedAt: at('10:07'),
    executed: { startedAt: at('10:07'), finishedAt: at('10:08'), result: 'succeeded' },
    verdict: { verdict: 'verified', at: at('10:09'), confidence: 1 },
  },
  {
    key: '2',
    playbook: 'restart_service',
    adapter: 'kubernetes',
    tier: 2,
    ...checkout,
    requestedAt: at('10:30'),
    executed: { startedAt: at('10:30'), finishedAt: at('10:31'), result: 'succeeded' },
    verdict: { verdict: 'drift', at: at('10:32'), confidence: 0.4 },
    rolledBackAt: at('10:33'),
  },
  {
    key: '3',
    playbook: 'clear_cache',
    adapter: 'nats',
    tier: 1,
    ...search,
    requestedAt: at('10:15'),
    executed: { startedAt: at('10:15'), finishedAt: at('10:16'), result: 'succeeded' },
    verdict: { verdict: 'failed', at: at('10:17'), confidence: 0 },
  },
  {
    key: '4',
    playbook: 'rollback_image',
    adapter: 'kubernetes',
    tier: 3,
    ...checkout,
    requestedAt: at('10:35'),
    approval: { requestedAt: at('10:35'), grantedAt: at('10:40'), approvers: 2 },
    executed: { startedAt: at('10:40'), finishedAt: at('10:41'), result: 'succeeded' },
    verdict: { verdict: 'verified', at: at('10:42'), confidence: 0.9 },
  },
  {
    key: '5',
    playbook: 'clear_cache',
    adapter: 'nats',
    tier: 1,
    ...checkout,
    requestedAt: at('10:50'),
    denied: at('10:50'),
  },
  {
    key: '6',
    playbook: 'restart_service',
    adapter: 'kubernetes',
    tier: 2,
    ...checkout,
    requestedAt: at('10:55'),
    executed: { startedAt: at('10:55'), finishedAt: at('10:55'), result: 'dry_run' },
    verdict: { verdict: 'failed', at: at('10:56'), confidence: 0 },
  },
  {
    key: '7',
    playbook: 'restart_service',
    adapter: 'kubernetes',
    tier: 2,
    ...checkout,
    requestedAt: at('11:11'),
    executed: { startedAt: at('11:11'), finishedAt: at('11:12'), result: 'succeeded' },
    verdict: { verdict: 'verified', at: at('11:13'), confidence: 1 },
  },
];

/** Everything that happened, in the order it was published. */
export function history(): GraceEvent[] {
  const w = at('10:05');
  return [
    // fp-db: one dedupe window from 10:05: 12 occurrences in hour 10, 8 in hour 11; 6 the week before at 10:00.
    capture('fp-db', 'checkout', 'production', db.kind, db.category, w, w, 1),
    capture('fp-db', 'checkout', 'production', db.kind, db.category, w, at('10:20'), 5),
    capture('fp-db', 'checkout', 'production', db.kind, db.category, w, at('10:50'), 12),
    capture('fp-db', 'checkout', 'production', db.kind, db.category, w, at('11:10'), 20),
    capture(
      'fp-db',
      'checkout',
      'production',
      db.kind,
      db.category,
      at('10:10', '2026-11-13'),
      at('10:30', '2026-11-13'),
      6,
    ),
    capture('fp-cache', 'search', 'staging', cache.kind, cache.category, at('10:15'), at('10:15'), 3),
    // Incidents: two resolved in hour 10 (10 and 20 min), one escalated, one resolved in hour 11 (30 min).
    incident('i1', 'incident.opened', { opened: at('10:06'), changed: at('10:06') }, { ...checkout, ...db }),
    incident('i1', 'incident.resolved', { opened: at('10:06'), changed: at('10:16') }, { ...checkout, ...db }),
    incident('i2', 'incident.opened', { opened: at('10:30'), changed: at('10:30') }, { ...checkout, ...db }),
    incident('i2', 'incident.resolved', { opened: at('10:30'), changed: at('10:50') }, { ...checkout, ...db }),
    incident('i3', 'incident.opened', { opened: at('10:15'), changed: at('10:15') }, { ...search, ...cache }),
    incident('i3', 'incident.escalated', { opened: at('10:15'), changed: at('10:45') }, { ...search, ...cache }),
    incident('i4', 'incident.opened', { opened: at('11:10'), changed: at('11:10') }, { ...checkout, ...db }),
    incident('i4', 'incident.resolved', { opened: at('11:10'), changed: at('11:40') }, { ...checkout, ...db }),
    ...ACTIONS.flatMap(actionEvents),
  ];
}
