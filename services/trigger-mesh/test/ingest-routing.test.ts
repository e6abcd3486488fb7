// The ingest port itself, whatever the format: unknown routes, credentials before the body, and every answer
// counted under its route.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { httpCall, metricSum } from '@grace/service-kit/testing';
import { request as httpRequest } from 'node:http';
import { INGEST_ROUTES } from '../src/ingest/app.js';
import { sha256, startIngest, type IngestService } from './support.js';

const TOKEN = 'routing-ingest-token-0123456789';
const METRIC = 'grace_trigger_mesh_http_requests_total';

describe('trigger-mesh ingest port', () => {
  let ingest: IngestService;
  let service: IngestService['service'];
  let base: string;

  beforeAll(async () => {
    ingest = await startIngest('tmrouting', ['  - name: checkout', `    bearer_sha256: ${sha256(TOKEN)}`]);
    ({ service, base } = ingest);
  });

  afterAll(async () => {
    await ingest?.stop();
  });

  const counted = (labels: Record<string, string>) => metricSum([service], METRIC, labels);

  it('answers an unknown route with JSON 404 listing the routes, and counts it', async () => {
    const before = await counted({ route: 'unknown', status: '404' });
    for (const [method, path] of [
      ['POST', '/ingest/nothing'],
      ['GET', '/ingest/events'],
      ['POST', '/v1/errors'],
    ] as const) {
      const res = await httpCall<{ error: string; message: string }>(base, path, {
        method,
        token: TOKEN,
        ...(method === 'POST' ? { body: {} } : {}),
      });
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.json.error).toBe('not_found');
      expect(res.json.message).toContain(`no ingest route for ${method} ${path}`);
      for (const route of INGEST_ROUTES) for (const p of route.paths) expect(res.json.message).toContain(`POST ${p}`);
    }
    expect((await counted({ route: 'unknown', status: '404' })) - before).toBe(3);
  });

  it('refuses a stranger with 401 before reading the body, however large it is', async () => {
    const before = await counted({ route: 'events', status: '401' });
    // 8 MiB announced and never sent: the answer cannot depend on the body.
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(`${base}/ingest/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': String(8 * 1024 * 1024) },
      });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => {
          req.destroy();
          resolve({ status: res.statusCode ?? 0, body });
        });
      });
      req.on('error', reject);
      req.write('{"service":');
    });
    expect(answer.status).toBe(401);
    expect(JSON.parse(answer.body)).toMatchObject({
      error: 'unauthorized',
      message: 'no credentials: send a bearer token or an HMAC signature',
    });
    // A large body actually sent gets the same answer, not 413.
    const sent = await httpCall(base, '/ingest/events', {
      raw: 'x'.repeat(200_000),
      headers: { 'content-type': 'application/json' },
    });
    expect(sent.status).toBe(401);
    expect((await counted({ route: 'events', status: '401' })) - before).toBe(2);
  });

  it('counts a 413 under its route', async () => {
    const before = await counted({ route: 'events', status: '413' });
    const big = await httpCall(base, '/ingest/events', { token: TOKEN, raw: 'x'.repeat(70_000) });
    expect(big.status).toBe(413);
    expect(big.json).toEqual({ error: 'too_large', message: 'the body is larger than 65536 bytes' });
    expect((await counted({ route: 'events', status: '413' })) - before).toBe(1);
  });
});
