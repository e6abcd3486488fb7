import { describe, expect, it } from '@jest/globals';
import { ContractViolationError, createEvent } from './create.js';
import { MAX_EVENT_BYTES, TRACEPARENT_PATTERN } from './envelope.js';
import { eventExamples } from './examples.js';
import { eventSubjects, events, type EventSubject } from './subjects.js';
import { describeErrors, validate, validateData } from './validate.js';

type Json = Record<string, unknown>;

interface Case {
  what: string;
  change: (event: Json) => void;
  path: string;
  message: string;
}

const source = 'grace/test';
const article = (subject: string) => (/^[aeiou]/.test(subject) ? 'an' : 'a');

function exampleEvent(subject: EventSubject): Json {
  return structuredClone(createEvent(subject, eventExamples[subject], { source })) as unknown as Json;
}

// Walks `data.checks.0` style paths to the parent object of the last segment.
function parentOf(event: Json, path: string): [Json, string] {
  const parts = path.split('.');
  const last = parts.pop()!;
  let node: unknown = event;
  for (const part of parts) node = (node as Json)[part];
  return [node as Json, last];
}

const set = (path: string, value: unknown) => (event: Json) => {
  const [parent, key] = parentOf(event, path);
  parent[key] = value;
};
const unset = (path: string) => (event: Json) => {
  const [parent, key] = parentOf(event, path);
  delete parent[key];
};

const without = (field: string, what = `without ${field}`): Case => ({
  what,
  change: unset(`data.${field}`),
  path: `data.${field}`,
  message: 'is required',
});
const withValue = (field: string, value: unknown, what: string, message: string): Case => ({
  what,
  change: set(`data.${field}`, value),
  path: `data.${field}`,
  message,
});
const oneOf = (values: string[]) => `must be one of: ${values.map((v) => JSON.stringify(v)).join(', ')}`;
const tooLong = (max: number) => `must NOT have more than ${max} characters`;

const verdicts = ['verified', 'failed', 'drift'];
const checkKinds = ['http', 'nats', 'error_rate', 'state'];

// What each subject must refuse beyond the cases every subject shares (see below).
const specificCases: Record<EventSubject, Case[]> = {
  'error.reported': [
    withValue('severity', 'fatal', 'with severity fatal', oneOf(['debug', 'info', 'warning', 'error', 'critical'])),
    withValue('message', 'x'.repeat(16_385), 'with a 16 KiB + 1 message', tooLong(16_384)),
    withValue('occurred_at', 'yesterday', 'with occurred_at "yesterday"', 'must match format "date-time"'),
    withValue('service', 'check out!', 'with a service name containing spaces', 'must match pattern'),
  ],
  'error.captured': [
    withValue('count', 0, 'with a count of 0', 'must be >= 1'),
    withValue('storm', 'yes', 'with storm "yes"', 'must be boolean'),
    withValue('security_flags', Array(33).fill('secret'), 'with 33 security flags', 'must NOT have more than 32 items'),
  ],
  'alert.resolved': [
    withValue('firing', -1, 'with -1 alerts firing', 'must be >= 0'),
    withValue('members', 0, 'with no members', 'must be >= 1'),
    withValue('ends_at', 'now', 'with ends_at "now"', 'must match format "date-time"'),
    withValue('group_key', 'k'.repeat(1025), 'with an oversized group key', tooLong(1024)),
    without('alert_fingerprint'),
  ],
  'security.finding': [
    withValue('category', 'password', 'with category password', oneOf(['secret', 'injection'])),
    withValue('location', 'x'.repeat(257), 'with an oversized location', tooLong(256)),
  ],
  'incident.opened': [
    withValue('status', 'resolved', 'with status resolved', oneOf(['detected', 'triaged', 'muted'])),
    withValue('attempts', -1, 'with -1 attempts', 'must be >= 0'),
    withValue('reason', 'x'.repeat(2049), 'with an oversized reason', tooLong(2048)),
    without('capture_id'),
  ],
  'incident.updated': [
    without('previous_status'),
    withValue(
      'status',
      'resolved',
      'with status resolved',
      oneOf(['detected', 'triaged', 'remediating', 'verifying', 'muted']),
    ),
    withValue('occurrences', '42', 'with occurrences as a string', 'must be integer'),
  ],
  'incident.resolved': [
    withValue('status', 'escalated', 'with status escalated', 'must be "resolved"'),
    withValue('confidence', 1.5, 'with confidence 1.5', 'must be <= 1'),
    without('confidence'),
    withValue('resolved_by', 'operator', 'resolved by an operator', oneOf(['contract', 'source'])),
  ],
  'incident.escalated': [
    withValue(
      'trail.0.outcome',
      'maybe',
      'with a trail outcome maybe',
      oneOf(['pending', 'verified', 'failed', 'drift', 'rolled_back', 'denied']),
    ),
    withValue(
      'trail',
      Array(33).fill(eventExamples['incident.escalated'].trail[0]),
      'with 33 trail entries',
      'must NOT have more than 32 items',
    ),
    withValue('trail.0.candidates.0.score', 2, 'with a candidate score of 2', 'must be <= 1'),
  ],
  'action.requested': [
    withValue('tier', 4, 'with tier 4', 'must be <= 3'),
    withValue('adapter', 'ssh', 'with adapter ssh', oneOf(['nats', 'http', 'kubernetes'])),
    without('target.environment', 'without a target environment'),
    withValue('expected_effect.error_rate_ceiling', '1', 'with an error-rate ceiling as a string', 'must be number'),
    withValue('checks.0.kind', 'smtp', 'with a check of kind smtp', oneOf(checkKinds)),
    without('checks.0.expect_status', 'with an http check without expect_status'),
    without('checks.1.kind', 'with a check without kind'),
    withValue('checks.2.scope', 'pod', 'with an error_rate check scoped to pod', oneOf(['fingerprint', 'service'])),
    withValue('checks.3.url', 'http://x', 'with a url on a state check', 'is not an allowed property'),
    withValue('checks.0', 'health', 'with a check that is a string', 'must be object'),
    withValue(
      'checks',
      Array(33).fill({ kind: 'state', name: 's' }),
      'with 33 checks',
      'must NOT have more than 32 items',
    ),
    withValue('action', 'rollout.restart', 'with a dot in the action name', 'must match pattern'),
    withValue('timeout_ms', 0, 'with a timeout of 0 ms', 'must be >= 1'),
    withValue('requested_by.kind', 'robot', 'requested by a robot', oneOf(['service', 'user'])),
    withValue('idempotency_key', 'k'.repeat(257), 'with an oversized idempotency key', tooLong(256)),
  ],
  'action.denied': [withValue('denied_by', 'opa', 'denied by opa', oneOf(['policy', 'constitution'])), without('rule')],
  'action.executed': [
    withValue('result', 'ok', 'with result ok', oneOf(['succeeded', 'failed', 'timed_out', 'dry_run'])),
    withValue('duration_ms', 1.5, 'with a fractional duration', 'must be integer'),
    without('actual_state'),
  ],
  'approval.requested': [
    withValue('quorum.required', 0, 'with a quorum of 0', 'must be >= 1'),
    withValue('quorum.role', 'root', 'with a quorum of root', oneOf(['viewer', 'operator', 'approver', 'admin'])),
    withValue('plan.tier', 5, 'with a plan of tier 5', 'must be <= 3'),
    without('expires_at'),
  ],
  'approval.granted': [
    withValue('votes.0.decision', 'maybe', 'with a vote maybe', oneOf(['approve', 'reject'])),
    withValue('votes.0.counted', 'yes', 'with counted "yes"', 'must be boolean'),
  ],
  'approval.rejected': [without('rejected_by')],
  'approval.expired': [withValue('expires_at', 'tomorrow', 'expiring "tomorrow"', 'must match format "date-time"')],
  'approval.vote.cast': [
    withValue('decision', 'abstain', 'abstaining', oneOf(['approve', 'reject'])),
    withValue('voter_roles', [], 'without voter roles', 'must NOT have fewer than 1 items'),
    withValue('voter_roles', ['approver', 'approver'], 'with a role twice', 'must NOT have duplicate items'),
    withValue('comment', 'x'.repeat(1025), 'with an oversized comment', tooLong(1024)),
  ],
  'contract.verified': [
    withValue('verdict', 'ok', 'with verdict ok', oneOf(verdicts)),
    withValue('confidence', -0.1, 'with a negative confidence', 'must be >= 0'),
    withValue('checks.0.status', 'flaky', 'with a flaky check', oneOf(['passed', 'failed', 'error', 'skipped'])),
    without('checks.0.reason', 'with a check result without reason'),
    withValue('drift.fields.0.matched', 'no', 'with drift matched "no"', 'must be boolean'),
  ],
  'contract.rolled_back': [
    withValue('trigger', 'manual', 'triggered manually', oneOf(['drift', 'failed', 'timed_out'])),
    without('snapshot_id'),
  ],
  'playbook.stats.updated': [
    withValue('alpha', 0, 'with alpha 0', 'must be > 0'),
    withValue('executions', -1, 'with -1 executions', 'must be >= 0'),
    withValue('last_verdict', 'rolled_back', 'with last verdict rolled_back', oneOf(verdicts)),
    withValue('mean_confidence', 2, 'with mean confidence 2', 'must be <= 1'),
  ],
};

// Every subject refuses the same envelope and data mistakes.
function sharedCases(subject: EventSubject): Case[] {
  const firstRequired = (events[subject].data as { required: string[] }).required[0]!;
  const other = eventSubjects.find((s) => s !== subject)!;
  return [
    without(firstRequired),
    withValue('unexpected', 1, 'with an unknown data property', 'is not an allowed property'),
    { what: `typed as ${other}`, change: set('type', other), path: 'type', message: `must be "${subject}"` },
    {
      what: 'with a time that is not RFC 3339',
      change: set('time', '06/01/2025'),
      path: 'time',
      message: 'must match format "date-time"',
    },
    { what: 'without data', change: unset('data'), path: 'data', message: 'is required' },
  ];
}

const rejections = eventSubjects.flatMap((subject) =>
  [...sharedCases(subject), ...specificCases[subject]].map((c) => ({
    ...c,
    subject,
    title: `${article(subject)} ${subject} ${c.what} is rejected at ${c.path}`,
  })),
);

describe('event contracts', () => {
  it('cover every subject of the architecture', () => {
    expect([...eventSubjects].sort()).toEqual(
      [
        'error.reported',
        'error.captured',
        'security.finding',
        'alert.resolved',
        'incident.opened',
        'incident.updated',
        'incident.resolved',
        'incident.escalated',
        'action.requested',
        'action.denied',
        'action.executed',
        'approval.requested',
        'approval.granted',
        'approval.rejected',
        'approval.expired',
        'approval.vote.cast',
        'contract.verified',
        'contract.rolled_back',
        'playbook.stats.updated',
      ].sort(),
    );
  });

  it.each(eventSubjects)('accept the example %s, also after a JSON round trip and within the size limit', (subject) => {
    const event = createEvent(subject, eventExamples[subject], { source });
    const wire = JSON.stringify(event);
    expect(validate(subject, JSON.parse(wire))).toEqual({ ok: true, value: JSON.parse(wire) });
    expect(validateData(subject, eventExamples[subject]).ok).toBe(true);
    expect(Buffer.byteLength(wire)).toBeLessThan(MAX_EVENT_BYTES);
  });

  it.each(rejections)('$title', ({ subject, change, path, message }) => {
    const event = exampleEvent(subject);
    change(event);
    const result = validate(subject, event);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toContainEqual({ path, message: expect.stringContaining(message) });
    // One readable reason, not the noise of every union member.
    expect(result.errors.map((e) => e.path)).toEqual(result.errors.map(() => path));
  });

  it('an event of an unknown subject is rejected at type', () => {
    expect(validate('error.exploded', exampleEvent('error.reported'))).toEqual({
      ok: false,
      errors: [{ path: 'type', message: 'unknown subject "error.exploded"' }],
    });
  });

  it('an event may carry CloudEvents extension attributes, but not with upper-case names', () => {
    const event = { ...exampleEvent('error.reported'), tenant: 'acme' };
    expect(validate('error.reported', event).ok).toBe(true);
    expect(validate('error.reported', { ...event, Tenant: 'acme' }).ok).toBe(false);
  });
});

describe('describeErrors', () => {
  it('joins every error into one line with its path, (root) for the root', () => {
    expect(
      describeErrors([
        { path: 'data.severity', message: 'must be one of: "debug", "info"' },
        { path: '', message: 'must be object' },
      ]),
    ).toBe('data.severity: must be one of: "debug", "info"; (root): must be object');
  });

  it('reads as the reasons of a real rejection', () => {
    const data = { ...eventExamples['error.reported'], severity: 'fatal', service: undefined };
    const result = validateData('error.reported', JSON.parse(JSON.stringify(data)));
    expect(result.ok).toBe(false);
    if (!result.ok)
      expect(describeErrors(result.errors)).toBe(
        'service: is required; severity: must be one of: "debug", "info", "warning", "error", "critical"',
      );
  });
});

describe('createEvent', () => {
  const parent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

  it('fills the envelope: spec version, a new id, source, type, time and a correlation id defaulting to the id', () => {
    const time = new Date('2025-01-06T10:00:00.000Z');
    const event = createEvent('playbook.stats.updated', eventExamples['playbook.stats.updated'], { source, time });
    expect(event).toMatchObject({
      specversion: '1.0',
      source,
      type: 'playbook.stats.updated',
      time: '2025-01-06T10:00:00.000Z',
      datacontenttype: 'application/json',
    });
    expect(event.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(event.correlationid).toBe(event.id);
    expect(createEvent('playbook.stats.updated', event.data, { source }).id).not.toBe(event.id);
  });

  it('keeps a given id, correlation id and subject', () => {
    const event = createEvent('approval.vote.cast', eventExamples['approval.vote.cast'], {
      source,
      id: 'evt-7',
      correlationid: 'flow-1',
      subject: 'apr-1',
    });
    expect(event).toMatchObject({ id: 'evt-7', correlationid: 'flow-1', subject: 'apr-1' });
  });

  it('continues the parent trace with a new span, or starts a new sampled trace', () => {
    const child = createEvent('action.requested', eventExamples['action.requested'], { source, traceparent: parent });
    expect(child.traceparent).toMatch(new RegExp(TRACEPARENT_PATTERN));
    const [version, trace, span, flags] = child.traceparent!.split('-');
    expect([version, trace, flags]).toEqual(['00', '4bf92f3577b34da6a3ce929d0e0e4736', '01']);
    expect(span).not.toBe('00f067aa0ba902b7');

    const root = createEvent('action.requested', eventExamples['action.requested'], { source });
    expect(root.traceparent).toMatch(new RegExp(TRACEPARENT_PATTERN));
    expect(root.traceparent!.split('-')[1]).not.toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  });

  it('throws a ContractViolationError with every error when the data breaks the contract', () => {
    const data = { ...eventExamples['contract.verified'], verdict: 'ok', confidence: 2 };
    let thrown: unknown;
    try {
      createEvent('contract.verified', data as never, { source });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ContractViolationError);
    const violation = thrown as ContractViolationError;
    expect(violation.errors).toEqual([
      { path: 'data.verdict', message: oneOf(verdicts) },
      { path: 'data.confidence', message: 'must be <= 1' },
    ]);
    expect(violation.message).toBe(
      `event contract.verified breaks its contract: data.verdict: ${oneOf(verdicts)}; data.confidence: must be <= 1`,
    );
  });

  it('throws on a bad source too, since the envelope is validated with the data', () => {
    expect(() => createEvent('error.reported', eventExamples['error.reported'], { source: '' })).toThrow(
      'source: must NOT have fewer than 1 characters',
    );
  });
});
