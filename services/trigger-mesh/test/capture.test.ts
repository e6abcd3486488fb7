import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DeadLetter, GraceEvent } from '@grace/contracts';
import { startService, type RunningService } from '@grace/service-kit';
import {
  count,
  createSandbox,
  publishRaw,
  readStream,
  waitFor,
  type Sandbox,
  sampleReported,
} from '@grace/service-kit/testing';
import { jetstream } from '@nats-io/jetstream';
import { triggerMesh } from '../src/service.js';
import type { Database } from '../src/store.js';

const reported = sampleReported;

describe('trigger-mesh capturing errors from NATS', () => {
  let sandbox: Sandbox;
  let service: RunningService<Database, unknown>;

  beforeAll(async () => {
    sandbox = await createSandbox('tmcapture', { EMIT_INTERVAL_MS: '500', STORM_SERVICE_PER_SECOND: '100000' });
    service = (await startService(triggerMesh, sandbox.env)) as RunningService<Database, unknown>;
  });

  afterAll(async () => {
    await service?.stop();
    await sandbox.cleanup();
  });

  const captured = async (where: (e: GraceEvent<'error.captured'>) => boolean) =>
    (await readStream(sandbox, 'GRACE_ERRORS'))
      .filter((m) => m.subject.endsWith('.error.captured'))
      .map((m) => m.data as GraceEvent<'error.captured'>)
      .filter(where);

  it('turns 1,000 identical errors in a burst into one capture plus bounded count updates, ending at exactly 1,000', async () => {
    const js = jetstream(sandbox.nc);
    const started = Date.now();
    const events = Array.from({ length: 1_000 }, (_, i) =>
      reported({ kind: 'BurstError', message: `pool exhausted after ${i} ms` }),
    );
    await Promise.all(events.map((e) => js.publish(`${sandbox.namespace}.error.reported`, JSON.stringify(e))));

    const last = await waitFor(
      'an announced count of 1,000',
      async () => (await captured((e) => e.data.kind === 'BurstError')).find((e) => e.data.count === 1_000),
      30_000,
    );
    const elapsedIntervals = Math.ceil((Date.now() - started) / 500);
    const all = await captured((e) => e.data.kind === 'BurstError');
    expect(all.filter((e) => !e.data.update)).toHaveLength(1);
    // At most one announcement per interval, plus the first.
    expect(all.length).toBeLessThanOrEqual(elapsedIntervals + 2);
    expect(new Set(all.map((e) => e.data.capture_id)).size).toBe(1);
    expect(last.data).toMatchObject({ total_count: 1_000, update: true, storm: false, service: 'checkout' });
    const { rows } = await sandbox.pool.query(
      `select total_count::int as total, window_count from "${sandbox.schema}".captures where kind = 'BurstError'`,
    );
    expect(rows).toEqual([{ total: 1_000, window_count: 1_000 }]);
    // Counts only grow.
    const counts = all.map((e) => e.data.count);
    expect([...counts].sort((a, b) => a - b)).toEqual(counts);
  });

  it('stores and forwards an AWS key, a JWT and a database password redacted, with three findings that hold no secret', async () => {
    const awsKey = 'AKIAIOSFODNN7EXAMPLE';
    const jwt =
      'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';
    const password = 's3cr3t-Passw0rd';
    const event = reported({
      kind: 'AuthFailure',
      message: `login failed for key ${awsKey} with token ${jwt}`,
      attributes: { db: `postgres://app:${password}@db.internal:5432/orders` },
    });
    await publishRaw(sandbox, 'error.reported', JSON.stringify(event));
    const [capture] = await waitFor('the capture', async () => {
      const found = await captured((e) => e.data.reported_event_id === event.id);
      return found.length ? found : undefined;
    });
    const findings = await waitFor('three findings', async () => {
      const found = (await readStream(sandbox, 'GRACE_ERRORS'))
        .filter((m) => m.subject.endsWith('.security.finding'))
        .map((m) => m.data as GraceEvent<'security.finding'>)
        .filter((f) => f.data.reported_event_id === event.id);
      return found.length >= 3 ? found : undefined;
    });
    expect(findings.map((f) => f.data.kind).sort()).toEqual(['aws_access_key', 'jwt', 'url_password']);
    expect(findings.every((f) => f.data.action === 'redacted' && f.correlationid === event.correlationid)).toBe(true);
    const { rows } = await sandbox.pool.query(
      `select c.message, c.attributes, o.message as occurrence from "${sandbox.schema}".captures c
       join "${sandbox.schema}".occurrences o on o.capture_id = c.id where o.event_id = $1`,
      [event.id],
    );
    const forwarded = JSON.stringify([capture, findings, rows]);
    for (const secret of [awsKey, jwt, password]) expect(forwarded).not.toContain(secret);
    expect(capture!.data.message).toContain('[REDACTED:aws_access_key]');
    expect(capture!.data.message).toContain('[REDACTED:jwt]');
    expect(capture!.data.attributes?.db).toBe('postgres://app:[REDACTED:url_password]@db.internal:5432/orders');
    expect(capture!.data.security_flags.sort()).toEqual(['aws_access_key', 'jwt', 'url_password']);
  });

  it('gives errors that differ only in ids and numbers one fingerprint, and different errors another', async () => {
    const a = reported({ kind: 'Timeout', message: 'request 4411 to 10.1.2.3 timed out after 3000 ms' });
    const b = reported({ kind: 'Timeout', message: 'request 9 to 10.9.9.9 timed out after 15 ms' });
    const c = reported({ kind: 'Timeout', message: 'queue consumer lost its lease' });
    for (const e of [a, b, c]) await publishRaw(sandbox, 'error.reported', JSON.stringify(e));
    await waitFor(
      'three occurrences',
      async () => (await count(sandbox, 'occurrences', "message like '%time%' or message like '%lease%'")) >= 3,
    );
    const { rows } = await sandbox.pool.query(
      `select fingerprint, total_count::int as n from "${sandbox.schema}".captures where kind = 'Timeout' order by n desc`,
    );
    expect(rows.map((r: { n: number }) => r.n)).toEqual([2, 1]);
  });

  it('dead-letters malformed, oversized and wrong-type input from NATS with the reason, without leaking secrets', async () => {
    const wrongType = {
      ...reported(),
      id: 'wrong-type-1',
      data: { ...reported().data, severity: 7, message: 'AKIAIOSFODNN7EXAMPLE' },
    };
    await publishRaw(sandbox, 'error.reported', JSON.stringify(wrongType));
    await publishRaw(sandbox, 'error.reported', '{"specversion": "1.0", broken');
    const big = reported();
    await publishRaw(
      sandbox,
      'error.reported',
      JSON.stringify({ ...big, data: { ...big.data, stack: 'y'.repeat(70_000) } }),
    );
    const letters = await waitFor('three dead letters', async () => {
      const all = (await readStream(sandbox, 'GRACE_DLQ')).map((m) => m.data as DeadLetter);
      return all.length >= 3 ? all : undefined;
    });
    const byReason = Object.fromEntries(letters.map((l) => [l.reason, l]));
    expect(byReason.invalid_event?.errors).toEqual([
      { path: 'data.severity', message: expect.stringContaining('must be one of') },
    ]);
    expect(JSON.stringify(byReason.invalid_event)).not.toContain('AKIAIOSFODNN7EXAMPLE');
    expect(byReason.invalid_json?.message).toMatch(/^payload is not JSON/);
    expect(byReason.oversized?.message).toMatch(/limit is 65536$/);
    // Still serving.
    const after = reported({ kind: 'AfterBadInput' });
    await publishRaw(sandbox, 'error.reported', JSON.stringify(after));
    await waitFor(
      'the next capture',
      async () => (await captured((e) => e.data.reported_event_id === after.id)).length === 1,
    );
  });

  it('answers trigger-mesh.query.captures, newest first, with paging', async () => {
    const first = await service.runtime.request('trigger-mesh.query.captures', { limit: 2 });
    expect(first.items).toHaveLength(2);
    expect(first.next_cursor).toBeDefined();
    const second = await service.runtime.request('trigger-mesh.query.captures', {
      limit: 2,
      cursor: first.next_cursor!,
    });
    const ids = [...first.items, ...second.items].map((i) => i.capture_id);
    expect(new Set(ids).size).toBe(ids.length);
    const times = [...first.items, ...second.items].map((i) => Date.parse(i.last_seen));
    expect([...times].sort((x, y) => y - x)).toEqual(times);
    await expect(
      service.runtime.request('trigger-mesh.query.captures', { cursor: 'not-a-cursor' }),
    ).rejects.toMatchObject({
      code: 'invalid_request',
      message: 'trigger-mesh.query.captures: cursor is not one this service gave out',
    });
    const burst = await service.runtime.request('trigger-mesh.query.captures', { kind: 'BurstError' });
    expect(burst.items).toEqual([expect.objectContaining({ kind: 'BurstError', total_count: 1_000 })]);
  });
});
