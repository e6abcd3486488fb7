// Tests of the Sentry event schema and its mapping to error.reported.
import { readFileSync } from 'node:fs';
import { validateData, validateSchema } from '@grace/contracts';
import { describe, expect, it } from '@jest/globals';
import { mapSentry, SentryEvent, validateSentryEvent, type SentryEventType } from './sentry.js';

const sample = JSON.parse(
  readFileSync(new URL('../../test/samples/sentry-event.json', import.meta.url), 'utf8'),
) as SentryEventType;

function event(overrides: Partial<SentryEventType> = {}): SentryEventType {
  return {
    event_id: 'fc6d8c0c43fc4630ad850ee518f1b9d0',
    timestamp: '2024-05-14T09:32:07Z',
    platform: 'node',
    exception: { values: [{ type: 'TypeError', value: "Cannot read properties of undefined (reading 'id')" }] },
    ...overrides,
  };
}

describe('the sample event (test/samples/sentry-event.json)', () => {
  it('is a valid Sentry event', () => {
    expect(validateSentryEvent(sample)).toEqual({ ok: true, value: sample });
  });

  it('maps to the raised exception, its innermost-last frames and its cause', () => {
    const report = mapSentry(sample, { service: 'ignored-because-tagged' });
    expect(report).toEqual({
      service: 'orders',
      environment: 'production',
      kind: 'StockReservationError',
      message: 'could not reserve stock for order 8842',
      severity: 'error',
      occurred_at: '2024-05-14T09:32:07.514Z',
      stack: [
        { function: 'full_dispatch_request', file: 'flask/app.py', line: 880, module: 'flask.app' },
        { function: 'dispatch_request', file: 'flask/app.py', line: 865, module: 'flask.app' },
        { function: 'reserve', file: 'orders/api.py', line: 41, module: 'orders.api' },
        { function: 'reserve_stock', file: 'orders/store.py', line: 93, module: 'orders.store' },
      ],
      fingerprint: 'sentry:orders|stock-reservation|database-unavailable',
      release: 'orders@2.14.1',
      host: 'orders-7f9c6d5b8-k4m2p',
      origin: 'sentry',
      attributes: {
        sentry_event_id: '9f1c2b7e5a8d4c3f8e6b1a2d4c5e7f90',
        platform: 'python',
        logger: 'orders.api',
        transaction: '/api/orders/<int:order_id>/reserve',
        cause:
          'OperationalError: connection to server at "10.42.3.17", port 5432 failed: FATAL:  sorry, too many clients already',
        'tag.service': 'orders',
        'tag.region': 'eu-west-1',
        'tag.handled': 'no',
        'tag.mechanism': 'flask',
        'tag.url': 'https://shop.example.com/api/orders/8842/reserve',
      },
    });
    expect(validateData('error.reported', report).ok).toBe(true);
  });
});

describe('mapping', () => {
  it('maps Sentry levels to severities, error when the level is absent', () => {
    const levels = ['fatal', 'error', 'warning', 'info', 'debug'] as const;
    expect(levels.map((level) => mapSentry(event({ level }), {}).severity)).toEqual([
      'critical',
      'error',
      'warning',
      'info',
      'debug',
    ]);
    expect(mapSentry(event(), {}).severity).toBe('error');
  });

  it('reads a timestamp in Unix seconds, and one without an offset as UTC', () => {
    expect(mapSentry(event({ timestamp: 1715679127.5142 }), {}).occurred_at).toBe('2024-05-14T09:32:07.514Z');
    expect(mapSentry(event({ timestamp: '2024-05-14T09:32:07.514281' }), {}).occurred_at).toBe(
      '2024-05-14T09:32:07.514Z',
    );
    expect(mapSentry(event({ timestamp: '2024-05-14T11:32:07+02:00' }), {}).occurred_at).toBe(
      '2024-05-14T09:32:07.000Z',
    );
  });

  it('names the service by tag, then the default given, then the logger, else unknown', () => {
    const service = (overrides: Partial<SentryEventType>, defaults: { service?: string } = {}) =>
      mapSentry(event(overrides), defaults).service;
    expect(service({ tags: { service: 'web' }, logger: 'app.views' }, { service: 'api' })).toBe('web');
    expect(service({ logger: 'app.views' }, { service: 'api' })).toBe('api');
    expect(service({ logger: 'app.views' })).toBe('app.views');
    expect(service({})).toBe('unknown');
    expect(service({ tags: [['service', 'my web app']] })).toBe('my-web-app');
  });

  it('takes the environment from the event, then its tag, else unknown (never a guess of production)', () => {
    const environment = (overrides: Partial<SentryEventType>) => mapSentry(event(overrides), {}).environment;
    expect(environment({ environment: 'staging', tags: { environment: 'qa' } })).toBe('staging');
    expect(environment({ tags: { environment: 'qa' } })).toBe('qa');
    expect(environment({})).toBe('unknown');
  });

  it('reports a message event as kind Message, with the formatted message and the attached stack', () => {
    const report = mapSentry(
      {
        timestamp: 1715679127,
        level: 'warning',
        logger: 'billing.jobs',
        logentry: { message: 'invoice %s retried %d times', formatted: 'invoice 311 retried 5 times' },
        stacktrace: { frames: [{ function: 'run', filename: 'billing/jobs.py', lineno: 12, colno: null }] },
      },
      {},
    );
    expect(report).toEqual({
      service: 'billing.jobs',
      environment: 'unknown',
      kind: 'Message',
      message: 'invoice 311 retried 5 times',
      severity: 'warning',
      occurred_at: '2024-05-14T09:32:07.000Z',
      stack: [{ function: 'run', file: 'billing/jobs.py', line: 12 }],
      origin: 'sentry',
      attributes: { logger: 'billing.jobs' },
    });
    const message = (overrides: Partial<SentryEventType>) =>
      mapSentry(event({ exception: undefined, ...overrides }), {}).message;
    expect(message({ logentry: { message: 'raw %s' } })).toBe('raw %s');
    expect(message({ message: 'plain text' })).toBe('plain text');
    expect(message({ message: { formatted: 'formatted text' } })).toBe('formatted text');
  });

  it('uses the exception type as the message when the exception has no value', () => {
    const report = mapSentry(event({ exception: { values: [{ type: 'KeyboardInterrupt', value: '' }] } }), {});
    expect(report).toMatchObject({ kind: 'KeyboardInterrupt', message: 'KeyboardInterrupt' });
    expect(mapSentry(event({ exception: { values: [{ value: 'boom' }] } }), {}).kind).toBe('Error');
  });

  it('keeps the innermost 200 frames, maps abs_path when there is no filename, and skips empty frames', () => {
    const frames = Array.from({ length: 250 }, (_, i) => ({
      abs_path: `/app/f${i}.js`,
      function: `f${i}`,
      lineno: i,
      colno: 3,
      in_app: true,
    }));
    const report = mapSentry(
      event({
        exception: { values: [{ type: 'RangeError', value: 'too deep', stacktrace: { frames: [{}, ...frames] } }] },
      }),
      {},
    );
    const stack = report.stack as { function?: string; file?: string; line?: number; column?: number }[];
    expect(stack).toHaveLength(200);
    expect(stack[0]).toEqual({ function: 'f50', file: '/app/f50.js', line: 50, column: 3 });
    expect(stack[199]).toEqual({ function: 'f249', file: '/app/f249.js', line: 249, column: 3 });
    expect(validateData('error.reported', report).ok).toBe(true);
  });

  it('makes a fingerprint of an explicit one, none of Sentry default grouping, and hashes a long one', () => {
    const fingerprint = (parts?: string[]) => mapSentry(event({ fingerprint: parts }), {}).fingerprint;
    expect(fingerprint(['payments', 'gateway-timeout'])).toBe('sentry:payments|gateway-timeout');
    expect(fingerprint(undefined)).toBeUndefined();
    expect(fingerprint([])).toBeUndefined();
    expect(fingerprint(['{{ default }}'])).toBeUndefined();
    // Sentry's default hash extended by a part: we cannot compute the default part, trigger-mesh fingerprints.
    expect(fingerprint(['{{default}}', 'eu-west-1'])).toBeUndefined();
    expect(fingerprint(['x'.repeat(200)])).toMatch(/^sentry:sha256:[0-9a-f]{64}$/);
  });

  it('reads tags as an object or as pairs, prefixed, within 64 attributes', () => {
    const pairs = Array.from({ length: 80 }, (_, i): [string, string] => [`t${String(i).padStart(2, '0')}`, 'v']);
    const report = mapSentry(event({ tags: pairs }), {});
    const attributes = report.attributes ?? {};
    expect(Object.keys(attributes)).toHaveLength(64);
    // sentry_event_id, platform and the first 61 tags are kept; 19 tags are left out.
    expect(attributes['tag.t60']).toBe('v');
    expect(attributes.attributes_dropped).toBe(19);
    expect(validateData('error.reported', report).ok).toBe(true);

    expect(mapSentry(event({ tags: { build: 1204, canary: false, empty: null } }), {}).attributes).toEqual({
      sentry_event_id: 'fc6d8c0c43fc4630ad850ee518f1b9d0',
      platform: 'node',
      'tag.build': 1204,
      'tag.canary': false,
      'tag.empty': null,
    });
  });

  it('cuts long values to the contract', () => {
    const report = mapSentry(
      event({
        exception: { values: [{ type: 'E'.repeat(300), value: 'v'.repeat(20_000) }] },
        release: 'r'.repeat(300),
        server_name: 'h'.repeat(300),
        tags: { note: 'n'.repeat(5_000) },
      }),
      {},
    );
    expect(report.kind).toHaveLength(256);
    expect(report.message).toHaveLength(16384);
    expect(report.release).toHaveLength(256);
    expect(report.host).toHaveLength(256);
    expect(report.attributes?.['tag.note']).toHaveLength(4096);
    expect(validateData('error.reported', report).ok).toBe(true);
  });
});

describe('validation', () => {
  it('refuses an event with neither an exception nor a message, and mapSentry says why', () => {
    const empty = { timestamp: 1715679127, exception: { values: [{ type: null, value: null }] } };
    expect(validateSentryEvent(empty)).toEqual({
      ok: false,
      errors: [
        {
          path: '',
          message: 'needs an exception (exception.values with a type or a value) or a message (message or logentry)',
        },
      ],
    });
    expect(() => mapSentry(empty as SentryEventType, {})).toThrow(
      'a Sentry event needs an exception (exception.values with a type or a value) or a message',
    );
  });

  it('refuses a missing timestamp, an unknown level and tags of the wrong shape, each with its path', () => {
    const checked = validateSchema(SentryEvent, {
      level: 'critical',
      message: 'x',
      tags: [['only-a-key']],
    });
    expect(checked.ok ? [] : checked.errors).toEqual(
      expect.arrayContaining([
        { path: 'timestamp', message: 'is required' },
        { path: 'level', message: 'must be one of: "fatal", "error", "warning", "info", "debug"' },
      ]),
    );
    expect(checked.ok ? [] : checked.errors.map((e) => e.path)).toContain('tags.0');
  });

  it('accepts fields it does not map (user, request, contexts, sdk, breadcrumbs, frame vars)', () => {
    expect(
      validateSentryEvent({
        ...event(),
        sdk: { name: 'sentry.javascript.node', version: '8.9.2' },
        user: { id: 'u1' },
        breadcrumbs: [],
        exception: { values: [{ type: 'E', stacktrace: { frames: [{ function: 'f', vars: { a: 1 } }] } }] },
      }).ok,
    ).toBe(true);
  });
});
