import { describe, expect, it } from '@jest/globals';
import type { TSchema } from '@sinclair/typebox';
import { queryExamples, remediationExamples } from './examples.js';
import { queries, querySubjects, type QuerySubject } from './queries.js';
import {
  RemediationReply,
  RemediationRequest,
  remediationSubject,
  RestoreReply,
  RestoreRequest,
  SnapshotReply,
  SnapshotRequest,
  TargetStatusReply,
  TargetStatusRequest,
} from './queries/remediation.js';
import { validateQueryResponse, validateReply, validateRequest, validateSchema } from './validate.js';

type Json = Record<string, unknown>;

interface Case {
  what: string;
  change: (request: Json) => void;
  path: string;
  message: string;
}

const set = (field: string, value: unknown, what: string, message: string): Case => ({
  what,
  change: (request) => {
    request[field] = value;
  },
  path: field,
  message,
});
const without = (field: string): Case => ({
  what: `without ${field}`,
  change: (request) => {
    delete request[field];
  },
  path: field,
  message: 'is required',
});
const oneOf = (values: string[]) => `must be one of: ${values.map((v) => JSON.stringify(v)).join(', ')}`;
const notEmpty = 'must NOT have fewer than 1 properties';

const requestCases: Record<QuerySubject, Case[]> = {
  'trigger-mesh.query.captures': [
    set('limit', 1000, 'asking for 1000 items', 'must be <= 100'),
    set('severity', 'fatal', 'with severity fatal', oneOf(['debug', 'info', 'warning', 'error', 'critical'])),
    set('from', 'last week', 'from "last week"', 'must match format "date-time"'),
    set('storm', 'yes', 'with storm "yes"', 'must be boolean'),
  ],
  'sentinel.query.incidents': [
    {
      what: 'with status open',
      change: (r) => (r.status = ['resolved', 'open']),
      path: 'status.1',
      message: oneOf(['detected', 'triaged', 'remediating', 'verifying', 'resolved', 'escalated', 'muted']),
    },
    set('status', [], 'with an empty status list', 'must NOT have fewer than 1 items'),
    set('open', 'yes', 'with open "yes"', 'must be boolean'),
    set('cursor', '', 'with an empty cursor', 'must NOT have fewer than 1 characters'),
  ],
  'sentinel.query.incident': [
    without('incident_id'),
    set('incident_id', '', 'with an empty incident id', 'must NOT have fewer than 1 characters'),
    set('incident_id', 'i'.repeat(129), 'with an oversized incident id', 'must NOT have more than 128 characters'),
  ],
  'sentinel.query.playbooks': [
    set('playbook', 'restart service', 'for a playbook name with a space', 'must match pattern'),
  ],
  'sentinel.query.plan': [
    set('playbook', 'restart service', 'for a playbook name with a space', 'must match pattern'),
    { what: 'without a service', change: (r) => delete r.service, path: 'service', message: 'is required' },
  ],
  'sentinel.control.mute': [
    set('until', 'tomorrow', 'until "tomorrow"', 'must match format "date-time"'),
    { what: 'without a reason', change: (r) => delete r.reason, path: 'reason', message: 'is required' },
  ],
  'executor.query.contract': [
    { what: 'naming no contract', change: (r) => delete r.contract_id, path: '', message: notEmpty },
    set('contract_id', 5, 'with a numeric contract id', 'must be string'),
  ],
  'executor.query.approvals': [set('limit', 0, 'asking for 0 items', 'must be >= 1')],
  'executor.query.audit': [
    set('after_seq', -1, 'after sequence -1', 'must be >= 0'),
    set('verify', 'true', 'with verify "true"', 'must be boolean'),
    set('limit', 501, 'asking for 501 entries', 'must be <= 500'),
  ],
  'executor.control.pause': [without('reason'), without('by')],
  'executor.control.resume': [
    without('by'),
    set('reason', '', 'with an empty reason', 'must NOT have fewer than 1 characters'),
  ],
  'executor.control.status': [set('force', true, 'with force', 'is not an allowed property')],
  'verifier.query.verification': [
    { what: 'naming no verification', change: (r) => delete r.contract_id, path: '', message: notEmpty },
    set('action_id', null, 'with a null action id', 'must be string'),
  ],
  'verifier.query.baselines': [
    set('service', 'check out', 'for a service name with a space', 'must match pattern'),
    set('limit', 101, 'asking for 101 items', 'must be <= 100'),
  ],
  'learning.query.stats': [set('signature', '', 'with an empty signature', 'must NOT have fewer than 1 characters')],
  'learning.query.outcomes': [
    set('verdict', 'rolled_back', 'with verdict rolled_back', oneOf(['verified', 'failed', 'drift'])),
    set('to', 'now', 'to "now"', 'must match format "date-time"'),
  ],
  'learning.query.top': [
    without('order'),
    set('order', 'middle', 'in the middle order', oneOf(['best', 'worst'])),
    set('limit', 51, 'asking for 51 playbooks', 'must be <= 50'),
  ],
  'cube.query.success_rate': [
    without('from'),
    set('bucket', 'month', 'bucketed by month', oneOf(['minute', 'hour', 'day', 'week'])),
    set('group_by', 'adapter', 'grouped by adapter', oneOf(['playbook', 'service', 'tier'])),
    set('tier', 0, 'for tier 0', 'must be >= 1'),
  ],
  'cube.query.mttr': [
    without('bucket'),
    set('to', 'now', 'to "now"', 'must match format "date-time"'),
    set('playbook', 'restart_service', 'filtered by playbook', 'is not an allowed property'),
  ],
  'cube.query.error_trends': [
    without('to'),
    set('top', 101, 'for the top 101', 'must be <= 100'),
    set('kind', '', 'with an empty kind', 'must NOT have fewer than 1 characters'),
  ],
  'cube.query.rollback_drift': [
    set('adapter', 'ssh', 'for adapter ssh', oneOf(['nats', 'http', 'kubernetes'])),
    set('worst', 0, 'for the worst 0', 'must be >= 1'),
  ],
  'cube.etl.run': [set('table', 'fact_actions', 'for one table', 'is not an allowed property')],
};

// Every request refuses a property it does not know.
const rejections = querySubjects.flatMap((subject) =>
  [set('unexpected', 1, 'with an unknown property', 'is not an allowed property'), ...requestCases[subject]].map(
    (c) => ({ ...c, subject, title: `a ${subject} request ${c.what} is rejected at ${c.path || '(root)'}` }),
  ),
);

describe('query contracts', () => {
  it('cover every request-reply subject the services answer', () => {
    expect(querySubjects).toEqual([
      'trigger-mesh.query.captures',
      'sentinel.query.incidents',
      'sentinel.query.incident',
      'sentinel.query.playbooks',
      'sentinel.query.plan',
      'sentinel.control.mute',
      'executor.query.contract',
      'executor.query.approvals',
      'executor.query.audit',
      'executor.control.pause',
      'executor.control.resume',
      'executor.control.status',
      'verifier.query.verification',
      'verifier.query.baselines',
      'learning.query.stats',
      'learning.query.outcomes',
      'learning.query.top',
      'cube.query.success_rate',
      'cube.query.mttr',
      'cube.query.error_trends',
      'cube.query.rollback_drift',
      'cube.etl.run',
    ]);
  });

  it.each(querySubjects)('accept the example request and reply of %s', (subject) => {
    const { request, reply } = structuredClone(queryExamples[subject]);
    expect(validateRequest(subject, request)).toEqual({ ok: true, value: request });
    expect(validateReply(subject, reply)).toEqual({ ok: true, value: reply });
    expect(validateQueryResponse({ ok: true, data: reply }).ok).toBe(true);
  });

  it.each(rejections)('$title', ({ subject, change, path, message }) => {
    const request = structuredClone(queryExamples[subject].request) as Json;
    change(request);
    const result = validateRequest(subject, request);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toContainEqual({ path, message: expect.stringContaining(message) });
    expect(result.errors.map((e) => e.path)).toEqual(result.errors.map(() => path));
  });

  it.each(querySubjects)('a %s reply with an unknown property or without a required one is rejected', (subject) => {
    const reply = structuredClone(queryExamples[subject].reply) as Json;
    expect(validateReply(subject, { ...reply, unexpected: 1 })).toEqual({
      ok: false,
      errors: [{ path: 'unexpected', message: 'is not an allowed property' }],
    });
    const required = (queries[subject].reply as TSchema & { required: string[] }).required[0]!;
    delete reply[required];
    expect(validateReply(subject, reply)).toEqual({ ok: false, errors: [{ path: required, message: 'is required' }] });
  });

  it('a contract reply with an unknown status or an altered hash is rejected at its path', () => {
    const reply = structuredClone(queryExamples['executor.query.contract'].reply) as Json & {
      contract: Json;
      audit: Json[];
    };
    reply.contract.status = 'done';
    reply.audit[0]!.hash = 'not-a-hash';
    const result = validateReply('executor.query.contract', reply);
    expect(result.ok).toBe(false);
    if (!result.ok)
      expect(result.errors).toEqual([
        { path: 'contract.status', message: expect.stringContaining('must be one of: "pending", "approved"') },
        { path: 'audit.0.hash', message: 'must match pattern "^[0-9a-f]{64}$"' },
      ]);
  });

  it('a request on an unknown subject is rejected', () => {
    expect(validateRequest('sentinel.query.everything', {})).toEqual({
      ok: false,
      errors: [{ path: '', message: 'unknown query subject "sentinel.query.everything"' }],
    });
    expect(validateReply('sentinel.query.everything', {}).ok).toBe(false);
  });

  it('an error response carries a known code', () => {
    expect(validateQueryResponse({ ok: false, error: { code: 'not_found', message: 'no incident inc-9' } }).ok).toBe(
      true,
    );
    const result = validateQueryResponse({ ok: false, error: { code: 'oops', message: 'x' } });
    expect(result.ok).toBe(false);
    if (!result.ok)
      expect(result.errors).toContainEqual({ path: 'error.code', message: expect.stringContaining('must be one of') });
  });
});

describe('remediation adapter protocol', () => {
  const schemas: [string, TSchema, unknown][] = [
    ['action request', RemediationRequest, remediationExamples.request],
    ['action reply', RemediationReply, remediationExamples.reply],
    ['snapshot request', SnapshotRequest, remediationExamples.snapshotRequest],
    ['snapshot reply', SnapshotReply, remediationExamples.snapshotReply],
    ['restore request', RestoreRequest, remediationExamples.restoreRequest],
    ['restore reply', RestoreReply, remediationExamples.restoreReply],
    ['status request', TargetStatusRequest, remediationExamples.statusRequest],
    ['status reply', TargetStatusReply, remediationExamples.statusReply],
  ];

  it.each(schemas)('accepts the example %s', (_name, schema, example) => {
    expect(validateSchema(schema, example).ok).toBe(true);
  });

  it.each([
    [
      'an action request with a dot in the action',
      RemediationRequest,
      { ...remediationExamples.request, action: 'a.b' },
      'action',
      'must match pattern',
    ],
    [
      'an action request without an idempotency key',
      RemediationRequest,
      { ...remediationExamples.request, idempotency_key: undefined },
      'idempotency_key',
      'is required',
    ],
    [
      'an action reply with status ok',
      RemediationReply,
      { ...remediationExamples.reply, status: 'ok' },
      'status',
      oneOf(['succeeded', 'failed']),
    ],
    [
      'a snapshot reply without a state',
      SnapshotReply,
      { taken_at: remediationExamples.snapshotReply.taken_at },
      'state',
      'is required',
    ],
    [
      'a restore request without a snapshot id',
      RestoreRequest,
      { ...remediationExamples.restoreRequest, snapshot_id: undefined },
      'snapshot_id',
      'is required',
    ],
    [
      'a restore reply with status done',
      RestoreReply,
      { ...remediationExamples.restoreReply, status: 'done' },
      'status',
      oneOf(['restored', 'failed']),
    ],
  ] as [string, TSchema, Json, string, string][])('rejects %s at its path', (_name, schema, value, path, message) => {
    const result = validateSchema(schema, JSON.parse(JSON.stringify(value)));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors).toEqual([{ path, message: expect.stringContaining(message) }]);
  });

  it('names subjects remediation.<service>.<action or operation>', () => {
    expect(remediationSubject('checkout', 'rollout_restart')).toBe('remediation.checkout.rollout_restart');
    expect(remediationSubject('checkout', 'snapshot')).toBe('remediation.checkout.snapshot');
  });
});
