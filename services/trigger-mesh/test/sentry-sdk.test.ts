// A Sentry SDK pointed at trigger-mesh: the real @sentry/node in its own process with a DSN of trigger-mesh's
// (through a recording pass-through, to see what the SDK sent and was answered), then the envelope endpoint's
// refusals, its dedupe, and its 503 while NATS is down.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { GraceEvent } from '@grace/contracts';
import type { RunningService } from '@grace/service-kit';
import {
  httpCall,
  metricSum,
  readStream,
  startNatsServer,
  waitFor,
  type OwnNatsServer,
  type Sandbox,
} from '@grace/service-kit/testing';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import type { Database } from '../src/store.js';
import { sha256, startIngest, type IngestService } from './support.js';

const KEY = randomBytes(16).toString('hex');
const PROJECT = '42';
const SEND = fileURLToPath(new URL('./sentry/send.mjs', import.meta.url));
const MAX_REQUEST_BYTES = 256 * 1024;
const SKIPPED = 'grace_trigger_mesh_sentry_items_skipped_total';

const PRODUCERS = [
  '  - name: storefront-sentry',
  `    sentry_key_sha256: ${sha256(KEY)}`,
  '    projects:',
  `      "${PROJECT}": checkout`,
];

const envelope = (eventId: string, items: [string, unknown][]) =>
  `${[JSON.stringify({ event_id: eventId }), ...items.flatMap(([type, payload]) => [JSON.stringify({ type }), JSON.stringify(payload)])].join('\n')}\n`;
const sentryEvent = (eventId: string, message: string) => ({
  event_id: eventId,
  level: 'error',
  platform: 'node',
  timestamp: Date.now() / 1000,
  environment: 'staging',
  exception: { values: [{ type: 'PaymentTimeout', value: message }] },
});
const envelopeUrl = (key = KEY, project = PROJECT) => `/api/${project}/envelope/?sentry_key=${key}&sentry_version=7`;

interface Seen {
  path: string;
  headers: IncomingHttpHeaders;
  status: number;
  answer: Record<string, unknown>;
}

/** A pass-through to trigger-mesh that records each request's path and headers and the answer. */
async function recordingProxy(target: number): Promise<{ port: number; seen: Seen[]; server: Server }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const out = request(
        { host: '127.0.0.1', port: target, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          const back: Buffer[] = [];
          answer.on('data', (c: Buffer) => back.push(c));
          answer.on('end', () => {
            const text = Buffer.concat(back).toString('utf8');
            seen.push({
              path: req.url ?? '',
              headers: req.headers,
              status: answer.statusCode ?? 0,
              answer: JSON.parse(text) as Record<string, unknown>,
            });
            res.writeHead(answer.statusCode ?? 502, answer.headers).end(text);
          });
        },
      );
      out.on('error', (err) => res.writeHead(502).end(String(err)));
      out.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, seen, server };
}

describe('a Sentry SDK sending to trigger-mesh', () => {
  let ingest: IngestService;
  let sandbox: Sandbox;
  let service: RunningService<Database, unknown>;
  let base: string;

  beforeAll(async () => {
    ingest = await startIngest('tmsentry', PRODUCERS, {
      env: { INGEST_MAX_REQUEST_BYTES: String(MAX_REQUEST_BYTES) },
    });
    ({ sandbox, service, base } = ingest);
  });

  afterAll(() => ingest?.stop());

  const reports = async () =>
    (await readStream(sandbox, 'GRACE_REPORTS')).map((m) => m.data as GraceEvent<'error.reported'>);
  const skippedCount = (type: string) => metricSum([service], SKIPPED, { type });

  it('captures exceptions from @sentry/node with their frames, release, environment and the project’s service; gzip, attachments and sessions too', async () => {
    const proxy = await recordingProxy(service.httpPort);
    const sessionsBefore = await skippedCount('session');
    try {
      const dsn = `http://${KEY}@127.0.0.1:${proxy.port}/${PROJECT}`;
      // Not spawnSync: trigger-mesh runs in this process and must answer the SDK meanwhile.
      const run = await promisify(execFile)(process.execPath, [SEND], {
        encoding: 'utf8',
        timeout: 30_000,
        env: { ...process.env, SENTRY_DSN: dsn, SENTRY_RELEASE: 'checkout@1.4.2', SENTRY_ENVIRONMENT: 'staging' },
      });
      expect(run.stderr).toBe('');
      expect(JSON.parse(run.stdout.trim().split('\n').at(-1)!)).toEqual({ flushed: true });
    } finally {
      await new Promise((resolve) => proxy.server.close(resolve));
    }

    // What the SDK sent: envelopes keyed in the query alone (no content type, no auth header), each answered 200.
    for (const { path, headers, status } of proxy.seen) {
      const url = new URL(path, 'http://x');
      expect(url.pathname).toBe(`/api/${PROJECT}/envelope/`);
      expect(Object.fromEntries(url.searchParams)).toMatchObject({ sentry_key: KEY, sentry_version: '7' });
      expect(headers.authorization).toBeUndefined();
      expect(headers['x-sentry-auth']).toBeUndefined();
      expect(status).toBe(200);
    }
    // Two with an event each, answered with its Sentry id: one beside its attachment, one gzipped.
    expect(proxy.seen.filter((s) => s.answer.accepted === 1)).toHaveLength(2);
    const [withAttachment, gzipped] = [
      proxy.seen.filter((s) => s.answer.accepted === 1 && !s.headers['content-encoding']),
      proxy.seen.filter((s) => s.answer.accepted === 1 && s.headers['content-encoding'] === 'gzip'),
    ].map((found) => {
      expect(found).toHaveLength(1);
      return found[0]!.answer;
    });
    expect(withAttachment).toMatchObject({ id: expect.stringMatching(/^[0-9a-f]{32}$/), skipped: { attachment: 1 } });
    expect(gzipped).toMatchObject({ id: expect.stringMatching(/^[0-9a-f]{32}$/), skipped: {} });
    // The rest are sessions (the SDK sends one as it starts and one as it ends), skipped and counted.
    const sessions = proxy.seen.filter((s) => s.answer.accepted !== 1);
    expect(sessions.length).toBeGreaterThanOrEqual(1);
    for (const s of sessions) expect(s.answer).toEqual({ accepted: 0, event_ids: [], skipped: { session: 1 } });
    expect((await skippedCount('session')) - sessionsBefore).toBe(sessions.length);

    // What trigger-mesh made of it: error.reported with everything the SDK knew.
    const charged = await waitFor('the SDK’s TypeError', async () =>
      (await reports()).find((e) => e.data.origin === 'sentry' && e.data.message.includes('502 for 42')),
    );
    expect(charged.data).toMatchObject({
      service: 'checkout',
      environment: 'staging',
      kind: 'TypeError',
      message: 'card processor answered 502 for 42',
      release: 'checkout@1.4.2',
      severity: 'error',
      attributes: expect.objectContaining({ sentry_event_id: withAttachment!.id, platform: 'node' }),
    });
    expect(charged.id).toBe((withAttachment!.event_ids as string[])[0]);
    const frames = charged.data.stack as { function?: string; file?: string; line?: number }[];
    // Innermost last: the function that threw, in the script that ran, with its line.
    expect(frames.at(-1)).toMatchObject({ function: 'chargeCard', file: expect.stringContaining('send.mjs') });
    expect(frames.at(-1)?.line).toBeGreaterThan(0);

    const priced = await waitFor('the SDK’s gzipped RangeError', async () =>
      (await reports()).find((e) => e.data.message === 'cart of 4000 lines is too large to price'),
    );
    expect(priced.data).toMatchObject({ service: 'checkout', kind: 'RangeError', release: 'checkout@1.4.2' });
    expect(priced.id).toBe((gzipped!.event_ids as string[])[0]);
    expect((priced.data.stack as { function?: string }[]).at(-1)).toMatchObject({ function: 'priceCart' });
    expect(
      await metricSum([service], 'grace_trigger_mesh_http_requests_total', { route: 'sentry-envelope', status: '200' }),
    ).toBeGreaterThanOrEqual(3);
  });

  it('stores an envelope retried (gzip or not, its id with or without dashes) once, and skips and counts items that are not errors', async () => {
    const eventId = randomBytes(16).toString('hex');
    const body = envelope(eventId, [
      ['session', { sid: randomBytes(16).toString('hex'), status: 'ok', started: new Date().toISOString() }],
      ['event', sentryEvent(eventId, `retried ${eventId}`)],
      ['client_report', { timestamp: Date.now() / 1000, discarded_events: [] }],
      ['made_up_item', {}],
    ]);
    const before = { session: await skippedCount('session'), other: await skippedCount('other') };
    const first = await httpCall<{ id: string; event_ids: string[]; skipped: Record<string, number> }>(
      base,
      envelopeUrl(),
      { raw: body, headers: { 'content-type': 'application/x-sentry-envelope' } },
    );
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ id: eventId, accepted: 1 });
    // Unknown item types are counted as `other`: a sender cannot grow the metric's labels.
    expect(first.json.skipped).toEqual({ session: 1, client_report: 1, other: 1 });
    const again = await httpCall<{ event_ids: string[] }>(base, envelopeUrl(), {
      raw: gzipSync(body),
      headers: { 'content-encoding': 'gzip' },
    });
    expect(again.status).toBe(200);
    expect(again.json.event_ids).toEqual(first.json.event_ids);
    const dashed = eventId.replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-');
    const asUuid = await httpCall<{ event_ids: string[] }>(base, envelopeUrl(), {
      raw: envelope(dashed, [['event', sentryEvent(dashed, `retried ${eventId}`)]]),
    });
    expect(asUuid.status).toBe(200);
    expect(asUuid.json.event_ids).toEqual(first.json.event_ids);
    // A later, distinct event is the signal that the retries have been through: the stream holds the first once.
    const later = randomBytes(16).toString('hex');
    await httpCall(base, envelopeUrl(), { raw: envelope(later, [['event', sentryEvent(later, `later ${later}`)]]) });
    await waitFor('the later event', async () => (await reports()).some((e) => e.data.message === `later ${later}`));
    expect((await reports()).filter((e) => e.data.message === `retried ${eventId}`)).toHaveLength(1);
    expect((await skippedCount('session')) - before.session).toBe(2);
    expect((await skippedCount('other')) - before.other).toBe(2);
  });

  it('takes the store endpoint’s event with X-Sentry-Auth, and the envelope’s event id for an item without one', async () => {
    const storeId = randomBytes(16).toString('hex');
    for (const path of [`/api/${PROJECT}/store/`, `/api/${PROJECT}/store`]) {
      const stored = await httpCall<{ id: string; accepted: number }>(base, path, {
        raw: JSON.stringify(sentryEvent(storeId, `via store ${storeId}`)),
        headers: { 'x-sentry-auth': `Sentry sentry_version=7, sentry_client=raven-node/2.6.4, sentry_key=${KEY}` },
      });
      expect(stored.status).toBe(200);
      expect(stored.json).toMatchObject({ id: storeId, accepted: 1 });
    }
    const headerId = randomBytes(16).toString('hex');
    const { event_id: _dropped, ...withoutId } = sentryEvent(headerId, `header id ${headerId}`);
    const answered = await httpCall<{ event_ids: string[] }>(base, `/api/${PROJECT}/envelope`, {
      raw: envelope(headerId, [['event', withoutId]]),
      headers: { 'x-sentry-auth': `Sentry sentry_key=${KEY}, sentry_version=7` },
    });
    expect(answered.status).toBe(200);
    const report = await waitFor('the event named by its envelope', async () =>
      (await reports()).find((e) => e.data.message === `header id ${headerId}`),
    );
    expect(report.id).toBe(answered.json.event_ids[0]);
    expect(report.data.attributes).toMatchObject({ sentry_event_id: headerId });
    await waitFor('the stored event', async () =>
      (await reports()).some((e) => e.data.message === `via store ${storeId}`),
    );
    expect((await reports()).filter((e) => e.data.message === `via store ${storeId}`)).toHaveLength(1);
  });

  it('refuses a bad key, a key of another project, a broken envelope and an oversized one, with the reason', async () => {
    const eventId = randomBytes(16).toString('hex');
    const good = envelope(eventId, [['event', sentryEvent(eventId, 'never stored')]]);
    const bad = await httpCall<{ message: string }>(base, envelopeUrl(randomBytes(16).toString('hex')), { raw: good });
    expect(bad.status).toBe(401);
    expect(bad.json.message).toBe('unknown Sentry key (the public key of the DSN)');
    expect(bad.headers.get('www-authenticate')).toBe('Sentry realm="grace-ingest"');
    const none = await httpCall<{ message: string }>(base, `/api/${PROJECT}/envelope/`, { raw: good });
    expect(none.status).toBe(401);
    expect(none.json.message).toBe("no Sentry key: send the DSN's public key as sentry_key or in X-Sentry-Auth");
    const other = await httpCall<{ message: string }>(base, envelopeUrl(KEY, '7'), { raw: good });
    expect(other.status).toBe(401);
    expect(other.json.message).toBe('the Sentry key of storefront-sentry is not for project 7');

    const broken = async (raw: string | Buffer) => {
      const res = await httpCall<{ error: string; message: string; details?: { path: string }[] }>(
        base,
        envelopeUrl(),
        { raw },
      );
      expect(res.status).toBe(400);
      expect(res.json.error).toBe('invalid_request');
      return res.json;
    };
    expect((await broken('not json\n')).message).toMatch(
      /^broken envelope: the envelope header \(line 1\) is not JSON/,
    );
    expect(
      (
        await broken(
          `${JSON.stringify({ event_id: eventId })}\n${JSON.stringify({ type: 'event', length: 10_000 })}\n{}`,
        )
      ).message,
    ).toBe('broken envelope: item 1 (event): length 10000 runs past the end of the envelope (2 bytes left)');
    expect((await broken(`{}\n${JSON.stringify({ type: 'attachment', length: 2 })}\nabc\n`)).message).toBe(
      'broken envelope: item 1 (attachment): its 2 bytes are not followed by a newline',
    );
    expect((await broken(`{}\n{"length":2}\nab\n`)).message).toBe('broken envelope: the header of item 1 has no type');
    expect((await broken(`{}\n{"type":"session"}\n{}\n{"type":"event"}\n{"oops"\n`)).message).toMatch(
      /^broken envelope: item 2 \(event\) is not JSON: /,
    );
    const invalid = await broken(envelope(eventId, [['event', { event_id: eventId, level: 'loud' }]]));
    expect(invalid.message).toBe('item 1 (event) is not a Sentry event');
    expect(invalid.details?.map((d) => d.path)).toEqual(expect.arrayContaining(['timestamp', 'level']));

    const huge = await httpCall<{ message: string }>(base, envelopeUrl(), {
      raw: envelope(eventId, [
        ['session', { status: 'ok' }],
        ['event', sentryEvent(eventId, 'x'.repeat(70_000))],
      ]),
    });
    expect(huge.status).toBe(413);
    expect(huge.json.message).toBe('item 2 (event) is larger than 65536 bytes');
    const whole = await httpCall<{ message: string }>(base, envelopeUrl(), {
      raw: gzipSync(`{}\n{"type":"attachment"}\n${'x'.repeat(MAX_REQUEST_BYTES)}\n`),
      headers: { 'content-encoding': 'gzip' },
    });
    expect(whole.status).toBe(413);
    expect(whole.json.message).toBe(`the body is larger than ${MAX_REQUEST_BYTES} bytes`);
    expect(
      await metricSum([service], 'grace_trigger_mesh_http_requests_total', { route: 'sentry-envelope', status: '413' }),
    ).toBe(2);
    // The later store of a good event is the signal that everything before it has been handled.
    const marker = randomBytes(16).toString('hex');
    await httpCall(base, envelopeUrl(), {
      raw: envelope(marker, [['event', sentryEvent(marker, `marker ${marker}`)]]),
    });
    await waitFor('the marker', async () => (await reports()).some((e) => e.data.message === `marker ${marker}`));
    expect((await reports()).some((e) => e.data.message === 'never stored')).toBe(false);
  });
});

// This one owns its NATS server so it can take it away from a running trigger-mesh.
describe('a Sentry SDK sending while NATS is down', () => {
  let nats: OwnNatsServer;
  let ingest: IngestService;

  beforeAll(async () => {
    nats = await startNatsServer();
    ingest = await startIngest('tmsentryout', PRODUCERS, {
      env: { REQUEST_TIMEOUT_MS: '1000' },
      serviceEnv: { NATS_URL: nats.url },
    });
  });

  afterAll(async () => {
    await ingest?.stop();
    await nats?.destroy();
  });

  it('answers 503 with Retry-After and X-Sentry-Rate-Limits, which the SDKs back off by', async () => {
    const { base } = ingest;
    const post = () => {
      const id = randomBytes(16).toString('hex');
      return httpCall<{ message: string }>(base, envelopeUrl(), {
        raw: envelope(id, [['event', sentryEvent(id, `outage ${id}`)]]),
      });
    };
    expect((await post()).status).toBe(200);
    await nats.stop();
    try {
      const down = await post();
      expect(down.status).toBe(503);
      expect(down.headers.get('retry-after')).toBe('5');
      expect(down.headers.get('x-sentry-rate-limits')).toBe('5::organization');
      expect(down.json.message).toMatch(/^the event bus did not accept the events .*; retry later$/);
    } finally {
      await nats.start();
    }
  });
});
