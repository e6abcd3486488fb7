// Tests of the http check against a real server on 127.0.0.1.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runHttpCheck, type HttpCheck } from './http-check.js';

let server: Server;
let base: string;

function listen(target: Server): Promise<number> {
  return new Promise((resolve) => target.listen(0, '127.0.0.1', () => resolve((target.address() as AddressInfo).port)));
}

beforeAll(async () => {
  server = createServer((request, response) => {
    const json = (status: number, body: unknown): void => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    switch (request.url) {
      case '/health':
        return json(200, { status: 'ok', pool: { healthy: true } });
      case '/down':
        return json(503, { status: 'down' });
      case '/slow':
        setTimeout(() => json(200, { status: 'ok' }), 150);
        return;
      case '/text':
        response.writeHead(200, { 'content-type': 'text/plain' });
        response.end('all good');
        return;
      case '/moved':
        response.writeHead(302, { location: '/health' });
        response.end();
        return;
      case '/big':
        return json(200, { padding: 'x'.repeat(2 * 1024 * 1024) });
      case '/hang':
        return; // never answers
      default:
        return json(404, {});
    }
  });
  base = `http://127.0.0.1:${await listen(server)}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function check(path: string, extra: Partial<HttpCheck> = {}): HttpCheck {
  return { kind: 'http', name: 'health', url: `${base}${path}`, expect_status: 200, ...extra };
}

describe('runHttpCheck', () => {
  it('passes on the expected status and fields, observing status and latency', async () => {
    const result = await runHttpCheck(check('/health', { expect_json: { status: 'ok', 'pool.healthy': true } }), 5000);
    expect(result).toMatchObject({ name: 'health', kind: 'http', status: 'passed' });
    expect(result.reason).toMatch(/^200 in \d+ ms$/);
    expect(result.observed).toEqual({ status: 200, latency_ms: expect.any(Number) });
    expect(result.fields?.every((f) => f.matched)).toBe(true);
    expect(Number.isInteger(result.duration_ms)).toBe(true);
  });

  it('fails on a wrong status', async () => {
    const result = await runHttpCheck(check('/down', { expect_json: { status: 'ok' } }), 5000);
    expect(result).toMatchObject({ status: 'failed', reason: 'expected 200, got 503' });
    expect(result.observed).toMatchObject({ status: 503 });
  });

  it('does not follow redirects', async () => {
    expect(await runHttpCheck(check('/moved'), 5000)).toMatchObject({
      status: 'failed',
      reason: 'expected 200, got 302',
    });
    expect(await runHttpCheck(check('/moved', { expect_status: 302 }), 5000)).toMatchObject({ status: 'passed' });
  });

  it('fails when the answer is slower than max_latency_ms', async () => {
    const result = await runHttpCheck(check('/slow', { max_latency_ms: 1 }), 5000);
    expect(result.status).toBe('failed');
    expect(result.reason).toContain('1 ms ceiling');
  });

  it('fails when a JSON field differs, naming it', async () => {
    const result = await runHttpCheck(check('/health', { expect_json: { 'pool.healthy': false } }), 5000);
    expect(result).toMatchObject({ status: 'failed', reason: 'pool.healthy is true (expected false)' });
    expect(result.fields).toEqual([{ field: 'pool.healthy', expected: false, actual: true, matched: false }]);
  });

  it('fails when JSON fields are expected from a body that is not JSON', async () => {
    const result = await runHttpCheck(check('/text', { expect_json: { status: 'ok' } }), 5000);
    expect(result).toMatchObject({ status: 'failed', reason: 'body is not JSON, JSON fields not compared' });
  });

  it('does not read a body beyond 1 MiB', async () => {
    const result = await runHttpCheck(check('/big', { expect_json: { padding: '' } }), 5000);
    expect(result).toMatchObject({
      status: 'failed',
      reason: 'body larger than 1048576 bytes, JSON fields not compared',
    });
  });

  it('is an error when the server does not answer in time', async () => {
    const result = await runHttpCheck(check('/hang'), 200);
    expect(result).toMatchObject({ status: 'error', reason: 'no answer within 200 ms' });
    expect(result.observed).toBeUndefined();
  });

  it('is an error when the connection is refused', async () => {
    const closed = createServer();
    const port = await listen(closed);
    await new Promise((resolve) => closed.close(resolve));
    const result = await runHttpCheck({ ...check('/health'), url: `http://127.0.0.1:${port}/health` }, 5000);
    expect(result).toMatchObject({ status: 'error', reason: `connection refused: 127.0.0.1:${port}` });
  });
});
