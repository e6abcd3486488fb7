import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createEvent, validateSchema, type GraceEvent } from '@grace/contracts';
import { publishRaw, readStream, waitFor } from '@grace/service-kit/testing';
import type { TSchema } from '@sinclair/typebox';
import { randomUUID } from 'node:crypto';
import type { Role } from '../src/domain/auth.js';
import { call, SECRET, startGatewaySystem, type GatewaySystem } from './support.js';

describe('gateway API', () => {
  let system: GatewaySystem;

  beforeAll(async () => {
    system = await startGatewaySystem('gwapi');
  }, 60_000);

  afterAll(async () => {
    await system?.stop();
  });

  const get = (path: string, token?: string) => call(system.url, path, { ...(token ? { token } : {}) });

  describe('refuses tokens that are not exactly right, saying why', () => {
    const claims = { roles: ['admin'] };
    const good = { subject: 'mallory', issuer: 'grace', audience: 'grace', expiresIn: 600 };
    const cases: [string, () => string, RegExp][] = [
      ['no token', () => '', /send a token/],
      [
        'alg none',
        () =>
          `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ ...claims, sub: 'mallory', iss: 'grace', aud: 'grace', iat: Math.floor(Date.now() / 1000) })).toString('base64url')}.`,
        /none are not accepted/,
      ],
      ['the wrong algorithm', () => system.sign(claims, { ...good, algorithm: 'HS512' }), /HS512 are not accepted/],
      ['the wrong issuer', () => system.sign(claims, { ...good, issuer: 'evil' }), /issuer invalid/],
      ['the wrong audience', () => system.sign(claims, { ...good, audience: 'other' }), /audience invalid/],
      ['expired', () => system.sign(claims, { ...good, expiresIn: -60 }), /expired/],
      [
        'too old',
        () => system.sign({ ...claims, iat: Math.floor(Date.now() / 1000) - 86_400 }, { ...good, expiresIn: 172_800 }),
        /maxAge exceeded/,
      ],
      ['a tampered signature', () => `${system.sign(claims, good).slice(0, -4)}AAAA`, /invalid signature/],
      ['another secret', () => system.sign(claims, good, `${SECRET}-not`), /invalid signature/],
      ['no known role', () => system.sign({ roles: ['root'] }, good), /none of the roles/],
    ];
    it.each(cases)('%s', async (_name, token, reason) => {
      const t = token();
      const res = await call(system.url, '/api/v1/me', t ? { headers: { authorization: `Bearer ${t}` } } : {});
      expect(res.status).toBe(401);
      expect(res.json).toMatchObject({ error: 'unauthorized' });
      expect(String(res.json.message)).toMatch(reason);
    });
  });

  it('lets each role reach exactly its routes', async () => {
    const routes: [string, string, unknown, Role[]][] = [
      ['GET', '/api/v1/me', undefined, ['viewer', 'operator', 'approver', 'admin']],
      ['GET', '/api/v1/incidents?open=true', undefined, ['viewer', 'operator', 'approver', 'admin']],
      ['GET', '/api/v1/approvals', undefined, ['viewer', 'operator', 'approver', 'admin']],
      ['GET', '/api/v1/playbooks', undefined, ['viewer', 'operator', 'approver', 'admin']],
      ['GET', '/api/v1/executor', undefined, ['viewer', 'operator', 'approver', 'admin']],
      [
        'GET',
        '/api/v1/cube/success_rate?from=2026-11-01T00:00:00Z&to=2026-11-08T00:00:00Z&bucket=day',
        undefined,
        ['viewer', 'operator', 'approver', 'admin'],
      ],
      ['POST', '/api/v1/chat', { message: 'status' }, ['operator', 'admin']],
      ['POST', `/api/v1/approvals/${randomUUID()}/votes`, { decision: 'approve' }, ['approver', 'admin']],
      ['GET', '/api/v1/dlq', undefined, ['admin']],
      ['POST', '/api/v1/executor/resume', {}, ['admin']],
    ];
    const roles: Role[] = ['viewer', 'operator', 'approver', 'admin'];
    const seen: string[] = [];
    for (const [method, path, body, allowed] of routes)
      for (const role of roles) {
        const res = await call(system.url, path, { method, token: system.token([role]), ...(body ? { body } : {}) });
        const ok = res.status >= 200 && res.status < 300;
        seen.push(`${method} ${path.split('?')[0]} ${role} ${ok ? 'ok' : res.status}`);
        if (allowed.includes(role)) expect({ path, role, status: res.status, ok }).toMatchObject({ ok: true });
        else expect({ path, role, status: res.status }).toEqual({ path, role, status: 403 });
      }
    expect(seen).toHaveLength(40);
  });

  it('shows incidents and their timeline from the sentinel, and a contract with its verification', async () => {
    const token = system.token(['viewer']);
    const list = await get('/api/v1/incidents', token);
    expect(list.status).toBe(200);
    expect(list.json).toHaveProperty('items');
    const missing = await get(`/api/v1/incidents/${randomUUID()}`, token);
    expect(missing.status).toBe(404);
    expect(missing.json).toMatchObject({ error: 'not_found' });
    const bad = await get('/api/v1/incidents?limit=5000&open=maybe', token);
    expect(bad.status).toBe(400);
    expect(bad.json.error).toBe('invalid_request');
    expect(bad.json.details).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: 'limit' }), expect.objectContaining({ path: 'open' })]),
    );
  });

  it('casts a vote as the token says who and with which roles', async () => {
    const approvalId = randomUUID();
    const res = await call(system.url, `/api/v1/approvals/${approvalId}/votes`, {
      token: system.token(['approver', 'operator'], 'carol'),
      body: { decision: 'reject', comment: 'not during the sale' },
    });
    expect(res.status).toBe(202);
    const cast = await waitFor('the vote on the bus', async () =>
      (await readStream(system.sandbox, 'GRACE_ACTIONS'))
        .map((m) => m.data as GraceEvent<'approval.vote.cast'>)
        .find((e) => e.type === 'approval.vote.cast' && e.data.approval_id === approvalId),
    );
    expect(cast.data).toMatchObject({ voter_id: 'carol', voter_roles: ['operator', 'approver'], decision: 'reject' });
  });

  it('lets an admin pause and resume the executor, and everyone see the switch', async () => {
    const admin = system.token(['admin'], 'root');
    const paused = await call(system.url, '/api/v1/executor/pause', {
      token: admin,
      body: { reason: 'change freeze' },
    });
    expect(paused.json).toMatchObject({ paused: true, paused_by: 'root', reason: 'change freeze' });
    expect((await get('/api/v1/executor', system.token(['viewer']))).json).toMatchObject({ paused: true });
    const resumed = await call(system.url, '/api/v1/executor/resume', { token: admin, body: {} });
    expect(resumed.json).toMatchObject({ paused: false });
  });

  it('lists dead letters and replays one for an admin', async () => {
    const letter = { id: randomUUID() };
    await publishRaw(
      system.sandbox,
      'dlq.approval.vote.cast',
      JSON.stringify({
        reason: 'retries_exhausted',
        message: 'test',
        errors: [],
        subject: 'approval.vote.cast',
        service: 'action-executor',
        consumer: 'x',
        stream: 'GRACE_ACTIONS',
        stream_sequence: 1,
        deliveries: 5,
        failed_at: new Date().toISOString(),
        event: createEvent(
          'approval.vote.cast',
          {
            vote_id: randomUUID(),
            approval_id: randomUUID(),
            voter_id: 'dave',
            voter_roles: ['approver'],
            decision: 'approve',
            cast_at: new Date().toISOString(),
          },
          { source: 'test', id: letter.id },
        ),
      }),
    );
    const admin = system.token(['admin']);
    const list = await get('/api/v1/dlq', admin);
    const items = list.json.items as { seq: number; subject: string }[];
    expect(items[0]).toMatchObject({ subject: 'approval.vote.cast' });
    const replay = await call(system.url, `/api/v1/dlq/${items[0]!.seq}/replay`, { token: admin, body: {} });
    expect(replay.status).toBe(202);
    expect(replay.json).toMatchObject({ subject: 'approval.vote.cast', event_id: letter.id });
    // Both answers are what the OpenAPI document says they are.
    const doc = await get('/api/v1/openapi.json');
    type Paths = Record<
      string,
      Record<string, { responses: Record<string, { content: Record<string, { schema: TSchema }> }> }>
    >;
    const documented = (path: string, method: string, status: string) =>
      (doc.json.paths as Paths)[path]![method]!.responses[status]!.content['application/json']!.schema;
    expect(validateSchema(documented('/dlq', 'get', '200'), list.json)).toMatchObject({ ok: true });
    expect(validateSchema(documented('/dlq/{seq}/replay', 'post', '202'), replay.json)).toMatchObject({ ok: true });
  });

  it('serves its OpenAPI document and answers unknown routes with a reason', async () => {
    const doc = await get('/api/v1/openapi.json');
    expect(doc.status).toBe(200);
    expect(doc.json).toMatchObject({ openapi: '3.1.0' });
    expect(Object.keys(doc.json.paths as object)).toEqual(expect.arrayContaining(['/chat', '/incidents/{id}']));
    const none = await get('/api/v1/nothing-here', system.token(['viewer']));
    expect(none.status).toBe(404);
    expect(none.json.message).toContain('no route');
  });
});
