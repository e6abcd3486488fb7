// Tests of the http adapter against a real webhook server on 127.0.0.1: signing, retries, replies, timeouts.
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { remediationExamples } from '@grace/contracts';
import { currentTraceparent, startTracing, withSpan, type Tracing } from '@grace/service-kit';
import { exportSpansTo, spanCollector, SpanKind, SpanStatusCode } from '@grace/service-kit/testing';
import { AdapterError } from './adapter.js';
import { createHttpAdapter, signBody, verifySignature } from './http.js';

const SECRET = 'test-webhook-secret';

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** What the webhook does with the n-th request (0-based) of the current test. */
type Responder = (response: ServerResponse, index: number) => void;

let server: Server;
let baseUrl: string;
let received: Received[] = [];
let respond: Responder = (response) => response.end();

function answer(status: number, body: unknown, headers: Record<string, string> = {}): Responder {
  return (response) => {
    response.writeHead(status, { 'content-type': 'application/json', ...headers });
    response.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
}

beforeAll(async () => {
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      respond(response, received.length - 1);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  received = [];
});

const adapter = createHttpAdapter({ secret: SECRET, retryBaseMs: 1 });
const target = () => ({ service: 'demo', environment: 'local', url: `${baseUrl}/hooks/grace` });
const executeRequest = () => ({ ...remediationExamples.request, target: target() });
const signal = () => new AbortController().signal;

describe('http adapter: execute', () => {
  it('posts a signed request with the idempotency key and returns the reply', async () => {
    respond = answer(200, remediationExamples.reply);
    const reply = await adapter.execute(executeRequest(), signal());
    expect(reply).toEqual(remediationExamples.reply);
    expect(received).toHaveLength(1);
    const { headers, body } = received[0]!;
    expect(headers['idempotency-key']).toBe(remediationExamples.request.idempotency_key);
    expect(headers['x-grace-operation']).toBe('execute');
    expect(headers['content-type']).toBe('application/json');
    const timestamp = String(headers['x-grace-timestamp']);
    expect(verifySignature(SECRET, timestamp, body, headers['x-grace-signature'] as string)).toBe(true);
    expect(JSON.parse(body)).toEqual({ operation: 'execute', ...executeRequest() });
    // Tracing off: no trace context goes out.
    expect(headers.traceparent).toBeUndefined();
  });

  it('sends no signature when the secret is empty', async () => {
    respond = answer(200, remediationExamples.reply);
    await createHttpAdapter({ secret: '' }).execute(executeRequest(), signal());
    expect(received[0]!.headers['x-grace-signature']).toBeUndefined();
  });

  it('retries a 500 and returns the reply of the next try', async () => {
    respond = (response, index) => answer(index === 0 ? 500 : 200, remediationExamples.reply)(response, index);
    const reply = await adapter.execute(executeRequest(), signal());
    expect(reply.status).toBe('succeeded');
    expect(received).toHaveLength(2);
    expect(received[1]!.headers['idempotency-key']).toBe(received[0]!.headers['idempotency-key']);
  });

  it('retries a 429 after its retry-after', async () => {
    respond = (response, index) =>
      index === 0
        ? answer(429, {}, { 'retry-after': '0' })(response, index)
        : answer(200, remediationExamples.reply)(response, index);
    expect((await adapter.execute(executeRequest(), signal())).status).toBe('succeeded');
    expect(received).toHaveLength(2);
  });

  it('fails after 1 + retries tries when the webhook keeps answering 503', async () => {
    respond = answer(503, 'down for maintenance');
    const reply = await createHttpAdapter({ secret: SECRET, retries: 3, retryBaseMs: 1 }).execute(
      executeRequest(),
      signal(),
    );
    expect(received).toHaveLength(4);
    expect(reply.status).toBe('failed');
    expect(reply.actual_state).toEqual({});
    expect(reply.message).toContain('4 tries');
    expect(reply.message).toContain('503: down for maintenance');
  });

  it('fails after the tries when nothing listens', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const request = { ...executeRequest(), target: { ...target(), url: `http://127.0.0.1:${port}/` } };
    const reply = await adapter.execute(request, signal());
    expect(reply.status).toBe('failed');
    expect(reply.message).toMatch(/3 tries; last: .*ECONNREFUSED/);
  });

  it('does not retry a 400 and returns failed with the body', async () => {
    respond = answer(400, { error: 'unknown cache' });
    const reply = await adapter.execute(executeRequest(), signal());
    expect(received).toHaveLength(1);
    expect(reply).toEqual({
      status: 'failed',
      actual_state: {},
      message: 'webhook answered 400: {"error":"unknown cache"}',
    });
  });

  it('rejects a 2xx body that is not a RemediationReply, naming the field', async () => {
    respond = answer(200, { status: 'done' });
    const call = adapter.execute(executeRequest(), signal());
    await expect(call).rejects.toThrow(AdapterError);
    await expect(call).rejects.toThrow(/RemediationReply: .*status: must be one of: "succeeded", "failed"/);
    await expect(call).rejects.toThrow(/actual_state: is required/);
  });

  it('refuses a response larger than 1 MiB', async () => {
    respond = answer(200, { status: 'succeeded', actual_state: { blob: 'x'.repeat(1024 * 1024) } });
    const reply = await adapter.execute(executeRequest(), signal());
    expect(reply.status).toBe('failed');
    expect(reply.message).toContain('larger than 1 MiB');
  });

  it('settles with the timeout error when the webhook hangs past the signal', async () => {
    respond = () => {}; // never answers
    const call = adapter.execute(executeRequest(), AbortSignal.timeout(200));
    await expect(call).rejects.toThrow(new AdapterError('webhook did not answer before the action timeout', true));
    await expect(call).rejects.toMatchObject({ retryable: true });
    expect(received).toHaveLength(1);
  });

  it('never puts the secret in a message', async () => {
    respond = answer(401, 'bad signature');
    const reply = await adapter.execute(executeRequest(), signal());
    expect(reply.message).not.toContain(SECRET);
  });
});

describe('http adapter: snapshot and restore', () => {
  it('snapshot returns the state', async () => {
    respond = answer(200, remediationExamples.snapshotReply);
    const state = await adapter.snapshot({ ...remediationExamples.snapshotRequest, target: target() }, signal());
    expect(state).toEqual(remediationExamples.snapshotReply.state);
    expect(received[0]!.headers['idempotency-key']).toBe('con-1:snapshot');
    expect(JSON.parse(received[0]!.body)).toMatchObject({ operation: 'snapshot' });
  });

  it('snapshot throws a non-retryable AdapterError on a 404', async () => {
    respond = answer(404, 'no such hook');
    const call = adapter.snapshot({ ...remediationExamples.snapshotRequest, target: target() }, signal());
    await expect(call).rejects.toMatchObject({ name: 'AdapterError', retryable: false });
    await expect(call).rejects.toThrow('webhook answered 404: no such hook');
  });

  it('snapshot throws a retryable AdapterError when the tries run out', async () => {
    respond = answer(502, 'bad gateway');
    const call = adapter.snapshot({ ...remediationExamples.snapshotRequest, target: target() }, signal());
    await expect(call).rejects.toMatchObject({ name: 'AdapterError', retryable: true });
    expect(received).toHaveLength(3);
  });

  it('restore returns the restored reply', async () => {
    respond = answer(200, remediationExamples.restoreReply);
    const reply = await adapter.restore({ ...remediationExamples.restoreRequest, target: target() }, signal());
    expect(reply).toEqual(remediationExamples.restoreReply);
    expect(received[0]!.headers['idempotency-key']).toBe('con-1:restore:snap-1');
    expect(received[0]!.headers['x-grace-operation']).toBe('restore');
  });
});

describe('verifySignature', () => {
  const body = '{"operation":"execute"}';
  const now = new Date('2026-01-01T00:00:00Z');
  const timestamp = Math.floor(now.getTime() / 1000);
  const header = signBody(SECRET, timestamp, body);

  it('accepts the signature of the body', () => {
    expect(verifySignature(SECRET, String(timestamp), body, header, { now })).toBe(true);
  });

  it('rejects a tampered body', () => {
    expect(verifySignature(SECRET, timestamp, '{"operation":"restore"}', header, { now })).toBe(false);
  });

  it('rejects a wrong secret', () => {
    expect(verifySignature('another-secret', timestamp, body, header, { now })).toBe(false);
  });

  it('rejects a stale timestamp', () => {
    const later = new Date(now.getTime() + 301_000);
    expect(verifySignature(SECRET, timestamp, body, header, { now: later })).toBe(false);
    expect(verifySignature(SECRET, timestamp, body, header, { now: later, toleranceSeconds: 600 })).toBe(true);
  });

  it('rejects a missing or malformed header', () => {
    expect(verifySignature(SECRET, timestamp, body, undefined, { now })).toBe(false);
    expect(verifySignature(SECRET, timestamp, body, 'sha256=00', { now })).toBe(false);
  });
});

describe('http adapter: describe', () => {
  const plan = { action: 'clear_cache', params: {} };

  it('names the action and the webhook without its query string', () => {
    const description = adapter.describe({
      ...plan,
      target: { ...target(), url: 'https://hooks.example/grace?token=x' },
    });
    expect(description).toBe('POST action clear_cache to webhook https://hooks.example/grace');
  });

  it('rejects a target without an http(s) url', () => {
    expect(() => adapter.describe({ ...plan, target: { service: 'demo', environment: 'local' } })).toThrow(
      AdapterError,
    );
    expect(() => adapter.describe({ ...plan, target: { ...target(), url: 'ftp://hooks.example/' } })).toThrow(
      /needs target.url/,
    );
  });
});

describe('http adapter: traces (tracing on)', () => {
  const collected = spanCollector();
  let tracing: Tracing | undefined;

  beforeAll(async () => {
    exportSpansTo(collected.exporter);
    ({ tracing } = await startTracing('action-executor', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' }));
  });

  afterAll(async () => {
    await tracing?.shutdown();
    exportSpansTo(undefined);
  });

  it('each try is a CLIENT span of the run, and the webhook gets its traceparent', async () => {
    respond = (response, index) => answer(index === 0 ? 500 : 200, remediationExamples.reply)(response, index);
    const run = await withSpan('run clear_cache', {}, async () => {
      await adapter.execute(
        { ...executeRequest(), target: { ...target(), url: `${baseUrl}/hooks/grace?key=k3y` } },
        signal(),
      );
      return currentTraceparent()!;
    });
    const [, traceId, runSpanId] = run.split('-');
    expect(received).toHaveLength(2);
    const clients = collected.spans().filter((s) => s.kind === SpanKind.CLIENT);
    expect(clients).toHaveLength(2);
    for (const [i, span] of clients.entries()) {
      const { spanId } = span.spanContext();
      expect(received[i]!.headers.traceparent).toBe(`00-${traceId}-${spanId}-01`);
      expect(span.parentSpanContext?.spanId).toBe(runSpanId);
      expect(span.name).toBe('POST');
      expect(span.attributes['url.full']).toBe(`${baseUrl}/hooks/grace?key=REDACTED`);
    }
    expect(clients.map((s) => [s.attributes['http.response.status_code'], s.status.code])).toEqual([
      [500, SpanStatusCode.ERROR],
      [200, SpanStatusCode.UNSET],
    ]);
    // The signature still covers the body, and no header value is recorded.
    const { headers, body } = received[1]!;
    expect(
      verifySignature(SECRET, String(headers['x-grace-timestamp']), body, headers['x-grace-signature'] as string),
    ).toBe(true);
    expect(JSON.stringify(clients.map((s) => s.attributes))).not.toMatch(/sha256=|k3y/);
  });
});
