import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { call, startGatewaySystem, type GatewaySystem } from './support.js';

// Hostile requests by kind, each with the status it must get. The chat does not need the other services to
// refuse them: only the sentinel answers the few that pass (as text).
const deep = (n: number): unknown => (n === 0 ? 'x' : { a: deep(n - 1) });

function hostile(i: number): { what: string; path: string; raw?: string | Buffer; body?: unknown; expect: number } {
  switch (i % 10) {
    case 0:
      return {
        what: 'oversized',
        path: '/api/v1/chat',
        raw: JSON.stringify({ message: 'x'.repeat(70_000) }),
        expect: 413,
      };
    case 1:
      return {
        what: 'deep JSON',
        path: '/api/v1/chat',
        body: { message: 'hi', conversation_id: deep(40) },
        expect: 400,
      };
    case 2:
      return {
        what: 'script tag',
        path: '/api/v1/chat',
        body: { message: `<script>alert(${i})</script>` },
        expect: 400,
      };
    case 3:
      return {
        what: 'control characters',
        path: '/api/v1/chat',
        body: { message: `status\u0000\u0007${i}` },
        expect: 400,
      };
    case 4:
      return {
        what: 'invalid UTF-8',
        path: '/api/v1/chat',
        raw: Buffer.concat([Buffer.from('{"message":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]),
        expect: 400,
      };
    case 5:
      return { what: 'not JSON', path: '/api/v1/chat', raw: `{"message": "status"${i}`, expect: 400 };
    case 6:
      return { what: 'too long a message', path: '/api/v1/chat', body: { message: 'y'.repeat(2_001) }, expect: 400 };
    case 7:
      return { what: 'unknown field', path: '/api/v1/chat', body: { message: 'status', admin: true }, expect: 400 };
    case 8:
      return { what: 'wrong type', path: '/api/v1/approvals/x/votes', body: { decision: 'maybe' }, expect: 400 };
    default:
      return {
        what: 'SQL in a vote comment',
        path: '/api/v1/approvals/x/votes',
        body: { decision: 'approve', comment: "'; drop table votes; --\u0001" },
        expect: 400,
      };
  }
}

describe('gateway under hostile input', () => {
  let system: GatewaySystem;

  beforeAll(async () => {
    system = await startGatewaySystem('gwhostile', {}, []);
  }, 60_000);

  afterAll(async () => {
    await system?.stop();
  });

  it('answers 10,000 hostile requests with 4xx and a reason each, and keeps serving', async () => {
    const token = system.token(['operator', 'approver']);
    const tally = new Map<string, Map<number, number>>();
    let next = 0;
    const worker = async () => {
      while (next < 10_000) {
        const request = hostile(next++);
        const res = await call(system.url, request.path, {
          token,
          ...(request.raw !== undefined ? { raw: request.raw } : { body: request.body }),
        });
        const byStatus = tally.get(request.what) ?? new Map<number, number>();
        byStatus.set(res.status, (byStatus.get(res.status) ?? 0) + 1);
        tally.set(request.what, byStatus);
        if (res.status !== request.expect || typeof res.json?.message !== 'string')
          throw new Error(`${request.what}: ${res.status} ${res.text.slice(0, 200)}`);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    expect(
      [...tally.values()].reduce((n, m) => n + [...m.values()].reduce((a, b) => a + b, 0), 0),
    ).toBeGreaterThanOrEqual(10_000);
    // Still serving, and nothing hostile was stored.
    const health = await fetch(`${system.url}/healthz`);
    expect(health.status).toBe(200);
    expect((await call(system.url, '/api/v1/me', { token })).status).toBe(200);
    const { rows } = await system.sandbox.pool.query(
      `select count(*)::int as n from "${system.sandbox.schema}".messages`,
    );
    expect((rows[0] as { n: number }).n).toBe(0);
    // 10,000 requests take 35 s on an idle 2-core machine, far longer beside other suites: no speed is asserted.
  }, 400_000);

  it('stores text with markup-like or SQL-like content as text, and answers with JSON only', async () => {
    const token = system.token(['operator']);
    const message = "why did checkout fail after '; drop table incidents; -- & 1 < 2?";
    const res = await call(system.url, '/api/v1/chat', { token, body: { message } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    const { rows } = await system.sandbox.pool.query(
      `select text from "${system.sandbox.schema}".messages where author = 'user'`,
    );
    expect(rows).toEqual([{ text: message }]);
  });
});

describe('gateway when its database does not answer', () => {
  let system: GatewaySystem;

  beforeAll(async () => {
    system = await startGatewaySystem('gwnodb', { DB_STATEMENT_TIMEOUT_MS: '500' }, []);
  }, 60_000);

  afterAll(async () => {
    await system?.stop();
  });

  it('answers 503 with Retry-After and a reason (not 500), and serves again once the database does', async () => {
    const token = system.token(['operator']);
    // Another session holds the table the chat writes to: the gateway's statements run into their timeout.
    const blocker = await system.sandbox.pool.connect();
    try {
      await blocker.query('begin');
      await blocker.query(`lock table "${system.sandbox.schema}".messages in access exclusive mode`);
      const res = await call(system.url, '/api/v1/chat', { token, body: { message: 'status of checkout' } });
      expect({ status: res.status, error: res.json?.error, retryAfter: res.headers.get('retry-after') }).toEqual({
        status: 503,
        error: 'unavailable',
        retryAfter: '1',
      });
      expect(res.json?.message).toMatch(/database did not answer/);
    } finally {
      await blocker.query('rollback');
      blocker.release();
    }
    const again = await call(system.url, '/api/v1/chat', { token, body: { message: 'status of checkout' } });
    expect(again.status).toBe(200);
  });
});
