// Tests of triage classification (category, severity escalation, blast radius) and of the error signature.
import { describe, expect, it } from '@jest/globals';
import { classify, signatureOf, type ClassifyInput } from './classify.js';

function input(overrides: Partial<ClassifyInput>): ClassifyInput {
  return { kind: 'Error', message: '', severity: 'error', count: 1, total_count: 1, storm: false, ...overrides };
}

describe('classify: category from keywords', () => {
  it.each([
    ['database', 'Error', 'connect ECONNREFUSED 10.0.0.5:5432'],
    ['database', 'PgPoolError', 'timeout exceeded when trying to connect'],
    ['database', 'SequelizeConnectionError', 'FATAL: sorry, too many clients already (postgres)'],
    ['database', 'Error', 'MySQL: Too many connections'],
    ['database', 'QueryFailedError', 'deadlock detected in database grace'],
    ['database', 'Error', 'Connection terminated unexpectedly (db primary)'],
    ['network', 'Error', 'connect ETIMEDOUT 52.1.2.3:443'],
    ['network', 'FetchError', 'request to https://api.example.com failed, reason: socket hang up'],
    ['network', 'Error', 'read ECONNRESET'],
    ['network', 'Error', 'getaddrinfo ENOTFOUND payments.internal'],
    ['network', 'Error', 'DNS lookup failed for payments.internal'],
    ['dependency', 'AxiosError', 'Request failed with status code 503'],
    ['dependency', 'HTTPError', '502 Bad Gateway from payments'],
    ['dependency', 'Error', 'upstream request timeout'],
    ['dependency', 'CircuitOpenError', 'circuit breaker is open for inventory'],
    ['resource', 'OOMKilled', 'container exceeded its memory limit'],
    ['resource', 'RangeError', 'FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory'],
    ['resource', 'Error', 'ENOSPC: no space left on device, write'],
    ['resource', 'Error', 'disk full on /var/lib/data'],
    ['resource', 'Warning', 'CPU throttled at 95% for 5 minutes'],
    ['configuration', 'ConfigError', 'invalid configuration: port must be a number'],
    ['configuration', 'Error', 'missing env DATABASE_URL_REPLICA'],
    ['configuration', 'Error', 'invalid setting "max_workers": expected integer'],
    ['authentication', 'UnauthorizedError', 'jwt expired'],
    ['authentication', 'HTTPError', 'Response code 401 (Unauthorized)'],
    ['authentication', 'Error', 'status 403 on /admin'],
    ['authentication', 'Error', 'password authentication failed for user "grace" on postgres'],
    ['authentication', 'CredentialsProviderError', 'Could not load credentials from any providers'],
    ['deployment', 'Warning', 'Back-off pulling image: ImagePullBackOff'],
    ['deployment', 'PodError', 'CrashLoopBackOff: back-off restarting failed container'],
    ['deployment', 'Error', 'rollout of deployment checkout exceeded its progress deadline'],
    ['deployment', 'Error', 'schema version mismatch: expected 12, found 11'],
    ['data', 'Error', 'duplicate key value violates unique constraint "users_email_key"'],
    ['data', 'Error', 'could not serialize access due to concurrent update'],
    ['data', 'Error', 'index file corrupted: checksum mismatch'],
    ['application', 'TypeError', "Cannot read properties of undefined (reading 'id')"],
    ['application', 'Error', 'something odd happened'],
  ])('%s: %s "%s"', (category, kind, message) => {
    const result = classify(input({ kind, message }));
    expect(result.category).toBe(category);
    expect(result.reason).toContain(`category ${category}`);
  });

  it('a refused connection that names no database is a network problem', () => {
    expect(classify(input({ message: 'connect ECONNREFUSED 10.0.0.9:8080' })).category).toBe('network');
  });

  it('OpenTelemetry attributes count: db.system makes a timeout a database one, an HTTP 5xx a dependency one', () => {
    expect(classify(input({ message: 'query timed out', attributes: { 'db.system': 'postgresql' } })).category).toBe(
      'database',
    );
    expect(classify(input({ message: 'call failed', attributes: { 'http.response.status_code': 502 } })).category).toBe(
      'dependency',
    );
  });

  it('the reason names the words that decided the category, or says no rule matched', () => {
    expect(classify(input({ message: 'connect ECONNREFUSED to postgres' })).reason).toContain(
      '"econnrefused" and "postgres"',
    );
    expect(classify(input({ message: 'nothing recognisable' })).reason).toContain('no keyword rule matched');
  });
});

describe('classify: a routing rule category wins', () => {
  it('uses the category a routing rule set even when keywords say otherwise', () => {
    const result = classify(input({ message: 'connect ECONNREFUSED 10.0.0.5:5432', category: 'payments-gateway' }));
    expect(result.category).toBe('payments-gateway');
    expect(result.reason).toContain('set by a routing rule');
  });

  it('ignores an empty routing category', () => {
    expect(classify(input({ message: 'read ECONNRESET', category: '  ' })).category).toBe('network');
  });
});

describe('classify: severity', () => {
  it('a storm escalates one step: error to critical, warning to error, info to warning', () => {
    expect(classify(input({ severity: 'error', storm: true })).severity).toBe('critical');
    expect(classify(input({ severity: 'warning', storm: true })).severity).toBe('error');
    expect(classify(input({ severity: 'info', storm: true })).severity).toBe('warning');
    expect(classify(input({ severity: 'debug', storm: true })).severity).toBe('info');
  });

  it('100 occurrences in the window escalate; 99 do not', () => {
    expect(classify(input({ severity: 'error', count: 100 })).severity).toBe('critical');
    expect(classify(input({ severity: 'error', count: 99 })).severity).toBe('error');
  });

  it('never lowers severity, and critical stays critical', () => {
    expect(classify(input({ severity: 'critical', storm: true, count: 500 })).severity).toBe('critical');
    expect(classify(input({ severity: 'critical' })).severity).toBe('critical');
    expect(classify(input({ severity: 'warning', count: 1 })).severity).toBe('warning');
  });

  it('the reason says why severity was escalated', () => {
    expect(classify(input({ severity: 'error', storm: true })).reason).toContain(
      'severity error escalated to critical for an error storm',
    );
    expect(classify(input({ severity: 'warning', count: 150 })).reason).toContain(
      'severity warning escalated to error for 150 occurrences in the window',
    );
  });
});

describe('classify: blast radius', () => {
  it.each<[Partial<ClassifyInput>, 'low' | 'medium' | 'high']>([
    [{ storm: true, severity: 'info' }, 'high'],
    [{ count: 100, severity: 'info' }, 'high'],
    [{ severity: 'critical' }, 'high'],
    [{ count: 99, severity: 'warning' }, 'medium'],
    [{ count: 10 }, 'medium'],
    [{ count: 1, total_count: 100 }, 'medium'],
    [{ count: 9, total_count: 99 }, 'low'],
    [{ count: 1, total_count: 1 }, 'low'],
  ])('%j is %s', (overrides, blastRadius) => {
    const result = classify(input(overrides));
    expect(result.blastRadius).toBe(blastRadius);
    expect(result.reason).toContain(`blast radius ${blastRadius}`);
  });

  it('null or NaN counts read as 0 (null-safe arithmetic)', () => {
    const result = classify(input({ count: null as unknown as number, total_count: Number.NaN }));
    expect(result.blastRadius).toBe('low');
    expect(result.severity).toBe('error');
  });

  it('the reason is one sentence', () => {
    const { reason } = classify(input({ message: 'read ECONNRESET', count: 12 }));
    expect(reason).toMatch(/^[A-Z][^.]*\.$/);
  });
});

describe('signatureOf', () => {
  it('is category:kind, lower-cased and trimmed', () => {
    expect(signatureOf({ category: 'database', kind: '  ECONNREFUSED ' })).toBe('database:econnrefused');
    expect(signatureOf({ category: ' Database ', kind: 'PgPoolError' })).toBe('database:pgpoolerror');
  });

  it('the same kind on different services gives the same signature (no service in it)', () => {
    const onCheckout = classify(input({ kind: 'ECONNREFUSED', message: 'connect ECONNREFUSED postgres:5432' }));
    const onBilling = classify(input({ kind: 'ECONNREFUSED', message: 'connect ECONNREFUSED db-billing:5432' }));
    expect(signatureOf({ kind: 'ECONNREFUSED', category: onCheckout.category })).toBe(
      signatureOf({ kind: 'ECONNREFUSED', category: onBilling.category }),
    );
  });

  it('collapses inner whitespace and bounds the kind to 256 characters', () => {
    expect(signatureOf({ category: 'network', kind: 'Socket \t Hang   Up' })).toBe('network:socket hang up');
    const long = signatureOf({ category: 'application', kind: 'x'.repeat(1_000) });
    expect(long).toBe(`application:${'x'.repeat(256)}`);
  });

  it('never cuts a surrogate pair and names an empty kind unknown', () => {
    const emoji = signatureOf({ category: 'data', kind: '😀'.repeat(300) });
    expect(Array.from(emoji.slice('data:'.length))).toHaveLength(256);
    expect(emoji.endsWith('😀')).toBe(true);
    expect(signatureOf({ category: 'data', kind: '   ' })).toBe('data:unknown');
  });
});
