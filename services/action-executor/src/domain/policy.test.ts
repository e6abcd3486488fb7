// Tests of the action policy: the shipped policies.yaml, evaluation order and effects, windows, and bad files.
import { readFileSync } from 'node:fs';
import { OperatorFileError, type FileProblem } from '@grace/service-kit';
import { describe, expect, it } from '@jest/globals';
import { evaluatePolicy, parsePolicy, type CompiledPolicy, type PolicyInput } from './policy.js';

// 2025-01-07 is a Tuesday, 2025-01-11 a Saturday.
const TUESDAY_10_UTC = new Date('2025-01-07T10:00:00Z');

/** The problems a policy is refused for. */
function problems(text: string): readonly FileProblem[] {
  try {
    parsePolicy(text);
  } catch (error) {
    expect(error).toBeInstanceOf(OperatorFileError);
    expect((error as OperatorFileError).file).toBe('action policy');
    return (error as OperatorFileError).problems;
  }
  throw new Error('the policy was accepted');
}

function action(overrides: Partial<PolicyInput> = {}): PolicyInput {
  return {
    service: 'checkout',
    environment: 'production',
    playbook: 'restart_service',
    adapter: 'kubernetes',
    action: 'rollout_restart',
    tier: 1,
    now: TUESDAY_10_UTC,
    ...overrides,
  };
}

function policyWith(rules: string, defaults = ''): CompiledPolicy {
  return parsePolicy(`version: 1\n${defaults}rules:\n${rules}`);
}

describe('the shipped policies.yaml', () => {
  const policy = parsePolicy(readFileSync(new URL('../../policies.yaml', import.meta.url), 'utf8'));

  it('parses', () => {
    expect(policy).toEqual({ version: 1, rules: 2 });
  });

  it('holds a tier 3 action for 2 approvers', () => {
    expect(evaluatePolicy(policy, action({ tier: 3, environment: 'staging' }))).toEqual({
      tier: 3,
      approval: {
        rule: 'tier-3-needs-approval',
        quorum: { required: 2, role: 'approver' },
        expiresInMs: 30 * 60_000,
        reason: 'policy rule tier-3-needs-approval: a tier 3 action needs the approval of 2 approvers within 30m',
      },
      matched: ['tier-3-needs-approval'],
    });
  });

  it.each([
    ['Tuesday 10:00', '2025-01-07T10:00:00Z'],
    ['Tuesday 09:00 (from is inclusive)', '2025-01-07T09:00:00Z'],
    ['Friday 16:59', '2025-01-10T16:59:00Z'],
  ])('runs a production tier 2 action on %s UTC without approval', (_when, at) => {
    expect(evaluatePolicy(policy, action({ tier: 2, now: new Date(at) }))).toEqual({ tier: 2, matched: [] });
  });

  it.each([
    ['Saturday 10:00', '2025-01-11T10:00:00Z'],
    ['Tuesday 20:00', '2025-01-07T20:00:00Z'],
    ['Tuesday 17:00 (to is exclusive)', '2025-01-07T17:00:00Z'],
    ['Monday 08:59', '2025-01-06T08:59:00Z'],
  ])('holds a production tier 2 action on %s UTC for approval', (_when, at) => {
    const decision = evaluatePolicy(policy, action({ tier: 2, now: new Date(at) }));
    expect(decision.approval).toMatchObject({
      rule: 'production-tier-2-outside-change-window',
      quorum: { required: 2, role: 'approver' },
    });
    expect(decision.matched).toEqual(['production-tier-2-outside-change-window']);
  });

  it.each(['2025-01-07T10:00:00Z', '2025-01-11T10:00:00Z', '2025-01-07T20:00:00Z'])(
    'never holds a staging tier 2 action (%s)',
    (at) => {
      expect(evaluatePolicy(policy, action({ tier: 2, environment: 'staging', now: new Date(at) }))).toEqual({
        tier: 2,
        matched: [],
      });
    },
  );

  it.each(['2025-01-07T10:00:00Z', '2025-01-11T10:00:00Z', '2025-01-07T20:00:00Z'])(
    'never holds a tier 1 action (%s)',
    (at) => {
      expect(evaluatePolicy(policy, action({ tier: 1, now: new Date(at) }))).toEqual({ tier: 1, matched: [] });
    },
  );
});

describe('evaluatePolicy', () => {
  it('stops at the first matching deny and names its rule', () => {
    const policy = policyWith(`
  - name: dry-run-everything
    match: {}
    effect: { dry_run: true }
  - name: no-database-restarts
    match: { service: 'db-*', action: rollout_restart }
    effect: { deny: true }
  - name: never-in-production
    match: { environment: production }
    effect: { deny: not in production }
  - name: approve-everything
    match: {}
    effect: { require_approval: true }
`);
    expect(evaluatePolicy(policy, action({ service: 'db-orders' }))).toEqual({
      tier: 1,
      denied: { rule: 'no-database-restarts', reason: 'denied by policy rule no-database-restarts' },
      matched: ['dry-run-everything', 'no-database-restarts'],
    });
    expect(evaluatePolicy(policy, action())).toEqual({
      tier: 1,
      denied: { rule: 'never-in-production', reason: 'not in production' },
      matched: ['dry-run-everything', 'never-in-production'],
    });
    expect(evaluatePolicy(policy, action({ environment: 'staging' }))).toMatchObject({
      dryRun: { rule: 'dry-run-everything' },
      approval: { rule: 'approve-everything' },
      matched: ['dry-run-everything', 'approve-everything'],
    });
  });

  it('lets a raise_tier make a later tier rule match, and never lowers a tier', () => {
    const policy = policyWith(`
  - name: payments-is-tier-3
    match: { service: [payments, 'billing-*'] }
    effect: { raise_tier: 3 }
  - name: kubernetes-is-tier-1
    match: { adapter: kubernetes }
    effect: { raise_tier: 1 }
  - name: tier-3-needs-approval
    match: { tier: 3 }
    effect: { require_approval: true }
`);
    const raised = evaluatePolicy(policy, action({ service: 'billing-api', tier: 1 }));
    expect(raised.tier).toBe(3);
    expect(raised.approval?.rule).toBe('tier-3-needs-approval');
    expect(raised.matched).toEqual(['payments-is-tier-3', 'kubernetes-is-tier-1', 'tier-3-needs-approval']);
    expect(evaluatePolicy(policy, action({ tier: 2 }))).toEqual({ tier: 2, matched: ['kubernetes-is-tier-1'] });
  });

  it('matches min_tier, playbook, adapter and action', () => {
    const policy = policyWith(`
  - name: rollbacks-over-http
    match: { min_tier: 2, playbook: 'rollback_*', adapter: [http, nats], action: [rollback, undo] }
    effect: { dry_run: true }
`);
    const rollback = action({ playbook: 'rollback_deployment', adapter: 'http', action: 'rollback', tier: 2 });
    expect(evaluatePolicy(policy, rollback).dryRun).toEqual({ rule: 'rollbacks-over-http' });
    expect(evaluatePolicy(policy, { ...rollback, tier: 1 }).matched).toEqual([]);
    expect(evaluatePolicy(policy, { ...rollback, adapter: 'kubernetes' }).matched).toEqual([]);
    expect(evaluatePolicy(policy, { ...rollback, action: 'restart' }).matched).toEqual([]);
    expect(evaluatePolicy(policy, { ...rollback, playbook: 'scale_up' }).matched).toEqual([]);
  });

  it('keeps the strictest approval: the largest quorum, the first on a tie', () => {
    const policy = policyWith(
      `
  - name: two-operators
    match: {}
    effect: { require_approval: { quorum: 2, role: operator } }
  - name: three-admins
    match: { environment: production }
    effect: { require_approval: { quorum: 3, role: admin, expires_in: 2h } }
  - name: three-approvers
    match: {}
    effect: { require_approval: { quorum: 3 } }
  - name: one-admin
    match: {}
    effect: { require_approval: { quorum: 1, role: admin } }
`,
      'defaults:\n  approval: { quorum: 1, role: approver, expires_in: 1h }\n',
    );
    expect(evaluatePolicy(policy, action()).approval).toEqual({
      rule: 'three-admins',
      quorum: { required: 3, role: 'admin' },
      expiresInMs: 2 * 3_600_000,
      reason: 'policy rule three-admins: a tier 1 action needs the approval of 3 admins within 2h',
    });
    expect(evaluatePolicy(policy, action({ environment: 'staging' })).approval).toEqual({
      rule: 'three-approvers',
      quorum: { required: 3, role: 'approver' },
      expiresInMs: 3_600_000,
      reason: 'policy rule three-approvers: a tier 1 action needs the approval of 3 approvers within 1h',
    });
  });

  it('falls back to the built-in defaults without a defaults section', () => {
    const policy = policyWith(`
  - name: one-admin
    match: {}
    effect: { require_approval: { quorum: 1, role: admin } }
`);
    expect(evaluatePolicy(policy, action()).approval).toEqual({
      rule: 'one-admin',
      quorum: { required: 1, role: 'admin' },
      expiresInMs: 30 * 60_000,
      reason: 'policy rule one-admin: a tier 1 action needs the approval of 1 admin within 30m',
    });
  });

  it('takes dry_run from the first matching rule that sets it', () => {
    const policy = policyWith(`
  - name: approve-staging
    match: { environment: staging }
    effect: { require_approval: true, dry_run: false }
  - name: rehearse-staging
    match: { environment: staging }
    effect: { dry_run: true }
  - name: rehearse-everything
    match: {}
    effect: { dry_run: true }
`);
    const decision = evaluatePolicy(policy, action({ environment: 'staging' }));
    expect(decision.dryRun).toEqual({ rule: 'rehearse-staging' });
    expect(decision.approval?.rule).toBe('approve-staging');
    expect(evaluatePolicy(policy, action()).dryRun).toEqual({ rule: 'rehearse-everything' });
  });

  it('throws for a policy parsePolicy did not compile', () => {
    expect(() => evaluatePolicy({ version: 1, rules: 0 }, action())).toThrow('not compiled by parsePolicy');
  });
});

describe('windows', () => {
  const windowPolicy = (window: string) =>
    policyWith(`
  - name: in-window
    match:
      window: ${window}
    effect: { dry_run: true }
`);
  const inWindow = (policy: CompiledPolicy, at: string) =>
    evaluatePolicy(policy, action({ now: new Date(at) })).matched.length === 1;

  it("reads the day and the time on the clock of the window's time zone", () => {
    const tokyo = windowPolicy(`{ days: [mon, tue, wed, thu, fri], from: '08:00', to: '17:00', timezone: Asia/Tokyo }`);
    expect(inWindow(tokyo, '2025-01-05T23:30:00Z')).toBe(true); // Sunday in UTC, Monday 08:30 in Tokyo
    expect(inWindow(tokyo, '2025-01-07T10:00:00Z')).toBe(false); // Tuesday 19:00 in Tokyo
    expect(inWindow(tokyo, '2025-01-10T23:30:00Z')).toBe(false); // Saturday 08:30 in Tokyo
  });

  it('follows daylight saving time', () => {
    const berlin = windowPolicy(`{ from: '09:00', to: '17:00', timezone: Europe/Berlin }`);
    expect(inWindow(berlin, '2025-07-08T07:30:00Z')).toBe(true); // 09:30 CEST
    expect(inWindow(berlin, '2025-01-07T07:30:00Z')).toBe(false); // 08:30 CET
  });

  it('runs an overnight window past midnight, on the day it starts', () => {
    const fridayNight = windowPolicy(`{ days: [fri], from: '22:00', to: '06:00' }`);
    expect(inWindow(fridayNight, '2025-01-10T22:00:00Z')).toBe(true); // Friday 22:00
    expect(inWindow(fridayNight, '2025-01-11T03:00:00Z')).toBe(true); // Saturday 03:00
    expect(inWindow(fridayNight, '2025-01-11T06:00:00Z')).toBe(false); // Saturday 06:00: to is exclusive
    expect(inWindow(fridayNight, '2025-01-10T03:00:00Z')).toBe(false); // Friday 03:00 belongs to Thursday
    expect(inWindow(fridayNight, '2025-01-11T23:00:00Z')).toBe(false); // Saturday 23:00
  });

  it('matches whole days, and outside a window with when: outside', () => {
    const weekend = windowPolicy(`{ days: [sat, sun] }`);
    expect(inWindow(weekend, '2025-01-11T00:00:00Z')).toBe(true);
    expect(inWindow(weekend, '2025-01-10T23:59:00Z')).toBe(false);
    const notWeekend = windowPolicy(`{ days: [sat, sun], when: outside }`);
    expect(inWindow(notWeekend, '2025-01-11T00:00:00Z')).toBe(false);
    expect(inWindow(notWeekend, '2025-01-10T23:59:00Z')).toBe(true);
  });
});

describe('parsePolicy problems', () => {
  const rule = (match: string, effect = '{ dry_run: true }') =>
    `version: 1\nrules:\n  - name: a-rule\n    match: ${match}\n    effect: ${effect}\n`;

  it.each([
    ['bad YAML', 'version: 1\nrules: [\n', '', /^YAML syntax error at line \d+, column \d+/],
    ['a wrong version', 'version: 2\nrules: []\n', 'version', /^must be 1 \(line 1\)$/],
    [
      'a missing effect',
      'version: 1\nrules:\n  - name: a\n    match: {}\n',
      'rules.0.effect',
      /is required \(line 3\)/,
    ],
    ['an unknown field', rule('{ host: web }'), 'rules.0.match.host', /^is not an allowed property \(line 4\)$/],
    [
      'a bad rule name',
      rule('{}').replace('a-rule', 'A Rule'),
      'rules.0.name',
      /^rule name "A Rule" must be lower-case letters, digits, _ and -, .*\(line 3\)$/,
    ],
    ['an unknown adapter', rule('{ adapter: ftp }'), 'rules.0.match.adapter', /"kubernetes", or a list of them/],
    ['tier 4', rule('{ tier: 4 }'), 'rules.0.match.tier', /^must be <= 3, or a list of them \(line 4\)$/],
    ['tier with min_tier', rule('{ tier: 3, min_tier: 2 }'), 'rules.0.match.min_tier', /not both \(line 4\)$/],
    [
      'an unknown time zone',
      rule('{ window: { days: [mon], timezone: Mars/Olympus } }'),
      'rules.0.match.window.timezone',
      /^unknown time zone "Mars\/Olympus": use an IANA name .*\(line 4\)$/,
    ],
    [
      'a bad time',
      rule(`{ window: { from: '9am', to: '17:00' } }`),
      'rules.0.match.window.from',
      /^"9am" is not a time: write HH:MM .*\(line 4\)$/,
    ],
    ['24:00', rule(`{ window: { from: '22:00', to: '24:00' } }`), 'rules.0.match.window.to', /"24:00" is not a time/],
    ['from without to', rule(`{ window: { from: '09:00' } }`), 'rules.0.match.window', /give both from and to/],
    ['an empty window', rule('{ window: { when: outside } }'), 'rules.0.match.window', /needs days, or from and to/],
    ['from equal to to', rule(`{ window: { from: '09:00', to: '09:00' } }`), 'rules.0.match.window.to', /empty/],
    ['an empty effect', rule('{}', '{}'), 'rules.0.effect', /^the effect does nothing: .*\(line 5\)$/],
    ['an effect switched off', rule('{}', '{ deny: false, dry_run: false }'), 'rules.0.effect', /does nothing/],
    [
      'quorum 0',
      rule('{}', '{ require_approval: { quorum: 0 } }'),
      'rules.0.effect.require_approval.quorum',
      /^must be >= 1 \(line 5\)$/,
    ],
    [
      'quorum 17',
      rule('{}', '{ require_approval: { quorum: 17 } }'),
      'rules.0.effect.require_approval.quorum',
      /^must be <= 16 \(line 5\)$/,
    ],
    [
      'an expiry under 1m',
      rule('{}', '{ require_approval: { expires_in: 30s } }'),
      'rules.0.effect.require_approval.expires_in',
      /^"30s" is shorter than 1m: .*\(line 5\)$/,
    ],
    [
      'an expiry over 7d',
      'version: 1\ndefaults:\n  approval:\n    expires_in: 8d\nrules: []\n',
      'defaults.approval.expires_in',
      /^duration "8d" is longer than 7d: .*\(line 4\)$/,
    ],
    [
      'an expiry that is no duration',
      rule('{}', '{ require_approval: { expires_in: soon } }'),
      'rules.0.effect.require_approval.expires_in',
      /^invalid duration "soon"/,
    ],
    [
      'a bad role',
      rule('{}', '{ require_approval: { role: root } }'),
      'rules.0.effect.require_approval.role',
      /one of/,
    ],
  ])('reports %s with its path and line', (_name, text, path, message) => {
    expect(problems(text)).toContainEqual({ path, message: expect.stringMatching(message) });
  });

  it('reports a duplicate rule name at the second one, naming the first', () => {
    const refused = problems(`version: 1
rules:
  - name: twice
    match: {}
    effect: { dry_run: true }
  - name: twice
    match: {}
    effect: { deny: true }
`);
    expect(refused).toEqual([{ path: 'rules.1.name', message: 'duplicate rule name "twice" (also rules.0) (line 6)' }]);
  });

  it('says only what is wrong inside a require_approval object', () => {
    const refused = problems(rule('{}', '{ require_approval: { quorum: 0, approvers: 2 } }'));
    expect(refused.map((problem) => problem.path).sort()).toEqual([
      'rules.0.effect.require_approval.approvers',
      'rules.0.effect.require_approval.quorum',
    ]);
  });

  it('reports every problem of a file at once', () => {
    const refused = problems(`version: 1
rules:
  - name: first
    match: { tier: 2, min_tier: 1, window: { from: '25:00', to: '26:00', timezone: Nowhere } }
    effect: {}
`);
    expect(refused.map((problem) => problem.path)).toEqual([
      'rules.0.match.min_tier',
      'rules.0.match.window.timezone',
      'rules.0.match.window.from',
      'rules.0.match.window.to',
      'rules.0.effect',
    ]);
  });
});
