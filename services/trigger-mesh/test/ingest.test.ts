import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createEvent, type GraceEvent } from '@grace/contracts';
import { readStream, waitFor, type Sandbox } from '@grace/service-kit/testing';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { signBody } from '../src/ingest/producers.js';
import { sha256, startIngest, type IngestService } from './support.js';

const TOKEN = 'checkout-ingest-token-0123456789';
const HMAC_KEY = 'sentry-relay-hmac-key-abcdef';
const samples = fileURLToPath(new URL('./samples/', import.meta.url));

describe('trigger-mesh HTTP ingest', () => {
  let sandbox: Sandbox;
  let base: string;
  let ingest: IngestService;

  beforeAll(async () => {
    process.env.SENTRY_RELAY_HMAC_KEY = HMAC_KEY;
    ingest = await startIngest(
      'tmingest',
      [
        '  - name: checkout',
        `    bearer_sha256: ${sha256(TOKEN)}`,
        '    service: checkout',
        '  - name: sentry-relay',
        '    hmac_secret_env: SENTRY_RELAY_HMAC_KEY',
        '    service: storefront',
      ],
      { env: { INGEST_MAX_BATCH: '5' } },
    );
    ({ sandbox, base } = ingest);
  });

  afterAll(() => ingest?.stop());

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  const reportedEvents = async () =>
    (await readStream(sandbox, 'GRACE_REPORTS')).map((m) => m.data as GraceEvent<'error.reported'>);
  const capturedFor = (eventId: string) =>
    waitFor(`the capture of ${eventId}`, async () =>
      (await readStream(sandbox, 'GRACE_ERRORS'))
        .map((m) => m.data as GraceEvent<'error.captured'>)
        .find((e) => e.type === 'error.captured' && e.data.reported_event_id === eventId),
    );

  const report = {
    service: 'checkout',
    environment: 'staging',
    kind: 'PaymentDeclined',
    message: 'card processor answered 502',
    severity: 'error' as const,
    occurred_at: '2026-11-25T10:00:00.000Z',
  };

  it('accepts one error.reported body with 202 once JetStream holds it, and captures it', async () => {
    const res = await post('/ingest/events', report);
    expect(res.status).toBe(202);
    const body = (await res.json()) as { accepted: number; event_ids: string[] };
    expect(body.accepted).toBe(1);
    const stored = (await reportedEvents()).find((e) => e.id === body.event_ids[0]);
    expect(stored).toMatchObject({ source: 'ingest/checkout', data: { ...report, origin: 'http' } });
    const captured = await capturedFor(body.event_ids[0]!);
    expect(captured.data).toMatchObject({ service: 'checkout', environment: 'staging', kind: 'PaymentDeclined' });
  });

  it('accepts a batch of CloudEvents and keeps their ids in sourceid (a retried batch is stored once)', async () => {
    const events = [1, 2].map((i) =>
      createEvent('error.reported', { ...report, message: `retry ${i}` }, { source: 'checkout' }),
    );
    let ids: string[] | undefined;
    for (let attempt = 0; attempt < 2; attempt++) {
      const res = await post('/ingest/events', events, { 'content-type': 'application/cloudevents-batch+json' });
      expect(res.status).toBe(202);
      const body = (await res.json()) as { accepted: number; event_ids: string[] };
      expect(body.accepted).toBe(2);
      ids ??= body.event_ids;
      expect(body.event_ids).toEqual(ids);
    }
    const stored = (await reportedEvents()).filter((e) =>
      events.some((x) => x.id === (e as { sourceid?: unknown }).sourceid),
    );
    expect(stored.map((e) => e.id)).toEqual(ids);
  });

  it('refuses a bad batch with 400 and every validation error with its index and path, accepting nothing', async () => {
    const before = (await reportedEvents()).length;
    const res = await post('/ingest/events', [
      report,
      { ...report, severity: 'fatal', service: undefined },
      { nope: 1 },
    ]);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string; details: { path: string; message: string }[] };
    expect(body.error).toBe('invalid_request');
    expect(body.details).toEqual(
      expect.arrayContaining([
        { path: '1.service', message: 'is required' },
        { path: '1.severity', message: expect.stringContaining('must be one of') },
        { path: '2.nope', message: 'is not an allowed property' },
        { path: '2.kind', message: 'is required' },
      ]),
    );
    const tooMany = await post('/ingest/events', Array(6).fill(report));
    expect(tooMany.status).toBe(400);
    expect(((await tooMany.json()) as { message: string }).message).toBe('a batch holds at most 5 events (got 6)');
    expect((await reportedEvents()).length).toBe(before);
  });

  it('answers 400 for a body that is not JSON, 415 for another content type, 413 for one over 64 KiB', async () => {
    const notJson = await post('/ingest/events', '{"service": ');
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toEqual({
      error: 'invalid_request',
      message: expect.stringMatching(/^body is not JSON: /),
    });
    const text = await post('/ingest/events', 'hello', { 'content-type': 'text/plain' });
    expect(text.status).toBe(415);
    const big = await post('/ingest/events', { ...report, message: 'x'.repeat(70_000) });
    expect(big.status).toBe(413);
    expect(await big.json()).toEqual({ error: 'too_large', message: 'the body is larger than 65536 bytes' });
  });

  it('answers 401 without credentials, with an unknown token, or with a bad signature', async () => {
    const none = await fetch(`${base}/ingest/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(report),
    });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toContain('Bearer');
    expect(((await none.json()) as { message: string }).message).toBe(
      'no credentials: send a bearer token or an HMAC signature',
    );
    const wrong = await post('/ingest/events', report, { authorization: 'Bearer not-the-right-token' });
    expect(wrong.status).toBe(401);
    const raw = JSON.stringify(report);
    const forged = await fetch(`${base}/ingest/events`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-grace-producer': 'sentry-relay',
        ...signBody('another-key', raw, Math.floor(Date.now() / 1000)),
      },
      body: raw,
    });
    expect(forged.status).toBe(401);
    expect(((await forged.json()) as { message: string }).message).toBe('bad signature');
  });

  it('maps a Sentry event signed with HMAC to the expected error, service from the producer', async () => {
    const raw = readFileSync(join(samples, 'sentry-event.json'), 'utf8');
    const res = await fetch(`${base}/ingest/sentry`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-grace-producer': 'sentry-relay',
        ...signBody(HMAC_KEY, raw, Math.floor(Date.now() / 1000)),
      },
      body: raw,
    });
    expect(res.status).toBe(202);
    const { event_ids } = (await res.json()) as { event_ids: string[] };
    const stored = (await reportedEvents()).find((e) => e.id === event_ids[0])!;
    const sample = JSON.parse(raw) as { exception: { values: { type: string; value: string }[] }; release?: string };
    const outer = sample.exception.values[sample.exception.values.length - 1]!;
    expect(stored.data).toMatchObject({ kind: outer.type, origin: 'sentry' });
    expect(stored.data.message).toContain(outer.value);
    const captured = await capturedFor(stored.id);
    expect(captured.data.kind).toBe(outer.type);
  });

  it('maps an Alertmanager v4 webhook: one error per firing alert, all of the group under one fingerprint', async () => {
    const payload = JSON.parse(readFileSync(join(samples, 'alertmanager-v4.json'), 'utf8')) as {
      alerts: { status: string; labels: Record<string, string>; fingerprint: string }[];
    };
    const res = await post('/ingest/alertmanager', payload);
    expect(res.status).toBe(202);
    const body = (await res.json()) as { accepted: number; resolved_unknown: number; event_ids: string[] };
    const firing = payload.alerts.filter((a) => a.status === 'firing');
    expect(body.accepted).toBe(firing.length);
    // Resolved alerts this trigger-mesh never saw firing announce nothing.
    expect(body.resolved_unknown).toBe(payload.alerts.length - firing.length);
    const stored = (await reportedEvents()).filter((e) => body.event_ids.includes(e.id));
    expect(stored.map((e) => e.data.kind).sort()).toEqual(firing.map((a) => a.labels.alertname).sort());
    expect(new Set(stored.map((e) => e.data.fingerprint)).size).toBe(1);
    expect(stored[0]!.data.fingerprint).toMatch(/^alertmanager-group:[0-9a-f]{32}$/);
    expect(stored.map((e) => e.data.attributes?.alert_fingerprint).sort()).toEqual(
      firing.map((a) => a.fingerprint).sort(),
    );
    // One capture for the group: whichever report came first opens it, the others count in it.
    const ids = new Set(stored.map((e) => e.id));
    await waitFor('the capture of the group', async () =>
      (await readStream(sandbox, 'GRACE_ERRORS'))
        .map((m) => m.data as GraceEvent<'error.captured'>)
        .find((e) => e.type === 'error.captured' && ids.has(e.data.reported_event_id)),
    );
    const bad = await post('/ingest/alertmanager', { version: '4', alerts: 'none' });
    expect(bad.status).toBe(400);
  });

  it('keeps serving after all of that', async () => {
    const res = await post('/ingest/events', { ...report, message: 'still here' });
    expect(res.status).toBe(202);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
  });
});
