// A valid example of every event's data, every query's request and reply, and the adapter protocol, for docs and tests.
import type { ActionPlan, Check, Target } from './events/actions.js';
import type { Decision, Incident } from './events/incidents.js';
import type { PlaybookStatistics } from './events/learning.js';
import type { QueryReply, QueryRequest, QuerySubject } from './queries.js';
import type {
  RemediationReply,
  RemediationRequest,
  RestoreReply,
  RestoreRequest,
  SnapshotReply,
  SnapshotRequest,
  TargetStatusReply,
  TargetStatusRequest,
} from './queries/remediation.js';
import type { EventData, EventSubject } from './subjects.js';

const at = (minute: number) => new Date(Date.UTC(2025, 0, 6, 10, minute)).toISOString();

const target: Target = { service: 'checkout', environment: 'production', namespace: 'shop', deployment: 'checkout' };

const checks: Check[] = [
  { kind: 'http', name: 'health', url: 'http://checkout.shop:8080/healthz', expect_status: 200, max_latency_ms: 500 },
  {
    kind: 'nats',
    name: 'status',
    subject: 'remediation.checkout.status',
    expect_fields: { 'pool.healthy': true },
    timeout_ms: 2000,
  },
  { kind: 'error_rate', name: 'errors stop', scope: 'fingerprint', window_ms: 120_000, weight: 2 },
  { kind: 'state', name: 'replicas', fields: ['replicas'] },
];

const plan: ActionPlan = {
  playbook: 'restart_service',
  adapter: 'kubernetes',
  action: 'rollout_restart',
  target,
  params: { reason: 'connection pool exhausted' },
  tier: 2,
  expected_effect: { target_state: { replicas: 3, ready_replicas: 3 }, error_rate_ceiling: 1 },
  checks,
  timeout_ms: 60_000,
};

const origin = { incident_id: 'inc-1', fingerprint: 'fp-9a1c', signature: 'checkout:ConnectionRefused:database' };

// The incident as first seen; `incident` is the same one after triage chose a playbook.
const openedIncident = {
  incident_id: 'inc-1',
  fingerprint: 'fp-9a1c',
  signature: 'checkout:ConnectionRefused:database',
  service: 'checkout',
  environment: 'production',
  kind: 'ConnectionRefused',
  severity: 'error' as const,
  category: 'database',
  blast_radius: 'medium' as const,
  status: 'detected' as const,
  reason: 'first capture of the fingerprint',
  attempts: 0,
  occurrences: 1,
  opened_at: at(0),
  changed_at: at(0),
};

const incident: Incident = {
  ...openedIncident,
  status: 'remediating',
  previous_status: 'triaged',
  reason: 'chose restart_service (Thompson draw 0.81)',
  attempts: 1,
  occurrences: 42,
  playbook: 'restart_service',
  action_id: 'act-1',
  triaged_at: at(0),
  changed_at: at(1),
};

const decision: Decision = {
  attempt: 1,
  playbook: 'restart_service',
  action_id: 'act-1',
  reason: 'highest Thompson draw among 2 candidates',
  candidates: [
    { playbook: 'restart_service', score: 0.81 },
    { playbook: 'reconnect_database', excluded: 'cooldown' },
  ],
  decided_at: at(1),
  outcome: 'failed',
  outcome_reason: 'health check answered 503',
  confidence: 0.2,
};

const statistics: PlaybookStatistics = {
  signature: 'checkout:ConnectionRefused:database',
  playbook: 'restart_service',
  executions: 10,
  successes: 8,
  failures: 2,
  rollbacks: 1,
  denials: 0,
  mean_confidence: 0.86,
  mean_time_to_verify_ms: 4200,
  alpha: 9,
  beta: 3,
  last_verdict: 'verified',
  last_outcome_at: at(5),
  updated_at: at(5),
};

const votes = [{ voter_id: 'alice', decision: 'approve' as const, cast_at: at(3), counted: true }];
const quorum = { required: 2, role: 'approver' as const };
const contractRef = {
  contract_id: 'con-1',
  action_id: 'act-1',
  ...origin,
  playbook: 'restart_service',
  adapter: 'kubernetes' as const,
  action: 'rollout_restart',
  target,
  tier: 2,
  attempt: 1,
};

export const eventExamples: { [S in EventSubject]: EventData<S> } = {
  'error.reported': {
    service: 'checkout',
    environment: 'production',
    kind: 'ConnectionRefused',
    message: 'connect ECONNREFUSED 10.0.0.7:5432',
    severity: 'error',
    occurred_at: at(0),
    stack: [{ function: 'connect', file: 'db.ts', line: 12 }],
    origin: 'nats',
    attributes: { pod: 'checkout-7d9f', retries: 3 },
  },
  'error.captured': {
    capture_id: 'cap-1',
    fingerprint: 'fp-9a1c',
    service: 'checkout',
    environment: 'production',
    kind: 'ConnectionRefused',
    message: 'connect ECONNREFUSED <ip>:<n>',
    severity: 'error',
    category: 'database',
    first_seen: at(0),
    last_seen: at(0),
    count: 1,
    total_count: 1,
    update: false,
    storm: false,
    reported_event_id: 'evt-1',
    security_flags: [],
  },
  'security.finding': {
    finding_id: 'fnd-1',
    category: 'secret',
    kind: 'url_password',
    location: 'attributes.db_url',
    service: 'checkout',
    environment: 'production',
    reported_event_id: 'evt-1',
    action: 'redacted',
    detected_at: at(0),
  },
  'alert.resolved': {
    fingerprint: 'p:alertmanager-group:6b1f0c2d9e8a7b3c4d5e6f708192a3b4',
    environment: 'production',
    service: 'checkout',
    alert_fingerprint: '3f8a1c9d2b7e4a60',
    alertname: 'CheckoutHighErrorRate',
    group_key: '{}:{alertname="CheckoutHighErrorRate"}',
    starts_at: at(0),
    ends_at: at(7),
    firing: 2,
    members: 3,
    producer: 'alertmanager',
    labels: { alertname: 'CheckoutHighErrorRate', service: 'checkout', environment: 'production' },
  },
  'incident.opened': { ...openedIncident, capture_id: 'cap-1' },
  'incident.updated': { ...incident, status: 'remediating', previous_status: 'triaged' },
  'incident.resolved': {
    ...incident,
    status: 'resolved',
    previous_status: 'verifying',
    reason: 'contract con-1 verified with confidence 0.95',
    contract_id: 'con-1',
    playbook: 'restart_service',
    action_id: 'act-1',
    confidence: 0.95,
    changed_at: at(6),
  },
  'incident.escalated': {
    ...incident,
    status: 'escalated',
    previous_status: 'verifying',
    reason: 'attempt limit 3 reached',
    attempts: 3,
    trail: [decision],
    changed_at: at(9),
  },
  'action.requested': {
    action_id: 'act-1',
    ...origin,
    ...plan,
    idempotency_key: 'inc-1:1',
    attempt: 1,
    requested_by: { kind: 'service', id: 'sentinel' },
    requested_at: at(1),
  },
  'action.denied': {
    action_id: 'act-1',
    ...origin,
    playbook: 'restart_service',
    adapter: 'kubernetes',
    action: 'rollout_restart',
    target,
    tier: 2,
    attempt: 1,
    denied_by: 'constitution',
    rule: 'action_budget',
    reason: '3 tier >= 2 actions on checkout/production in the last hour',
    denied_at: at(1),
  },
  'action.executed': {
    contract_id: 'con-1',
    action_id: 'act-1',
    ...origin,
    ...plan,
    attempt: 1,
    result: 'succeeded',
    actual_state: { replicas: 3, ready_replicas: 3 },
    snapshot_id: 'snap-1',
    started_at: at(2),
    finished_at: at(3),
    duration_ms: 41_000,
  },
  'approval.requested': {
    approval_id: 'apr-1',
    contract_id: 'con-1',
    action_id: 'act-1',
    incident_id: 'inc-1',
    quorum,
    plan: { ...plan, tier: 3 },
    requested_by: { kind: 'service', id: 'sentinel' },
    reason: 'tier 3 always needs approval',
    requested_at: at(1),
    expires_at: at(31),
  },
  'approval.granted': {
    approval_id: 'apr-1',
    contract_id: 'con-1',
    action_id: 'act-1',
    quorum,
    votes: [...votes, { voter_id: 'bob', decision: 'approve', cast_at: at(4), counted: true }],
    granted_at: at(4),
  },
  'approval.rejected': {
    approval_id: 'apr-1',
    contract_id: 'con-1',
    action_id: 'act-1',
    quorum,
    votes: [...votes, { voter_id: 'bob', decision: 'reject', cast_at: at(4), counted: true }],
    rejected_by: 'bob',
    reason: 'not during the sale',
    rejected_at: at(4),
  },
  'approval.expired': {
    approval_id: 'apr-1',
    contract_id: 'con-1',
    action_id: 'act-1',
    quorum,
    votes,
    expires_at: at(31),
  },
  'approval.vote.cast': {
    vote_id: 'vote-1',
    approval_id: 'apr-1',
    voter_id: 'alice',
    voter_roles: ['approver'],
    decision: 'approve',
    cast_at: at(3),
  },
  'contract.verified': {
    verification_id: 'ver-1',
    ...contractRef,
    verdict: 'drift',
    confidence: 0.4,
    execution_result: 'succeeded',
    reason: 'replicas moved away from the expected state',
    checks: [
      {
        name: 'health',
        kind: 'http',
        status: 'passed',
        reason: '200 in 35 ms',
        duration_ms: 35,
        observed: { status: 200 },
      },
      { name: 'status', kind: 'nats', status: 'error', reason: 'no reply within 2000 ms', duration_ms: 2000 },
      {
        name: 'replicas',
        kind: 'state',
        status: 'failed',
        reason: '1 of 1 fields differ',
        duration_ms: 0,
        fields: [{ field: 'replicas', expected: 3, actual: 1, matched: false }],
      },
    ],
    drift: {
      fields: [{ field: 'replicas', expected: 3, actual: 1, matched: false }],
      baselines: [{ check: 'health', metric: 'latency_ms', baseline: 30, observed: 35, tolerance: 20 }],
    },
    execution_ms: 41_000,
    executed_at: at(3),
    verified_at: at(4),
    time_to_verify_ms: 60_000,
  },
  'contract.rolled_back': {
    ...contractRef,
    snapshot_id: 'snap-1',
    trigger: 'drift',
    verification_id: 'ver-1',
    reason: 'verdict drift: replicas 1, expected 3',
    restored_state: { replicas: 3 },
    duration_ms: 5000,
    rolled_back_at: at(5),
  },
  'playbook.stats.updated': statistics,
};

const contract = {
  contract_id: 'con-1',
  action_id: 'act-1',
  ...origin,
  ...plan,
  idempotency_key: 'inc-1:1',
  attempt: 1,
  requested_by: { kind: 'service' as const, id: 'sentinel' },
  status: 'rolled_back' as const,
  dry_run: false,
  snapshot_id: 'snap-1',
  result: 'succeeded' as const,
  actual_state: { replicas: 1 },
  verdict: 'drift' as const,
  confidence: 0.4,
  created_at: at(1),
  updated_at: at(5),
};

const hash = (digit: string) => digit.repeat(64);
const auditEntry = {
  seq: 1,
  at: at(1),
  step: 'policy.checked',
  actor: 'action-executor',
  contract_id: 'con-1',
  action_id: 'act-1',
  detail: { rule: 'default', decision: 'allow' },
  prev_hash: hash('0'),
  hash: hash('a'),
};

const approval = {
  ...eventExamples['approval.requested'],
  status: 'pending' as const,
  votes,
};

const executorStatus = {
  paused: true,
  paused_by: 'admin',
  paused_at: at(7),
  reason: 'maintenance',
  held_actions: 2,
  open_contracts: 1,
  dry_run: false,
};

export const queryExamples: { [Q in QuerySubject]: { request: QueryRequest<Q>; reply: QueryReply<Q> } } = {
  'trigger-mesh.query.captures': {
    request: { service: 'checkout', storm: false, from: at(0), limit: 20 },
    reply: {
      items: [
        {
          capture_id: 'cap-1',
          fingerprint: 'fp-9a1c',
          service: 'checkout',
          environment: 'production',
          kind: 'ConnectionRefused',
          message: 'connect ECONNREFUSED <ip>:<n>',
          severity: 'error',
          first_seen: at(0),
          last_seen: at(9),
          count: 12,
          total_count: 42,
          storm: false,
          security_flags: [],
        },
      ],
      next_cursor: 'b3BhcXVl',
    },
  },
  'sentinel.query.incidents': {
    request: { status: ['remediating', 'verifying'], environment: 'production', limit: 50 },
    reply: { items: [incident] },
  },
  'sentinel.query.incident': {
    request: { incident_id: 'inc-1' },
    reply: {
      incident,
      timeline: [
        { status: 'detected', reason: 'first capture', at: at(0) },
        { status: 'triaged', previous_status: 'detected', reason: 'category database, severity error', at: at(0) },
      ],
      trail: [decision],
    },
  },
  'sentinel.query.playbooks': {
    request: { playbook: 'restart_service' },
    reply: {
      catalog_version: '2025-01-06.1',
      playbooks: [
        {
          name: 'restart_service',
          description: 'Rollout restart of the Deployment',
          applies_to: { kind: ['ConnectionRefused'], category: ['database'], min_severity: 'error' },
          adapter: 'kubernetes',
          action: 'rollout_restart',
          tier: 2,
          timeout_ms: 60_000,
          template: {
            target: { namespace: '{{attributes.namespace | default: default}}', deployment: '{{service}}' },
            params: { reason: '{{message}}' },
            expected_effect: plan.expected_effect,
            checks: [{ kind: 'http', name: 'health', url: 'http://{{service}}:8080/healthz', expect_status: 200 }],
          },
          cooldown_ms: 600_000,
          statistics: [statistics],
        },
      ],
    },
  },
  'sentinel.query.plan': {
    request: { playbook: 'restart_service', service: 'checkout', environment: 'production' },
    reply: { plan, catalog_version: 'v3-1f2e3d4c5b6a' },
  },
  'sentinel.control.mute': {
    request: {
      signature: 'database:connectionrefused',
      until: at(60),
      by: 'alice',
      reason: 'database maintenance until noon',
    },
    reply: {
      mute_id: 'mute-1',
      signature: 'database:connectionrefused',
      until: at(60),
      by: 'alice',
      reason: 'database maintenance until noon',
    },
  },
  'executor.query.contract': {
    request: { contract_id: 'con-1' },
    reply: {
      contract,
      snapshot: {
        snapshot_id: 'snap-1',
        contract_id: 'con-1',
        adapter: 'kubernetes',
        target,
        state: { replicas: 3 },
        taken_at: at(2),
        restored_at: at(5),
      },
      audit: [auditEntry],
    },
  },
  'executor.query.approvals': {
    request: { environment: 'production' },
    reply: { items: [approval] },
  },
  'executor.query.audit': {
    request: { contract_id: 'con-1', verify: true },
    reply: { entries: [auditEntry], verification: { ok: true, checked: 1 } },
  },
  'executor.control.pause': {
    request: { by: 'admin', reason: 'maintenance' },
    reply: executorStatus,
  },
  'executor.control.resume': {
    request: { by: 'admin' },
    reply: { paused: false, held_actions: 0, open_contracts: 3, dry_run: false },
  },
  'executor.control.status': {
    request: {},
    reply: executorStatus,
  },
  'verifier.query.verification': {
    request: { contract_id: 'con-1' },
    reply: { verification: eventExamples['contract.verified'] },
  },
  'verifier.query.baselines': {
    request: { service: 'checkout' },
    reply: {
      items: [
        {
          service: 'checkout',
          environment: 'production',
          check: 'health',
          kind: 'http',
          metric: 'latency_ms',
          value: 30,
          tolerance: 20,
          samples: 12,
          updated_at: at(4),
        },
      ],
    },
  },
  'learning.query.stats': {
    request: { playbook: 'restart_service' },
    reply: { items: [statistics] },
  },
  'learning.query.outcomes': {
    request: { verdict: 'drift', from: at(0), to: at(59) },
    reply: {
      items: [
        {
          action_id: 'act-1',
          contract_id: 'con-1',
          incident_id: 'inc-1',
          playbook: 'restart_service',
          signature: 'checkout:ConnectionRefused:database',
          service: 'checkout',
          environment: 'production',
          adapter: 'kubernetes',
          action: 'rollout_restart',
          tier: 2,
          verdict: 'drift',
          confidence: 0.4,
          denied: false,
          rolled_back: true,
          execution_ms: 41_000,
          time_to_verify_ms: 60_000,
          recorded_at: at(5),
        },
      ],
    },
  },
  'learning.query.top': {
    request: { order: 'best', min_executions: 5, limit: 3 },
    reply: { items: [{ rank: 1, success_rate: 0.8, posterior_mean: 0.75, statistics }] },
  },
  'cube.query.success_rate': {
    request: { from: at(0), to: at(59), bucket: 'hour', group_by: 'playbook', environment: 'production' },
    reply: { rows: [{ bucket_start: at(0), group: 'restart_service', executed: 10, verified: 8, success_rate: 0.8 }] },
  },
  'cube.query.mttr': {
    request: { from: at(0), to: at(59), bucket: 'day', service: 'checkout' },
    reply: {
      rows: [
        {
          bucket_start: at(0),
          service: 'checkout',
          environment: 'production',
          resolved: 4,
          mean_ms: 360_000,
          p50_ms: 300_000,
          p90_ms: 600_000,
        },
      ],
    },
  },
  'cube.query.error_trends': {
    request: { from: at(0), to: at(59), bucket: 'week', top: 10 },
    reply: {
      rows: [
        {
          bucket_start: at(0),
          fingerprint: 'fp-9a1c',
          kind: 'ConnectionRefused',
          category: 'database',
          occurrences: 42,
          previous_week_occurrences: 21,
          week_over_week_change: 1,
        },
      ],
    },
  },
  'cube.query.rollback_drift': {
    request: { from: at(0), to: at(59), bucket: 'day', tier: 2 },
    reply: {
      rows: [
        {
          bucket_start: at(0),
          tier: 2,
          adapter: 'kubernetes',
          executed: 10,
          rolled_back: 1,
          drifted: 2,
          rollback_rate: 0.1,
          drift_rate: 0.2,
        },
      ],
      worst_playbooks: [
        {
          playbook: 'restart_service',
          adapter: 'kubernetes',
          tier: 2,
          executed: 10,
          rolled_back: 1,
          drifted: 2,
          rollback_rate: 0.1,
          drift_rate: 0.2,
        },
      ],
    },
  },
  'cube.etl.run': {
    request: {},
    reply: {
      run_id: 'etl-1',
      status: 'succeeded',
      watermark_from: 100,
      watermark_to: 250,
      rows_read: 150,
      rows_written: { fact_actions: 12, fact_errors: 130, dim_service: 1 },
      started_at: at(10),
      finished_at: at(10),
      duration_ms: 310,
    },
  },
};

export const remediationExamples: {
  request: RemediationRequest;
  reply: RemediationReply;
  snapshotRequest: SnapshotRequest;
  snapshotReply: SnapshotReply;
  restoreRequest: RestoreRequest;
  restoreReply: RestoreReply;
  statusRequest: TargetStatusRequest;
  statusReply: TargetStatusReply;
} = {
  request: {
    contract_id: 'con-1',
    action_id: 'act-1',
    idempotency_key: 'inc-1:1',
    action: 'clear_cache',
    target: { service: 'demo', environment: 'local' },
    params: { cache: 'sessions' },
    timeout_ms: 60_000,
  },
  reply: { status: 'succeeded', actual_state: { 'cache.entries': 0 }, message: 'cleared 812 entries' },
  snapshotRequest: {
    contract_id: 'con-1',
    action: 'clear_cache',
    target: { service: 'demo', environment: 'local' },
    params: { cache: 'sessions' },
  },
  snapshotReply: { state: { 'cache.entries': 812 }, taken_at: at(2) },
  restoreRequest: {
    contract_id: 'con-1',
    snapshot_id: 'snap-1',
    target: { service: 'demo', environment: 'local' },
    state: { 'cache.entries': 812 },
  },
  restoreReply: { status: 'restored', actual_state: { 'cache.entries': 812 } },
  statusRequest: { target: { service: 'demo', environment: 'local' } },
  statusReply: { state: { 'cache.entries': 812, 'pool.healthy': true } },
};
