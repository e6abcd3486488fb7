// A Sentry SDK pointed at trigger-mesh: the real @sentry/node in its own process with a DSN of trigger-mesh's,
// then the envelope endpoint's refusals and its dedupe.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { GraceEvent } from '@grace/contracts';
import { startService, type RunningService } from '@grace/service-kit';
import { createSandbox, httpCall, metricSum, readStream, waitFor, type Sandbox } from '@grace/service-kit/testing';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { triggerMesh } from '../src/service.js';
import type { Database } from '../src/store.js';

const KEY = randomBytes(16).toString('hex');
const PROJECT = '42';
const SEND = fileURLToPath(new URL('./sentry/send.mjs', import.meta.url));

describe('a Sentry SDK sending to trigger-mesh', () => {
  let sandbox: Sandbox;
  let service: RunningService<Database, unknown>;
  let base: string;
  const dir = mkdtempSync(join(tmpdir(), 'grace-sentry-'));

  beforeAll(async () => {
    const producers = join(dir, 'producers.yaml');
    writeFileSync(
      producers,
      [
        'producers:',
        '  - name: storefront-sentry',
        `    sentry_key_sha256: ${createHash('sha256').update(KEY).digest('hex')}`,
        '    projects:',
        `      "${PROJECT}": checkout`,
      ].join('\n'),
    );
    sandbox = await createSandbox('tmsentry', { PRODUCERS_FILE: producers });
    service = (await startService(triggerMesh, sandbox.env)) as RunningService<Database, unknown>;
    base = `http://127.0.0.1:${service.httpPort}`;
  });

  afterAll(async () => {
    await service?.stop();
    await sandbox?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const reports = async () =>
    (await readStream(sandbox, 'GRACE_REPORTS')).map((m) => m.data as GraceEvent<'error.reported'>);
  const envelopeUrl = (key = KEY, project = PROJECT) => `/api/${project}/envelope/?sentry_key=${key}&sentry_version=7`;
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

  it('captures an exception from @sentry/node with its frames, release, environment and the project’s service', async () => {
    const dsn = `http://${KEY}@127.0.0.1:${service.httpPort}/${PROJECT}`;
    // Not spawnSync: trigger-mesh runs in this process and must answer the SDK meanwhile.
    const run = await promisify(execFile)(process.execPath, [SEND], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, SENTRY_DSN: dsn, SENTRY_RELEASE: 'checkout@1.4.2', SENTRY_ENVIRONMENT: 'staging' },
    });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout.trim().split('\n').at(-1)!)).toEqual({ flushed: true });
    const report = await waitFor('the SDK’s error', async () =>
      (await reports()).find((e) => e.data.origin === 'sentry' && e.data.message.includes('502 for 42')),
    );
    expect(report.data).toMatchObject({
      service: 'checkout',
      environment: 'staging',
      kind: 'TypeError',
      message: 'card processor answered 502 for 42',
      release: 'checkout@1.4.2',
      severity: 'error',
    });
    const frames = report.data.stack as { function?: string; file?: string; line?: number }[];
    // Innermost last: the function that threw, in the script that ran, with its line.
    expect(frames.at(-1)).toMatchObject({ function: 'chargeCard', file: expect.stringContaining('send.mjs') });
    expect(frames.at(-1)?.line).toBeGreaterThan(0);
    expect(
      await metricSum([service], 'grace_trigger_mesh_http_requests_total', { route: 'sentry-envelope', status: '200' }),
    ).toBeGreaterThanOrEqual(1);
  });

  it('stores an envelope retried (gzip or not) once, and skips and counts items that are not errors', async () => {
    const eventId = randomBytes(16).toString('hex');
    const body = envelope(eventId, [
      ['session', { sid: randomBytes(16).toString('hex'), status: 'ok', started: new Date().toISOString() }],
      ['event', sentryEvent(eventId, `retried ${eventId}`)],
      ['client_report', { timestamp: Date.now() / 1000, discarded_events: [] }],
    ]);
    const skippedBefore = await metricSum([service], 'grace_trigger_mesh_sentry_items_skipped_total', {
      type: 'session',
    });
    const first = await httpCall<{ id: string; event_ids: string[]; skipped: Record<string, number> }>(
      base,
      envelopeUrl(),
      {
        raw: body,
        headers: { 'content-type': 'application/x-sentry-envelope' },
      },
    );
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ id: eventId, accepted: 1, skipped: { session: 1, client_report: 1 } });
    const again = await httpCall<{ event_ids: string[] }>(base, envelopeUrl(), {
      raw: gzipSync(body),
      headers: { 'content-encoding': 'gzip' },
    });
    expect(again.status).toBe(200);
    expect(again.json.event_ids).toEqual(first.json.event_ids);
    // A later, distinct event is the signal that the retry has been through: the stream holds the first once.
    const later = randomBytes(16).toString('hex');
    await httpCall(base, envelopeUrl(), { raw: envelope(later, [['event', sentryEvent(later, `later ${later}`)]]) });
    await waitFor('the later event', async () => (await reports()).some((e) => e.data.message === `later ${later}`));
    expect((await reports()).filter((e) => e.data.message === `retried ${eventId}`)).toHaveLength(1);
    expect(
      (await metricSum([service], 'grace_trigger_mesh_sentry_items_skipped_total', { type: 'session' })) -
        skippedBefore,
    ).toBe(2);
  });

  it('refuses a bad key, a key of another project, a broken envelope and an oversized item, with the reason', async () => {
    const eventId = randomBytes(16).toString('hex');
    const good = envelope(eventId, [['event', sentryEvent(eventId, 'never stored')]]);
    const bad = await httpCall<{ message: string }>(base, envelopeUrl(randomBytes(16).toString('hex')), { raw: good });
    expect(bad.status).toBe(401);
    expect(bad.json.message).toBe('unknown Sentry key (the public key of the DSN)');
    const none = await httpCall<{ message: string }>(base, `/api/${PROJECT}/envelope/`, { raw: good });
    expect(none.status).toBe(401);
    expect(none.json.message).toMatch(/^no Sentry key/);
    const other = await httpCall<{ message: string }>(base, envelopeUrl(KEY, '7'), { raw: good });
    expect(other.status).toBe(401);
    expect(other.json.message).toBe('the Sentry key of storefront-sentry is not for project 7');
    // The store endpoint takes the key in X-Sentry-Auth, as older clients send it.
    const stored = await httpCall<{ id: string }>(base, `/api/${PROJECT}/store/`, {
      raw: JSON.stringify(sentryEvent(randomBytes(16).toString('hex'), 'via store')),
      headers: { 'x-sentry-auth': `Sentry sentry_version=7, sentry_client=test/1.0, sentry_key=${KEY}` },
    });
    expect(stored.status).toBe(200);

    const broken = await httpCall<{ message: string }>(base, envelopeUrl(), {
      raw: `${JSON.stringify({ event_id: eventId })}\n${JSON.stringify({ type: 'event', length: 10_000 })}\n{}`,
    });
    expect(broken.status).toBe(400);
    expect(broken.json.message).toBe(
      'broken envelope: item 1 (event): length 10000 runs past the end of the envelope (2 bytes left)',
    );
    const notJson = await httpCall<{ message: string }>(base, envelopeUrl(), { raw: 'not json\n' });
    expect(notJson.status).toBe(400);
    expect(notJson.json.message).toMatch(/^broken envelope: the envelope header \(line 1\) is not JSON/);
    const huge = await httpCall<{ message: string }>(base, envelopeUrl(), {
      raw: envelope(eventId, [['event', sentryEvent(eventId, 'x'.repeat(70_000))]]),
    });
    expect(huge.status).toBe(413);
    expect(huge.json.message).toBe('item 1 (event) is larger than 65536 bytes');
    expect((await reports()).some((e) => e.data.message === 'never stored')).toBe(false);
  });
});
