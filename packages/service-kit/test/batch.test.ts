import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DeadLetter, GraceEvent } from '@grace/contracts';
import { jetstream } from '@nats-io/jetstream';
import { startService, type RunningService } from '../src/index.js';
import { ledgerService, type LedgerDb } from './fixtures/ledger-service.js';
import { count, createSandbox, readStream, sampleReported, waitFor, type Sandbox } from './support.js';

describe.each([
  ['per-event handler', 'false'],
  ['whole-batch handler', 'true'],
])('a batched consumer (%s)', (_label, handleBatch) => {
  let sandbox: Sandbox;
  let service: RunningService<LedgerDb, unknown>;

  beforeAll(async () => {
    sandbox = await createSandbox('batch', {
      LEDGER_BATCH: '25',
      CONSUMER_CONCURRENCY: '25',
      MAX_ATTEMPTS: '2',
      LEDGER_HANDLE_BATCH: handleBatch,
    });
    service = (await startService(ledgerService, sandbox.env)) as RunningService<LedgerDb, unknown>;
  });

  afterAll(async () => {
    await service?.stop();
    await sandbox.cleanup();
  });

  it('handles events together in one transaction, and one bad event costs only itself', async () => {
    const good = Array.from({ length: 300 }, (_, i) => sampleReported({ message: `good ${i}` }));
    const poison = sampleReported({ message: 'poison in a batch' });
    const refused = sampleReported({ message: 'refuse in a batch' });
    const js = jetstream(sandbox.nc);
    const subject = `${sandbox.namespace}.error.reported`;
    // Published without awaiting each ack, so they arrive in bursts; every 10th good event twice.
    const acks: Promise<unknown>[] = [];
    good.forEach((e, i) => {
      acks.push(js.publish(subject, JSON.stringify(e)));
      if (i % 10 === 0) acks.push(js.publish(subject, JSON.stringify(e)));
      if (i === 100) acks.push(js.publish(subject, JSON.stringify(poison)));
      if (i === 200) acks.push(js.publish(subject, JSON.stringify(refused)));
    });
    await Promise.all(acks);

    await waitFor('every good event', async () => (await count(sandbox, 'ledger')) === 300, 30_000);
    const letters = await waitFor('two dead letters', async () => {
      const all = (await readStream(sandbox, 'GRACE_DLQ')).map((m) => m.data as DeadLetter);
      return all.length >= 2 ? all : undefined;
    });
    expect(Object.fromEntries(letters.map((l) => [l.event_id, l.reason]))).toEqual({
      [poison.id]: 'retries_exhausted',
      [refused.id]: 'permanent_failure',
    });
    await waitFor('the consumer to settle', async () => {
      const info = await service.consumers[0]!.info();
      return info.pending === 0 && info.ackPending === 0;
    });
    expect(await count(sandbox, 'ledger')).toBe(300);
    // Every message is acked only once what its handler emitted is in JetStream.
    const captured = (await readStream(sandbox, 'GRACE_ERRORS')).filter((m) => m.subject.endsWith('.error.captured'));
    expect(captured).toHaveLength(300);
    expect(new Set(captured.map((m) => (m.data as GraceEvent<'error.captured'>).data.reported_event_id))).toEqual(
      new Set(good.map((e) => e.id)),
    );
    // One inbox row per handled batch, with every event of the batch once.
    const { rows } = await sandbox.pool.query(
      `select count(*)::int as batches, count(distinct e)::int as events, count(e)::int as entries
         from "${sandbox.schema}".inbox, unnest(event_ids) as e`,
    );
    const inbox = rows[0] as { batches: number; events: number; entries: number };
    expect(inbox.events).toBe(inbox.entries);
    expect(inbox.events).toBeGreaterThanOrEqual(300);
    expect(await count(sandbox, 'inbox')).toBeLessThan(150);
  });
});
