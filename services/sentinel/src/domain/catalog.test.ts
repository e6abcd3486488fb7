// Tests of the playbook catalog: matching, candidate order, templates, plans, refused files and the shipped catalog.
import { readFileSync } from 'node:fs';
import { schemas, validateSchema } from '@grace/contracts';
import { OperatorFileError } from '@grace/service-kit';
import { describe, expect, it } from '@jest/globals';
import { parseCatalog, planFor, type TriageInput } from './catalog.js';

function error(overrides: Partial<TriageInput> = {}): TriageInput {
  return {
    service: 'checkout',
    environment: 'production',
    kind: 'ConnectionRefused',
    category: 'database',
    severity: 'error',
    message: 'connect ECONNREFUSED 10.0.0.5:5432',
    fingerprint: 'fp-9a1c',
    attributes: { namespace: 'shop', region: 'eu-west-1', code: 500, canary: true },
    ...overrides,
  };
}

const planLines = `
    adapter: nats
    action: reconnect_database
    tier: 2
    expected_effect: { target_state: { pool.healthy: true }, error_rate_ceiling: 1 }
    checks:
      - { kind: state, name: pool, fields: [pool.healthy] }
    cooldown: 10m`;

/** A catalog of one playbook `probe` with the given applies_to (flow YAML) and optional extra lines. */
function catalogWith(appliesTo: string, extra = ''): string {
  return `version: 1\nplaybooks:\n  - name: probe\n    applies_to: ${appliesTo}${planLines}\n${extra}`;
}

/** The one-playbook catalog with another check after its state check. */
function catalogWithCheck(check: string): string {
  const stateCheck = '{ kind: state, name: pool, fields: [pool.healthy] }';
  return catalogWith('{}').replace(stateCheck, `${stateCheck}\n      - ${check}`);
}

function applies(appliesTo: string, input: TriageInput): boolean {
  const catalog = parseCatalog(catalogWith(appliesTo));
  return catalog.candidatesFor(input).length === 1 && catalog.byName.get('probe')!.matches(input);
}

/** The problems a file is refused for, as `path: message` lines. */
function problems(source: string): string[] {
  try {
    parseCatalog(source);
  } catch (caught) {
    expect(caught).toBeInstanceOf(OperatorFileError);
    expect((caught as OperatorFileError).file).toBe('playbook catalog');
    return (caught as OperatorFileError).problems.map((e) => `${e.path}: ${e.message}`);
  }
  throw new Error('the file was accepted');
}

function expectValidPlan(plan: unknown): void {
  const validation = validateSchema(schemas.ActionPlan, plan);
  expect(validation.ok ? [] : validation.errors).toEqual([]);
}

describe('matching', () => {
  it('an empty applies_to matches every error', () => {
    expect(applies('{}', error())).toBe(true);
    expect(applies('{}', error({ severity: 'debug', category: undefined }))).toBe(true);
  });

  it('service matches exact names and globs, alone or in a list', () => {
    expect(applies('{ service: checkout }', error())).toBe(true);
    expect(applies("{ service: 'check*' }", error())).toBe(true);
    expect(applies("{ service: [billing, 'pay*'] }", error())).toBe(false);
    expect(applies("{ service: [billing, 'check*'] }", error())).toBe(true);
  });

  it('environment matches names and globs', () => {
    expect(applies("{ environment: ['staging-*'] }", error())).toBe(false);
    expect(applies("{ environment: ['staging-*'] }", error({ environment: 'staging-eu' }))).toBe(true);
  });

  it('kind matches globs anywhere in the name', () => {
    expect(applies("{ kind: '*Refused' }", error())).toBe(true);
    expect(applies("{ kind: '*Timeout*' }", error())).toBe(false);
    expect(applies("{ kind: '*Timeout*' }", error({ kind: 'ReadTimeoutError' }))).toBe(true);
  });

  it('category matches, and an error without a category never matches one', () => {
    expect(applies('{ category: database }', error())).toBe(true);
    expect(applies('{ category: [cache, network] }', error())).toBe(false);
    expect(applies("{ category: '*' }", error({ category: undefined }))).toBe(false);
  });

  it('message is a case-insensitive regular expression searched in the message', () => {
    expect(applies("{ message: 'econnrefused .*:5432' }", error())).toBe(true);
    expect(applies("{ message: '^timeout' }", error())).toBe(false);
  });

  it('severity is a set and min_severity a floor', () => {
    expect(applies('{ severity: [warning, critical] }', error())).toBe(false);
    expect(applies('{ severity: error }', error())).toBe(true);
    expect(applies('{ min_severity: error }', error({ severity: 'critical' }))).toBe(true);
    expect(applies('{ min_severity: error }', error({ severity: 'warning' }))).toBe(false);
  });

  it('attributes match exact values (numbers and booleans as written) or re: patterns', () => {
    expect(applies('{ attributes: { code: 500, canary: true } }', error())).toBe(true);
    expect(applies("{ attributes: { region: 're:^eu-' } }", error())).toBe(true);
    expect(applies("{ attributes: { pod: 're:.' } }", error())).toBe(false);
  });

  it('every field must match, and one entry of any as well', () => {
    expect(applies('{ service: checkout, min_severity: critical }', error())).toBe(false);
    const anyOf = "{ environment: production, any: [ { category: cache }, { kind: '*Refused' } ] }";
    expect(applies(anyOf, error())).toBe(true);
    expect(applies(anyOf, error({ kind: 'Boom' }))).toBe(false);
    expect(applies(anyOf, error({ kind: 'Boom', category: 'cache' }))).toBe(true);
    expect(applies(anyOf, error({ environment: 'staging' }))).toBe(false);
  });

  it('candidates are every playbook that applies, in file order', () => {
    const source = `version: 1\nplaybooks:\n${['first', 'second', 'third', 'fourth']
      .map((name) => {
        const appliesTo = name === 'third' ? '{ kind: Other }' : '{}';
        return `  - name: ${name}\n    applies_to: ${appliesTo}${planLines}\n`;
      })
      .join('')}`;
    const catalog = parseCatalog(source);
    expect(catalog.candidatesFor(error()).map((playbook) => playbook.name)).toEqual(['first', 'second', 'fourth']);
    expect([...catalog.byName.keys()]).toEqual(['first', 'second', 'third', 'fourth']);
  });
});

describe('plans', () => {
  const restart = `version: 1
playbooks:
  - name: restart_service
    description: rollout restart
    applies_to: { min_severity: error }
    adapter: kubernetes
    action: rollout_restart
    target:
      namespace: '{{attributes.namespace | default: default}}'
      deployment: '{{attributes.deployment | service}}'
    params:
      reason: 'grace: {{ kind }} on {{service}} in {{environment}} ({{severity}}, {{category | default: none}})'
      fingerprint: '{{fingerprint}}'
      limits: { replicas: 3, labels: ['{{service}}-{{attributes.region | default: anywhere}}'] }
      first_words: '{{message}}'
    tier: 2
    expected_effect: { target_state: { ready: true, owner: '{{service}}' }, error_rate_ceiling: 1 }
    checks:
      - { kind: http, name: health, url: 'http://{{service}}.{{attributes.namespace | default: default}}.svc/healthz?q={{kind}}', expect_status: 200 }
      - { kind: nats, name: status, subject: 'remediation.{{service}}.status', expect_fields: { ready: true } }
      - { kind: state, name: pods-ready, fields: [ready] }
      - { kind: error_rate, name: errors-stop, scope: fingerprint, window_ms: 120000 }
    timeout_ms: 120000
    cooldown: 15m
`;

  it('fills templates from the error, its attributes and defaults, and validates as an ActionPlan', () => {
    const playbook = parseCatalog(restart).byName.get('restart_service')!;
    const plan = planFor(playbook, error());
    expectValidPlan(plan);
    expect(plan).toEqual({
      playbook: 'restart_service',
      adapter: 'kubernetes',
      action: 'rollout_restart',
      target: { service: 'checkout', environment: 'production', namespace: 'shop', deployment: 'checkout' },
      params: {
        reason: 'grace: ConnectionRefused on checkout in production (error, database)',
        fingerprint: 'fp-9a1c',
        limits: { replicas: 3, labels: ['checkout-eu-west-1'] },
        first_words: 'connect ECONNREFUSED 10.0.0.5:5432',
      },
      tier: 2,
      expected_effect: { target_state: { ready: true, owner: 'checkout' }, error_rate_ceiling: 1 },
      checks: [
        {
          kind: 'http',
          name: 'health',
          url: 'http://checkout.shop.svc/healthz?q=ConnectionRefused',
          expect_status: 200,
        },
        { kind: 'nats', name: 'status', subject: 'remediation.checkout.status', expect_fields: { ready: true } },
        { kind: 'state', name: 'pods-ready', fields: ['ready'] },
        { kind: 'error_rate', name: 'errors-stop', scope: 'fingerprint', window_ms: 120_000 },
      ],
      timeout_ms: 120_000,
    });
    expect(playbook).toMatchObject({ tier: 2, cooldownMs: 900_000, timeoutMs: 120_000, adapter: 'kubernetes' });
    expect(playbook.variables).toEqual([
      'attributes.deployment',
      'attributes.namespace',
      'attributes.region',
      'category',
      'environment',
      'fingerprint',
      'kind',
      'message',
      'service',
      'severity',
    ]);
  });

  it('takes the first variable that has a value, else the default', () => {
    const playbook = parseCatalog(restart).byName.get('restart_service')!;
    const plan = planFor(playbook, error({ category: undefined, attributes: { deployment: 'checkout-v2' } }));
    expect(plan.target).toMatchObject({ namespace: 'default', deployment: 'checkout-v2' });
    expect(plan.params.reason).toBe('grace: ConnectionRefused on checkout in production (error, none)');
    expect((plan.params.limits as { labels: string[] }).labels).toEqual(['checkout-anywhere']);
  });

  it('percent-encodes values filled into a url and bounds the message it inserts', () => {
    const playbook = parseCatalog(restart).byName.get('restart_service')!;
    const plan = planFor(
      playbook,
      error({ kind: 'a/b?c=@evil', message: 'x'.repeat(10_000), attributes: { namespace: 'shop' } }),
    );
    expect(plan.checks[0]).toMatchObject({ url: 'http://checkout.shop.svc/healthz?q=a%2Fb%3Fc%3D%40evil' });
    expect(plan.params.first_words).toHaveLength(512);
  });

  it('refuses to plan when a filled value makes the plan invalid, naming the playbook and the path', () => {
    const playbook = parseCatalog(restart).byName.get('restart_service')!;
    expect(() => planFor(playbook, error({ attributes: { namespace: 'n'.repeat(100) } }))).toThrow(
      /playbook "restart_service" .*target\.namespace: must NOT have more than 63 characters/,
    );
  });

  it('refuses to plan when a variable has no value and no default', () => {
    const source = catalogWith('{}', "    params: { flag: '{{attributes.feature_flag}}' }\n");
    const playbook = parseCatalog(source).byName.get('probe')!;
    expect(() => planFor(playbook, error())).toThrow(
      /playbook "probe" .*params\.flag: \{\{attributes\.feature_flag\}\} has no value for this error and no default/,
    );
    expect(planFor(playbook, error({ attributes: { feature_flag: 'new-checkout' } })).params).toEqual({
      flag: 'new-checkout',
    });
  });

  it('refuses to plan a nats check on a subject an attribute turned into a wildcard', () => {
    const source = catalogWithCheck(
      "{ kind: nats, name: peer, subject: 'remediation.{{attributes.peer}}.status', expect_fields: { up: true } }",
    );
    const playbook = parseCatalog(source).byName.get('probe')!;
    expect(() => planFor(playbook, error({ attributes: { peer: '>' } }))).toThrow(
      /checks\.1\.subject: .*is not a plain NATS subject/,
    );
    expect(planFor(playbook, error({ attributes: { peer: 'billing' } })).checks[1]).toMatchObject({
      subject: 'remediation.billing.status',
    });
  });

  it('computes the version and a sha256 checksum of the text', () => {
    const source = catalogWith('{}');
    const catalog = parseCatalog(source);
    expect(catalog.version).toBe(1);
    expect(catalog.checksum).toMatch(/^[0-9a-f]{64}$/);
    expect(parseCatalog(`${source}\n# changed`).checksum).not.toBe(catalog.checksum);
  });
});

describe('invalid catalogs are refused with every problem and its path', () => {
  it('YAML syntax errors name the line', () => {
    const [problem] = problems('version: 1\nplaybooks:\n  - name: [unclosed\n');
    expect(problem).toMatch(/^: YAML syntax error at line \d+, column \d+/);
  });

  it('an unknown field', () => {
    expect(problems(catalogWith('{}', '    retries: 3\n'))).toEqual([
      'playbooks.0.retries: is not an allowed property (line 12)',
    ]);
    expect(problems(catalogWith('{ severity_at_least: error }'))).toEqual([
      'playbooks.0.applies_to.severity_at_least: is not an allowed property (line 4)',
    ]);
  });

  it('a missing field and a wrong value or list', () => {
    expect(problems('version: 1\nplaybooks:\n  - name: probe\n')).toEqual(
      expect.arrayContaining([
        'playbooks.0.applies_to: is required (line 3)',
        'playbooks.0.cooldown: is required (line 3)',
      ]),
    );
    expect(problems(catalogWith('{ kind: 5 }'))).toEqual([
      'playbooks.0.applies_to.kind: must be string, or a list of them (line 4)',
    ]);
  });

  it('an unknown template variable, an unknown filter and an unclosed template', () => {
    expect(problems(catalogWith('{}', "    params: { reason: '{{servce}} failed' }\n"))).toEqual([
      'playbooks.0.params.reason: unknown template variable "servce" in "{{servce}}": use service, environment, kind, category, severity, fingerprint, message or attributes.<name> (line 12)',
    ]);
    expect(problems(catalogWith('{}', "    params: { reason: '{{service | truncate: 5}}' }\n"))[0]).toMatch(
      /^playbooks\.0\.params\.reason: unknown template filter "truncate"/,
    );
    expect(problems(catalogWith('{}', "    target: { deployment: '{{service' }\n"))[0]).toMatch(
      /^playbooks\.0\.target\.deployment: unclosed template/,
    );
  });

  it('a bad regular expression in applies_to or in any', () => {
    expect(problems(catalogWith("{ message: '(unclosed' }"))).toEqual([
      'playbooks.0.applies_to.message: invalid regular expression: /(unclosed/i: Unterminated group (line 4)',
    ]);
    expect(problems(catalogWith("{ any: [ { attributes: { pod: 're:[' } } ] }"))[0]).toMatch(
      /^playbooks\.0\.applies_to\.any\.0\.attributes\.pod: invalid regular expression/,
    );
  });

  it('a duplicate playbook name', () => {
    const entry = `  - name: probe\n    applies_to: {}${planLines}\n`;
    expect(problems(`version: 1\nplaybooks:\n${entry}${entry}`)).toEqual([
      'playbooks.1.name: duplicate playbook name "probe" (also playbooks.0) (line 12)',
    ]);
  });

  it('a bad or too long cooldown', () => {
    expect(problems(catalogWith('{}').replace('cooldown: 10m', 'cooldown: 10 minutes'))).toEqual([
      'playbooks.0.cooldown: invalid duration "10 minutes": write a whole number and a unit s, m, h or d (30s, 5m, 2h, 1d) (line 11)',
    ]);
    expect(problems(catalogWith('{}').replace('cooldown: 10m', 'cooldown: 8d'))[0]).toMatch(/longer than 7d/);
  });

  it('an invalid adapter', () => {
    expect(problems(catalogWith('{}').replace('adapter: nats', 'adapter: ssh'))).toEqual([
      'playbooks.0.adapter: must be one of: "nats", "http", "kubernetes" (line 5)',
    ]);
  });

  it('a check of unknown kind', () => {
    const source = catalogWith('{}').replace(
      'kind: state, name: pool, fields: [pool.healthy]',
      'kind: ping, name: pool',
    );
    expect(problems(source)).toEqual([
      'playbooks.0.checks.0.kind: must be one of: "http", "nats", "error_rate", "state" (line 10)',
    ]);
  });

  it('an action that is no single NATS token, or a reserved one', () => {
    expect(problems(catalogWith('{}').replace('action: reconnect_database', 'action: db.reconnect'))[0]).toMatch(
      /^playbooks\.0\.action: must match pattern/,
    );
    expect(problems(catalogWith('{}').replace('action: reconnect_database', 'action: status'))[0]).toMatch(
      /^playbooks\.0\.action: "status" is reserved by the remediation protocol/,
    );
  });

  it('a plan that cannot validate as an ActionPlan whatever the error', () => {
    expect(problems(catalogWith('{}', `    target: { namespace: ${'n'.repeat(70)} }\n`))).toEqual([
      'playbooks.0.target.namespace: must NOT have more than 63 characters (the plan must validate as an ActionPlan) (line 12)',
    ]);
  });

  it('a target the adapter cannot use, duplicate check names and state checks of unexpected fields', () => {
    const source = catalogWithCheck('{ kind: state, name: pool, fields: [pool.size] }').replace(
      'adapter: nats',
      'adapter: kubernetes',
    );
    expect(problems(source)).toEqual([
      'playbooks.0.target: the kubernetes adapter needs target.namespace and target.deployment (line 3)',
      'playbooks.0.checks.1.name: duplicate check name "pool" (also checks.0) (line 11)',
      'playbooks.0.checks.1.fields.0: "pool.size" is not in expected_effect.target_state (pool.healthy) (line 11)',
    ]);
  });
});

describe('the shipped playbooks.yaml', () => {
  const source = readFileSync(new URL('../../playbooks.yaml', import.meta.url), 'utf8');
  const catalog = parseCatalog(source);

  // One plausible error per playbook, as a platform would report it.
  const examples: Record<string, TriageInput> = {
    retry_with_backoff: error({
      kind: 'ReadTimeoutError',
      category: undefined,
      message: 'GET /rates timed out after 5000 ms',
    }),
    clear_cache: error({
      kind: 'DeserializationError',
      category: undefined,
      message: 'cannot decode cached cart 8812',
    }),
    restart_service: error({
      kind: 'OutOfMemoryError',
      category: undefined,
      severity: 'critical',
      message: 'JavaScript heap out of memory',
    }),
    reconnect_database: error({
      kind: 'ConnectionRefused',
      category: undefined,
      message: 'connect ECONNREFUSED 10.0.0.5:5432',
    }),
    clear_lock_files: error({
      kind: 'LockError',
      category: undefined,
      message: 'could not acquire lock /var/run/export.lock',
    }),
    scale_up: error({
      kind: 'QueueFullError',
      category: undefined,
      severity: 'warning',
      message: 'work queue is full (1000 jobs)',
    }),
    scale_down: error({
      kind: 'KubeQuotaExceeded',
      category: undefined,
      severity: 'warning',
      message: 'namespace shop exceeded quota: cpu',
    }),
    enable_circuit_breaker: error({
      kind: 'BadGatewayError',
      category: undefined,
      message: 'upstream payments returned 502',
      attributes: { dependency: 'payments' },
    }),
    toggle_feature_flag: error({
      kind: 'TypeError',
      category: undefined,
      message: 'cannot read properties of undefined',
      attributes: { feature_flag: 'new-checkout' },
    }),
    rollback_deployment: error({
      kind: 'ImagePullBackOff',
      category: undefined,
      message: 'back-off pulling image checkout:2.4.1',
    }),
    rotate_credentials: error({
      kind: 'AuthenticationFailed',
      category: undefined,
      message: 'password authentication failed for user "shop"',
    }),
  };

  it('parses and holds the eleven default playbooks', () => {
    expect(catalog.playbooks.map((playbook) => playbook.name).sort()).toEqual(Object.keys(examples).sort());
  });

  it('gives tiers by risk: retry and cache 1, changes to a running system 2, rollback and credentials 3', () => {
    const tiers = Object.fromEntries(catalog.playbooks.map((playbook) => [playbook.name, playbook.tier]));
    expect(tiers).toEqual({
      retry_with_backoff: 1,
      clear_cache: 1,
      restart_service: 2,
      reconnect_database: 2,
      clear_lock_files: 2,
      scale_up: 2,
      scale_down: 2,
      enable_circuit_breaker: 2,
      toggle_feature_flag: 2,
      rollback_deployment: 3,
      rotate_credentials: 3,
    });
  });

  it.each(Object.entries(examples))(
    '%s applies to a plausible error and plans a valid action for it',
    (name, input) => {
      const playbook = catalog.byName.get(name)!;
      expect(catalog.candidatesFor(input).map((candidate) => candidate.name)).toContain(name);
      const plan = planFor(playbook, input);
      expectValidPlan(plan);
      expect(plan).toMatchObject({ playbook: name, target: { service: 'checkout', environment: 'production' } });
      expect(playbook.cooldownMs).toBeGreaterThan(0);
    },
  );

  it('uses the adapter each action belongs to', () => {
    const byAdapter = Object.fromEntries(catalog.playbooks.map((p) => [p.name, `${p.adapter}/${p.action}`]));
    expect(byAdapter).toMatchObject({
      clear_cache: 'nats/clear_cache',
      restart_service: 'kubernetes/rollout_restart',
      scale_up: 'kubernetes/scale',
      scale_down: 'kubernetes/scale',
      rollback_deployment: 'kubernetes/rollback_image',
      rotate_credentials: 'http/rotate_credentials',
    });
  });

  it('offers nothing for a debug message that names no known failure', () => {
    expect(
      catalog.candidatesFor(error({ kind: 'Notice', category: undefined, severity: 'debug', message: 'hello' })),
    ).toEqual([]);
  });
});
