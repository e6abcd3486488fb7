// Tests of the routing rules: matching, action order, drops, mutes, and every way a file can be refused.
import { readFileSync } from 'node:fs';
import type { EventData } from '@grace/contracts';
import { OperatorFileError } from '@grace/service-kit';
import { describe, expect, it } from '@jest/globals';
import { EMPTY_RULES, parseRules } from './rules.js';

const now = new Date('2024-05-14T10:00:00.000Z');

function report(overrides: Partial<EventData<'error.reported'>> = {}): EventData<'error.reported'> {
  return {
    service: 'checkout',
    environment: 'production',
    kind: 'ConnectionRefused',
    message: 'connect ECONNREFUSED 10.0.0.5:5432',
    severity: 'error',
    occurred_at: '2024-05-14T09:59:58.000Z',
    attributes: { region: 'eu-west-1', pod: 'web-7f9c-k4m2p', code: 500, canary: true },
    ...overrides,
  };
}

/** The rules file with one rule that matches `match` and routes to `hit`. */
function routeWhen(match: string): ReturnType<typeof parseRules> {
  return parseRules(`version: 1\nrules:\n  - name: probe\n    match: ${match}\n    actions: { route: hit }\n`);
}

function routed(match: string, data: EventData<'error.reported'>): boolean {
  return routeWhen(match).evaluate(data, now).route === 'hit';
}

/** The problems a file is refused for, as `path: message` lines. */
function problems(source: string): string[] {
  try {
    parseRules(source);
  } catch (error) {
    expect(error).toBeInstanceOf(OperatorFileError);
    expect((error as OperatorFileError).file).toBe('routing rules');
    return (error as OperatorFileError).problems.map((e) => `${e.path}: ${e.message}`);
  }
  throw new Error('the file was accepted');
}

describe('matching', () => {
  it('matches a service by exact name, by list, and by glob', () => {
    expect(routed('{ service: checkout }', report())).toBe(true);
    expect(routed('{ service: check }', report())).toBe(false);
    expect(routed('{ service: [payments, checkout] }', report())).toBe(true);
    expect(routed('{ service: "check*" }', report())).toBe(true);
    expect(routed('{ service: "*out" }', report())).toBe(true);
    expect(routed('{ service: "c*k*t" }', report())).toBe(true);
    expect(routed('{ service: "pay*" }', report())).toBe(false);
    // Glob characters other than * are literal.
    expect(routed('{ service: "check.ut" }', report())).toBe(false);
    expect(routed('{ service: "check.*" }', report({ service: 'check.v2' }))).toBe(true);
  });

  it('matches environment and kind the same way', () => {
    expect(routed('{ environment: "prod*" }', report())).toBe(true);
    expect(routed('{ environment: [staging, preview] }', report())).toBe(false);
    expect(routed('{ kind: "*Refused" }', report())).toBe(true);
    expect(routed('{ kind: Timeout }', report())).toBe(false);
  });

  it('matches severity by value, by list, and by minimum', () => {
    expect(routed('{ severity: error }', report())).toBe(true);
    expect(routed('{ severity: [warning, critical] }', report())).toBe(false);
    expect(routed('{ min_severity: warning }', report())).toBe(true);
    expect(routed('{ min_severity: error }', report())).toBe(true);
    expect(routed('{ min_severity: critical }', report())).toBe(false);
    expect(routed('{ min_severity: info }', report({ severity: 'debug' }))).toBe(false);
  });

  it('searches the message with a regular expression', () => {
    expect(routed('{ message: "ECONNREFUSED [0-9.]+:5432$" }', report())).toBe(true);
    expect(routed('{ message: "^ECONNREFUSED" }', report())).toBe(false);
    expect(routed('{ message: "econnrefused" }', report())).toBe(false);
  });

  it('matches attributes by exact value or by re: regex, and never when the attribute is absent', () => {
    expect(routed('{ attributes: { region: eu-west-1 } }', report())).toBe(true);
    expect(routed('{ attributes: { region: eu-west } }', report())).toBe(false);
    expect(routed('{ attributes: { pod: "re:^web-" } }', report())).toBe(true);
    expect(routed('{ attributes: { pod: "re:^api-" } }', report())).toBe(false);
    expect(routed('{ attributes: { code: 500, canary: true } }', report())).toBe(true);
    expect(routed('{ attributes: { code: "500" } }', report())).toBe(true);
    expect(routed('{ attributes: { zone: "re:.*" } }', report())).toBe(false);
    expect(routed('{ attributes: { region: "re:.*" } }', report({ attributes: { region: null } }))).toBe(false);
    expect(routed('{ attributes: { region: eu-west-1 } }', report({ attributes: undefined }))).toBe(false);
  });

  it('needs every given field to match, and matches everything with match: {}', () => {
    expect(routed('{ service: checkout, environment: production, min_severity: error }', report())).toBe(true);
    expect(routed('{ service: checkout, environment: staging }', report())).toBe(false);
    expect(routed('{}', report({ service: 'anything', severity: 'debug' }))).toBe(true);
  });
});

describe('evaluation', () => {
  const rules = parseRules(`
version: 1
rules:
  - name: database
    match: { kind: "*Refused" }
    actions: { category: database, route: db-team, severity: warning, mute_for: 2h }
  - name: checkout-critical
    match: { service: checkout }
    actions: { severity: critical, route: payments-oncall, mute_for: 30s }
  - name: drop-staging
    match: { environment: staging }
    actions: { drop: true }
  - name: never-after-a-drop
    match: {}
    actions: { category: late }
`);

  it('applies every matching rule in file order, a later rule overriding an earlier one', () => {
    expect(rules.evaluate(report(), now)).toEqual({
      drop: false,
      matched: ['database', 'checkout-critical', 'never-after-a-drop'],
      category: 'late',
      route: 'payments-oncall',
      severity: 'critical',
      mutedUntil: new Date('2024-05-14T10:00:30.000Z'),
    });
  });

  it('keeps the actions of the rules that matched when later ones do not', () => {
    const decision = rules.evaluate(report({ service: 'orders' }), now);
    expect(decision.matched).toEqual(['database', 'never-after-a-drop']);
    expect(decision).toMatchObject({ route: 'db-team', severity: 'warning', category: 'late' });
    expect(decision.mutedUntil).toEqual(new Date('2024-05-14T12:00:00.000Z'));
  });

  it('stops at the first rule that drops, naming it', () => {
    const decision = rules.evaluate(report({ environment: 'staging' }), now);
    expect(decision.drop).toBe(true);
    expect(decision.droppedBy).toBe('drop-staging');
    expect(decision.matched).toEqual(['database', 'checkout-critical', 'drop-staging']);
  });

  it('lets the first of two dropping rules win', () => {
    const twoDrops = parseRules(`
version: 1
rules:
  - name: first
    match: { service: checkout }
    actions: { drop: true }
  - name: second
    match: {}
    actions: { drop: true }
`);
    expect(twoDrops.evaluate(report(), now)).toEqual({ drop: true, droppedBy: 'first', matched: ['first'] });
    expect(twoDrops.evaluate(report({ service: 'orders' }), now)).toEqual({
      drop: true,
      droppedBy: 'second',
      matched: ['second'],
    });
  });

  it('matches later rules against the error as reported, not as re-graded by earlier rules', () => {
    const regrade = parseRules(`
version: 1
rules:
  - name: raise
    match: {}
    actions: { severity: critical }
  - name: only-critical
    match: { severity: critical }
    actions: { route: pager }
`);
    expect(regrade.evaluate(report(), now)).toEqual({ drop: false, matched: ['raise'], severity: 'critical' });
  });

  it('computes muted_until from now for every unit', () => {
    const mute = (duration: string) =>
      parseRules(`version: 1\nrules:\n  - name: m\n    match: {}\n    actions: { mute_for: ${duration} }\n`)
        .evaluate(report(), now)
        .mutedUntil?.toISOString();
    expect(mute('45s')).toBe('2024-05-14T10:00:45.000Z');
    expect(mute('5m')).toBe('2024-05-14T10:05:00.000Z');
    expect(mute('2h')).toBe('2024-05-14T12:00:00.000Z');
    expect(mute('1d')).toBe('2024-05-15T10:00:00.000Z');
    expect(mute('30d')).toBe('2024-06-13T10:00:00.000Z');
  });

  it('changes nothing when no rule matches, and EMPTY_RULES changes nothing at all', () => {
    expect(routeWhen('{ service: orders }').evaluate(report(), now)).toEqual({ drop: false, matched: [] });
    expect(EMPTY_RULES.evaluate(report(), now)).toEqual({ drop: false, matched: [] });
    expect(EMPTY_RULES.rules).toEqual([]);
  });

  it('accepts a file with no rules', () => {
    const empty = parseRules('version: 1\nrules: []\n');
    expect(empty.evaluate(report(), now)).toEqual({ drop: false, matched: [] });
    expect(empty.version).toBe(1);
  });

  it('carries the sha256 of the source text and the rules as written', () => {
    const source = 'version: 1\nrules: []\n';
    expect(parseRules(source).checksum).toBe('7f2c43106364d8112fcc3060e4ab8b20f5d1a17d9cbf3c2540529663004adff8');
    expect(parseRules(source).checksum).not.toBe(parseRules(`${source}\n`).checksum);
    expect(EMPTY_RULES.checksum).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(routeWhen('{ service: checkout }').rules).toEqual([
      { name: 'probe', match: { service: 'checkout' }, actions: { route: 'hit' } },
    ]);
  });
});

describe('rules.example.yaml', () => {
  const example = parseRules(readFileSync(new URL('../../rules.example.yaml', import.meta.url), 'utf8'));

  it('parses, and routes the errors its comments describe', () => {
    expect(example.rules.length).toBeGreaterThan(5);
    const probe = report({ kind: 'HttpError', message: 'GET /healthz returned 503', severity: 'warning' });
    expect(example.evaluate(probe, now)).toMatchObject({ drop: true, droppedBy: 'drop-health-probe-noise' });
    const database = report({ service: 'orders', kind: 'psycopg.OperationalError' });
    expect(example.evaluate(database, now)).toMatchObject({ drop: false, category: 'database', route: 'db-team' });
    expect(example.evaluate(report({ kind: 'TypeError' }), now)).toMatchObject({
      severity: 'critical',
      route: 'payments-oncall',
    });
  });
});

describe('refused files', () => {
  it('names the line of a YAML syntax error', () => {
    expect(problems('version: 1\nrules:\n  - name: a\n    match: { service: [checkout }\n')[0]).toMatch(
      /^: YAML syntax error at line 4, column \d+: /,
    );
    expect(problems('version: 1\nversion: 1\nrules: []\n')).toEqual([
      ': YAML syntax error at line 2, column 1: Map keys must be unique',
    ]);
  });

  it('refuses an empty file and a wrong version', () => {
    expect(problems('')).toEqual(['version: is required', 'rules: is required']);
    expect(problems('version: 2\nrules: []\n')).toEqual(['version: must be 1 (line 1)']);
  });

  it('refuses an empty name to match, saying so instead of failing silently', () => {
    expect(
      problems('version: 1\nrules:\n  - name: a\n    match: { service: "" }\n    actions: { route: x }\n'),
    ).toEqual(['rules.0.match.service: must NOT have fewer than 1 characters, or a list of them (line 4)']);
  });

  it('refuses unknown fields, naming their path and line', () => {
    expect(
      problems(`version: 1
rules:
  - name: a
    match: { servce: checkout }
    actions: { route: x, notify: ops }
    owner: me
`),
    ).toEqual([
      'rules.0.owner: is not an allowed property (line 6)',
      'rules.0.match.servce: is not an allowed property (line 4)',
      'rules.0.actions.notify: is not an allowed property (line 5)',
    ]);
  });

  it('refuses wrong types, each with its path', () => {
    expect(
      problems(`version: 1
rules:
  - name: Bad Name
    match:
      service: 3
      kind: []
      severity: [error, fatal]
      min_severity: [error]
      attributes: { pod: [a] }
    actions: { drop: "yes", severity: severe, route: "db team" }
  - name: no-actions
    match: {}
    actions: {}
  - name: no-match
    actions: { route: x }
`),
    ).toEqual([
      'rules.0.name: rule name "Bad Name" must be lower-case letters, digits, _ and -, starting with a letter or digit, at most 64 characters (line 3)',
      'rules.0.match.service: must be string, or a list of them (line 5)',
      'rules.0.match.kind: must NOT have fewer than 1 items (line 6)',
      'rules.0.match.severity.1: must be one of: "debug", "info", "warning", "error", "critical" (line 7)',
      'rules.0.match.min_severity: must be one of: "debug", "info", "warning", "error", "critical" (line 8)',
      'rules.0.match.attributes.pod: must be string, number or boolean (line 9)',
      'rules.0.actions.drop: must be boolean (line 10)',
      'rules.0.actions.severity: must be one of: "debug", "info", "warning", "error", "critical" (line 10)',
      'rules.0.actions.route: must match pattern "^[A-Za-z0-9][A-Za-z0-9._-]*$" (line 10)',
      'rules.1.actions: must NOT have fewer than 1 properties (line 13)',
      'rules.2.match: is required (line 14)',
    ]);
  });

  it('refuses a regular expression that does not compile, in the message or an attribute', () => {
    expect(
      problems(`version: 1
rules:
  - name: a
    match:
      message: "timeout (after"
      attributes: { pod: "re:[web", zone: "re:" }
    actions: { route: x }
`),
    ).toEqual([
      'rules.0.match.message: invalid regular expression: /timeout (after/: Unterminated group (line 5)',
      'rules.0.match.attributes.pod: invalid regular expression: /[web/: Unterminated character class (line 6)',
      'rules.0.match.attributes.zone: empty regular expression after "re:" (line 6)',
    ]);
  });

  it('refuses a regular expression longer than 1024 characters', () => {
    expect(
      problems(
        `version: 1\nrules:\n  - name: a\n    match: { message: "${'a'.repeat(1025)}" }\n    actions: { route: x }\n`,
      ),
    ).toEqual(['rules.0.match.message: must NOT have more than 1024 characters (line 4)']);
  });

  it('refuses a duplicate rule name, pointing at the first one', () => {
    expect(
      problems(`version: 1
rules:
  - name: noise
    match: {}
    actions: { route: x }
  - name: other
    match: {}
    actions: { route: y }
  - name: noise
    match: {}
    actions: { route: z }
`),
    ).toEqual(['rules.2.name: duplicate rule name "noise" (also rules.0) (line 9)']);
  });

  it('refuses a bad or too long duration', () => {
    const withDuration = (duration: string) =>
      problems(`version: 1\nrules:\n  - name: m\n    match: {}\n    actions: { mute_for: "${duration}" }\n`);
    expect(withDuration('30x')).toEqual([
      'rules.0.actions.mute_for: invalid duration "30x": write a whole number and a unit s, m, h or d (30s, 5m, 2h, 1d) (line 5)',
    ]);
    expect(withDuration('1.5h')[0]).toContain('invalid duration "1.5h"');
    expect(withDuration('0m')[0]).toContain('invalid duration "0m"');
    expect(withDuration('31d')).toEqual([
      'rules.0.actions.mute_for: duration "31d" is longer than 30d: use drop for errors to ignore for good (line 5)',
    ]);
  });

  it('refuses drop combined with other actions', () => {
    expect(
      problems('version: 1\nrules:\n  - name: d\n    match: {}\n    actions: { drop: true, route: x, mute_for: 5m }\n'),
    ).toEqual([
      'rules.0.actions: drop: true cannot be combined with route, mute_for: a dropped event is never captured (line 5)',
    ]);
  });

  it('reports the schema problems of one rule and what compiling another finds, at once', () => {
    expect(
      problems(`version: 1
rules:
  - name: 5xx-noise
    match: { message: "(" }
    actions: { route: x }
  - name: Typo
    match: {}
    actions: { rout: x }
`),
    ).toEqual([
      'rules.0.match.message: invalid regular expression: /(/: Unterminated group (line 4)',
      'rules.1.name: rule name "Typo" must be lower-case letters, digits, _ and -, starting with a letter or digit, at most 64 characters (line 6)',
      'rules.1.actions.rout: is not an allowed property (line 8)',
    ]);
  });

  it('lists every problem in the error message', () => {
    expect(() =>
      parseRules('version: 1\nrules:\n  - name: a\n    match: { message: "(" }\n    actions: { mute_for: 5y }\n'),
    ).toThrow(
      'invalid routing rules: rules.0.match.message: invalid regular expression: /(/: Unterminated group (line 4); ' +
        'rules.0.actions.mute_for: invalid duration "5y"',
    );
  });
});
