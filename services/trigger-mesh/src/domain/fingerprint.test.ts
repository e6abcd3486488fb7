import { createHash } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import type { EventData } from '@grace/contracts';
import { computeFingerprint, fingerprintOf, normalizeMessage, topFrames } from './fingerprint.js';

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

const nodeStack = (root: string, line: number) =>
  [
    'Error: connect ECONNREFUSED 10.0.0.7:5432',
    `    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:${line}:16)`,
    `    at Client.connect (${root}/node_modules/.pnpm/pg@8.11.${line % 7}/node_modules/pg/lib/client.js:${line}:5)`,
    `    at OrderStore.save (${root}/services/orders/src/store.ts:${line + 40}:11)`,
    `    at async placeOrder (${root}/services/orders/src/handlers/place-order.ts:12:3)`,
  ].join('\n');

describe('normalizeMessage', () => {
  it('replaces what varies between occurrences with placeholders, in lower case with collapsed whitespace', () => {
    expect(
      normalizeMessage(
        "User 'bob' (id 123e4567-e89b-12d3-a456-426614174000) not found at 2024-01-05T10:11:12.123Z  from\n192.168.1.20:53211",
      ),
    ).toBe('user <str> (id <uuid>) not found at <ts> from <ip>:<num>');
    expect(
      normalizeMessage('GET https://api.example.com/v1/orders/42?token=abc&page=2 failed for bob@example.com'),
    ).toBe('get https://api.example.com/v<num>/orders/<num>?<query> failed for <email>');
    expect(normalizeMessage('segfault at 0x7ffd5e8c, peer [2001:db8::1]:443, blob 3f786850e387550f')).toBe(
      'segfault at <hex>, peer [<ip>]:<num>, blob <hex>',
    );
    expect(normalizeMessage('pod checkout-x7k2m9q4 took 12.5ms at 10:11:12 on 01/02/2024')).toBe(
      'pod checkout-<id> took <num>ms at <ts> on <ts>',
    );
  });

  it('keeps apostrophes inside words, names without digits and identifiers like std::io', () => {
    expect(normalizeMessage("Can't read user's file 'a.txt': std::io::Error")).toBe(
      "can't read user's file <str>: std::io::error",
    );
  });

  it('is bounded, whatever the length of the message', () => {
    expect(normalizeMessage('word '.repeat(10_000)).length).toBeLessThanOrEqual(1_024);
  });
});

describe('topFrames', () => {
  it('parses a Node stack: innermost first, no line numbers, no absolute prefix, no package version', () => {
    expect(topFrames(nodeStack('/app', 1203))).toEqual([
      'TCPConnectWrap.afterConnect [as oncomplete] (node:net)',
      'Client.connect (pg/lib/client.js)',
      'OrderStore.save (orders/src/store.ts)',
    ]);
  });

  it('parses a Python traceback, whose innermost frame comes last', () => {
    const stack = [
      'Traceback (most recent call last):',
      '  File "/usr/lib/python3.11/site-packages/flask/app.py", line 1484, in full_dispatch_request',
      '    rv = self.dispatch_request()',
      '  File "/srv/app/orders/views.py", line 42, in place_order',
      '    order = repo.save(payload)',
      '  File "/srv/app/orders/repo.py", line 7, in save',
      '    raise ConnectionError("db down")',
      'ConnectionError: db down',
    ].join('\n');

    expect(topFrames(stack, 2)).toEqual(['save (app/orders/repo.py)', 'place_order (app/orders/views.py)']);
  });

  it('parses a Java stack trace, without module prefixes and per-run lambda ids', () => {
    const stack = [
      'java.lang.IllegalStateException: pool exhausted',
      '\tat com.acme.orders.OrderService.place(OrderService.java:42)',
      '\tat com.acme.orders.OrderController$$Lambda$14/0x0000000800c1840.apply(Unknown Source)',
      '\tat java.base/java.lang.Thread.run(Thread.java:833)',
    ].join('\n');

    expect(topFrames(stack)).toEqual([
      'com.acme.orders.OrderService.place (OrderService.java)',
      'com.acme.orders.OrderController$$Lambda.apply (Unknown Source)',
      'java.lang.Thread.run (Thread.java)',
    ]);
  });

  it('takes frame arrays innermost last, as the contract sends them', () => {
    const frames = [
      { function: 'main', file: '/srv/app/main.ts', line: 3 },
      { function: 'placeOrder', file: 'C:\\build\\app\\src\\orders.ts', line: 10, column: 2 },
      { function: 'debounce', file: '/app/node_modules/lodash@4.17.21/debounce.js', module: 'lodash', line: 99 },
    ];

    expect(topFrames(frames)).toEqual([
      'debounce (lodash/debounce.js) [lodash]',
      'placeOrder (app/src/orders.ts)',
      'main (srv/app/main.ts)',
    ]);
    expect(topFrames(frames, 1)).toEqual(['debounce (lodash/debounce.js) [lodash]']);
  });

  it('falls back to the first normalised lines of a stack it cannot parse, and to nothing without a stack', () => {
    expect(topFrames('Boom\nin worker 17\nin pool 3\nin scheduler', 2)).toEqual(['in worker <num>', 'in pool <num>']);
    expect(topFrames(undefined)).toEqual([]);
    expect(topFrames([])).toEqual([]);
  });
});

describe('computeFingerprint', () => {
  it('gives the same fingerprint to the same error with different ids, numbers, timestamps, addresses and quoted values', () => {
    const first = computeFingerprint({
      service: 'orders',
      kind: 'OrderFailed',
      message:
        "order 1041 for 'alice' (req 123e4567-e89b-12d3-a456-426614174000) failed at 2024-05-01T10:00:00Z via 10.0.0.7:5432",
      stack: nodeStack('/app', 1203),
    });
    const second = computeFingerprint({
      service: 'orders',
      kind: 'OrderFailed',
      message:
        "Order 77 for 'bob'  (req 9b2f3c4d-0a1b-4c5d-8e9f-0123456789ab) failed at 2024-06-30T23:59:59.999+02:00 via 10.1.2.3:6543",
      stack: nodeStack('/home/runner/work/shop/shop', 88),
    });

    expect(second).toBe(first);
  });

  it('gives a different fingerprint to a different service, kind, message or top frame', () => {
    const base = { service: 'orders', kind: 'OrderFailed', message: 'order 1 failed', stack: nodeStack('/app', 1) };
    const fingerprint = computeFingerprint(base);
    const innermostElsewhere = base.stack.replace('node:net', 'node:tls');

    expect(computeFingerprint({ ...base, service: 'billing' })).not.toBe(fingerprint);
    expect(computeFingerprint({ ...base, kind: 'OrderRejected' })).not.toBe(fingerprint);
    expect(computeFingerprint({ ...base, message: 'order 1 timed out' })).not.toBe(fingerprint);
    expect(computeFingerprint({ ...base, stack: innermostElsewhere })).not.toBe(fingerprint);
  });

  it('is the documented hash: sha256 of the JSON of service, kind, normalised message and top frames, 32 hex characters', () => {
    const expected = createHash('sha256')
      .update(
        JSON.stringify([
          'orders',
          'OrderFailed',
          'order <num> failed for <str>',
          ['OrderStore.save (orders/src/store.ts)', 'placeOrder (orders/src/handlers.ts)'],
        ]),
      )
      .digest('hex')
      .slice(0, 32);

    const fingerprint = computeFingerprint({
      service: 'orders',
      kind: ' OrderFailed ',
      message: 'Order 17 failed for "alice"',
      stack: [
        { function: 'placeOrder', file: '/app/services/orders/src/handlers.ts', line: 9 },
        { function: 'OrderStore.save', file: '/app/services/orders/src/store.ts', line: 40 },
      ],
    });

    expect(fingerprint).toBe(expected);
    expect(fingerprint).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe('fingerprintOf', () => {
  it("uses the producer's fingerprint when it gives one, prefixed so it cannot collide with a computed one", () => {
    const computed = computeFingerprint(report());

    expect(fingerprintOf(report())).toBe(computed);
    expect(fingerprintOf(report({ fingerprint: 'db-down' }))).toBe('p:db-down');
    expect(fingerprintOf(report({ fingerprint: computed }))).toBe(`p:${computed}`);
    expect(fingerprintOf(report({ fingerprint: '   ' }))).toBe(computed);
  });

  it("hashes a producer's fingerprint that the prefix would push past the contract's 128 characters", () => {
    const long = 'f'.repeat(128);
    const fingerprint = fingerprintOf(report({ fingerprint: long }));

    expect(fingerprint).toBe(`p:${createHash('sha256').update(long).digest('hex').slice(0, 32)}`);
    expect(fingerprintOf(report({ fingerprint: 'f'.repeat(126) }))).toBe(`p:${'f'.repeat(126)}`);
  });
});
