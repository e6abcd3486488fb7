// /ingest/events as producers' own CloudEvents clients call it: the `cloudevents` SDK's HTTP.binary and
// HTTP.structured messages (and its JSON format in a batch), posted over real HTTP to the running service, stored
// on JetStream and captured in Postgres once per event however often it is retried.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { GraceEvent } from '@grace/contracts';
import { count, readStream, waitFor, type Sandbox } from '@grace/service-kit/testing';
import { CloudEvent, HTTP, type Message } from 'cloudevents';
import { graceEventId } from '../src/domain/ids.js';
import { sha256, startIngest, type IngestService } from './support.js';

const TOKEN = 'checkout-cloudevents-token-0123456789';
const OTHER_TOKEN = 'billing-cloudevents-token-0123456789';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

type Answer = { status: number; body: Record<string, unknown> };
type Detail = { path: string; message: string };

describe('trigger-mesh ingest of CloudEvents SDK messages', () => {
  let ingest: IngestService;
  let sandbox: Sandbox;
  let base: string;

  beforeAll(async () => {
    ingest = await startIngest(
      'tmcloudevents',
      [
        '  - name: checkout',
        `    bearer_sha256: ${sha256(TOKEN)}`,
        '  - name: billing',
        `    bearer_sha256: ${sha256(OTHER_TOKEN)}`,
      ],
      { env: { INGEST_MAX_BATCH: '5' } },
    );
    ({ sandbox, base } = ingest);
  });

  afterAll(async () => {
    await ingest?.stop();
  });

  /** An SDK message as its HTTP request, with the Grace bearer token added. */
  const send = async (message: Message, token = TOKEN): Promise<Answer> => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    for (const [name, value] of Object.entries(message.headers)) if (value !== undefined) headers[name] = String(value);
    const res = await fetch(`${base}/ingest/events`, {
      method: 'POST',
      headers,
      body: message.body as string | Uint8Array,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  const report = (kind: string) => ({
    service: 'checkout',
    environment: 'staging',
    kind,
    message: `${kind} happened`,
    severity: 'error',
    occurred_at: '2026-11-25T10:00:00.000Z',
  });

  const errorEvent = (kind: string, extra: Record<string, unknown> = {}) =>
    new CloudEvent({ type: 'error.reported', source: '/checkout/web', id: `${kind}-1`, data: report(kind), ...extra });

  const stored = async (id: string) =>
    (await readStream(sandbox, 'GRACE_REPORTS'))
      .map((m) => m.data as GraceEvent<'error.reported'>)
      .filter((e) => e.id === id);
  const reportedCount = async () => (await readStream(sandbox, 'GRACE_REPORTS')).length;

  /** Once the events are captured and a later, distinct event is too: how often each was captured. */
  const capturedOnce = async (...ids: string[]) => {
    const marker = await send(HTTP.binary(errorEvent(`Marker${Date.now()}`, { id: `marker-${Math.random()}` })));
    expect(marker.status).toBe(202);
    const markerId = (marker.body.event_ids as string[])[0]!;
    for (const id of [...ids, markerId]) {
      await waitFor(
        `the occurrence of ${id}`,
        async () => (await count(sandbox, 'occurrences', `event_id = '${id}'`)) > 0,
      );
    }
    for (const id of ids) {
      expect(await count(sandbox, 'occurrences', `event_id = '${id}'`)).toBe(1);
      expect(await stored(id)).toHaveLength(1);
    }
  };
  const totalCount = async (kind: string) => {
    const { rows } = await sandbox.pool.query(
      `select total_count::int as n from "${sandbox.schema}".captures where kind = $1`,
      [kind],
    );
    return rows.map((r: { n: number }) => r.n);
  };

  it('stores a binary-mode event retried twice once, under a Grace id, keeping source and the original id', async () => {
    const event = errorEvent('BinaryRetry', { tenant: 'acme' });
    const first = await send(HTTP.binary(event));
    const retry = await send(HTTP.binary(event));
    expect(first.status).toBe(202);
    expect(retry).toEqual(first);
    const [id] = first.body.event_ids as string[];
    expect(first.body).toEqual({
      accepted: 1,
      event_ids: [graceEventId('checkout', '/checkout/web', 'BinaryRetry-1')],
    });
    expect(id).toMatch(UUID);
    expect(id).not.toBe(event.id);
    expect((await stored(id!))[0]).toEqual({
      specversion: '1.0',
      id,
      sourceid: 'BinaryRetry-1',
      source: '/checkout/web',
      type: 'error.reported',
      time: event.time,
      datacontenttype: 'application/json',
      tenant: 'acme',
      data: report('BinaryRetry'),
    });
    await capturedOnce(id!);
    expect(await totalCount('BinaryRetry')).toEqual([1]);
  });

  it('stores a structured-mode event with datacontenttype "application/json; charset=utf-8" once, normalised', async () => {
    const event = errorEvent('StructuredRetry', { datacontenttype: 'application/json; charset=utf-8' });
    const message = HTTP.structured(event);
    expect(message.headers['content-type']).toBe('application/cloudevents+json; charset=utf-8');
    const first = await send(message);
    const retry = await send(HTTP.structured(event));
    expect(first.status).toBe(202);
    expect(retry).toEqual(first);
    const [id] = first.body.event_ids as string[];
    expect((await stored(id!))[0]).toMatchObject({
      id,
      sourceid: 'StructuredRetry-1',
      source: '/checkout/web',
      datacontenttype: 'application/json',
      data: report('StructuredRetry'),
    });
    await capturedOnce(id!);
    expect(await totalCount('StructuredRetry')).toEqual([1]);
  });

  it('gives an event sent without time the receive time, in both modes', async () => {
    const binary = HTTP.binary(errorEvent('NoTimeBinary'));
    delete binary.headers['ce-time'];
    const structured = HTTP.structured(errorEvent('NoTimeStructured'));
    const { time: _dropped, ...untimed } = JSON.parse(structured.body as string) as Record<string, unknown>;
    const before = Date.now();
    const answers = [await send(binary), await send({ ...structured, body: JSON.stringify(untimed) })];
    const after = Date.now();
    for (const answer of answers) {
      expect(answer.status).toBe(202);
      const [event] = await stored((answer.body.event_ids as string[])[0]!);
      const time = Date.parse(event!.time);
      expect(time).toBeGreaterThanOrEqual(before - 1);
      expect(time).toBeLessThanOrEqual(after + 1);
    }
  });

  it('keeps two producers that reuse a source and id apart', async () => {
    const event = errorEvent('SharedId');
    const checkout = await send(HTTP.binary(event));
    const billing = await send(HTTP.binary(event), OTHER_TOKEN);
    expect([checkout.status, billing.status]).toEqual([202, 202]);
    const ids = [checkout.body, billing.body].map((b) => (b.event_ids as string[])[0]!);
    expect(ids[0]).not.toBe(ids[1]);
    expect(ids[1]).toBe(graceEventId('billing', '/checkout/web', 'SharedId-1'));
    await capturedOnce(...ids);
    expect(await totalCount('SharedId')).toEqual([2]);
  });

  it('stores a batch of SDK events, retried, once each', async () => {
    const events = [errorEvent('BatchA'), errorEvent('BatchB', { source: '/checkout/api' })];
    const batch: Message = {
      headers: { 'content-type': 'application/cloudevents-batch+json; charset=utf-8' },
      body: JSON.stringify(events),
    };
    const first = await send(batch);
    const retry = await send(batch);
    expect(first.status).toBe(202);
    expect(retry).toEqual(first);
    expect(first.body).toEqual({
      accepted: 2,
      event_ids: [
        graceEventId('checkout', '/checkout/web', 'BatchA-1'),
        graceEventId('checkout', '/checkout/api', 'BatchB-1'),
      ],
    });
    await capturedOnce(...(first.body.event_ids as string[]));
  });

  it('refuses another type with 400 naming it, in every mode, storing nothing', async () => {
    const before = await reportedCount();
    const order = new CloudEvent({ type: 'com.example.order.created', source: '/checkout/web', data: { order: 42 } });
    const binary = await send(HTTP.binary(order));
    expect(binary.status).toBe(400);
    expect(binary.body).toEqual({
      error: 'invalid_request',
      message:
        '1 validation error(s); nothing was accepted: ce-type: type "com.example.order.created" is not accepted: /ingest/events takes error.reported only',
      details: [
        {
          path: 'ce-type',
          message: 'type "com.example.order.created" is not accepted: /ingest/events takes error.reported only',
        },
      ],
    });
    const structured = await send(HTTP.structured(order));
    expect(structured.status).toBe(400);
    expect((structured.body.details as Detail[])[0]!.path).toBe('type');
    const batch = await send({
      headers: { 'content-type': 'application/cloudevents-batch+json' },
      body: JSON.stringify([errorEvent('BatchWithOrder'), order]),
    });
    expect(batch.status).toBe(400);
    expect((batch.body.details as Detail[]).map((d) => d.path)).toEqual(['1.type']);
    expect(await reportedCount()).toBe(before);
  });

  it('refuses data_base64 and binary data with the reason', async () => {
    const bytes = new CloudEvent({
      type: 'error.reported',
      source: '/checkout/web',
      datacontenttype: 'application/octet-stream',
      data: Buffer.from(JSON.stringify(report('Base64'))),
    });
    const structured = await send(HTTP.structured(bytes));
    expect(structured.status).toBe(400);
    expect(structured.body.details).toEqual([
      { path: 'data_base64', message: 'data_base64 is not supported: send data as JSON' },
    ]);
    expect(structured.body.message).toContain('data_base64 is not supported: send data as JSON');
    const binary = await send(HTTP.binary(bytes));
    expect(binary).toEqual({
      status: 415,
      body: {
        error: 'unsupported_media_type',
        message:
          'binary-mode data must be JSON: Content-Type "application/octet-stream" is not application/json, text/json or a +json type',
      },
    });
  });

  it('refuses an unknown specversion clearly, and reads percent-encoded header values', async () => {
    const old = await send(HTTP.binary(errorEvent('OldSpec', { specversion: '0.3' })));
    expect(old.status).toBe(400);
    expect(old.body.details).toEqual([
      { path: 'ce-specversion', message: 'specversion "0.3" is not supported: send CloudEvents 1.0' },
    ]);
    const message = HTTP.binary(errorEvent('Encoded'));
    message.headers['ce-subject'] = 'caf%C3%A9%20au%20lait%20%22100%25%22';
    const answer = await send(message);
    expect(answer.status).toBe(202);
    const [event] = await stored((answer.body.event_ids as string[])[0]!);
    expect(event!.subject).toBe('café au lait "100%"');
    const broken = HTTP.binary(errorEvent('BrokenEncoding'));
    broken.headers['ce-subject'] = '%C0%A0';
    expect((await send(broken)).body.details).toEqual([
      { path: 'ce-subject', message: 'is not valid UTF-8 once percent-decoded' },
    ]);
  });
});
