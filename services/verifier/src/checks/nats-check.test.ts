// Tests of the nats check with a fake request function.
import { describe, expect, it } from '@jest/globals';
import { runNatsCheck, type NatsCheck, type NatsRequest } from './nats-check.js';

const check: NatsCheck = {
  kind: 'nats',
  name: 'status',
  subject: 'remediation.api.status',
  expect_fields: { 'pool.healthy': true, replicas: 3 },
};

function replying(reply: unknown): NatsRequest & { calls: unknown[][] } {
  const calls: unknown[][] = [];
  const request = async (subject: string, payload: unknown, timeoutMs: number): Promise<unknown> => {
    calls.push([subject, payload, timeoutMs]);
    return reply;
  };
  return Object.assign(request, { calls });
}

describe('runNatsCheck', () => {
  it('sends the default payload and compares the state of a status reply', async () => {
    const request = replying({ ok: true, state: { pool: { healthy: true }, replicas: 3 } });
    const result = await runNatsCheck(check, request, 2000, { service: 'api' });
    expect(request.calls).toEqual([['remediation.api.status', { service: 'api' }, 2000]]);
    expect(result).toMatchObject({ name: 'status', kind: 'nats', status: 'passed' });
    expect(result.fields?.every((f) => f.matched)).toBe(true);
  });

  it("sends the check's own payload when it has one", async () => {
    const request = replying({ pool: { healthy: true }, replicas: 3 });
    await runNatsCheck({ ...check, payload: { deep: true } }, request, 2000, { service: 'api' });
    expect(request.calls[0]?.[1]).toEqual({ deep: true });
  });

  it('compares the reply itself when it has no object state', async () => {
    const result = await runNatsCheck(check, replying({ state: 'up', pool: { healthy: true }, replicas: 3 }), 2000, {});
    expect(result.status).toBe('passed');
  });

  it('fails on a mismatched or missing field, naming it', async () => {
    const result = await runNatsCheck(check, replying({ state: { pool: { healthy: false } } }), 2000, {});
    expect(result.status).toBe('failed');
    expect(result.reason).toBe('pool.healthy is false (expected true), replicas is missing (expected 3)');
    expect(result.fields).toEqual([
      { field: 'pool.healthy', expected: true, actual: false, matched: false },
      { field: 'replicas', expected: 3, matched: false },
    ]);
  });

  it('is an error when the request throws', async () => {
    const failing: NatsRequest = async () => {
      throw new Error('TIMEOUT');
    };
    const result = await runNatsCheck(check, failing, 2000, {});
    expect(result).toMatchObject({ status: 'error', reason: 'no reply on remediation.api.status: TIMEOUT' });
    expect(result.fields).toBeUndefined();
  });
});
