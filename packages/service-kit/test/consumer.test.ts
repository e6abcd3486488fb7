import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { validateDeadLetter, type GraceEvent } from '@grace/contracts';
import { startService, type RunningService } from '../src/index.js';
import { ledgerService, type LedgerDb } from './fixtures/ledger-service.js';
import { count, createSandbox, publishRaw, readStream, sampleReported, waitFor, type Sandbox } from './support.js';

describe('consumer runner', () => {
  let sandbox: Sandbox;
  let service: RunningService<LedgerDb, unknown>;

  beforeAll(async () => {
    sandbox = await createSandbox('consumer', { MAX_ATTEMPTS: '3', MAX_EVENT_BYTES: '4096' });
    service = (await startService(ledgerService, sandbox.env)) as RunningService<LedgerDb, unknown>;
  });

  afterAll(async () => {
    await service?.stop();
    await sandbox.cleanup();
  });

  const deadLetters = async () =>
    (await readStream(sandbox, 'GRACE_DLQ').catch(() => [])).map((m) => {
      const checked = validateDeadLetter(m.data);
      if (!checked.ok) throw new Error(`dead letter breaks its contract: ${JSON.stringify(checked.errors)}`);
      return { subject: m.subject, letter: checked.value };
    });
  const letterFor = (eventId: string) => async () => (await deadLetters()).find((d) => d.letter.event_id === eventId);

  it('handles an event once: state and inbox (with what it emitted) commit together, then the emitted event is published', async () => {
    const event = sampleReported({ message: 'first' });
    await publishRaw(sandbox, 'error.reported', JSON.stringify(event));
    await waitFor('the ledger row', async () => (await count(sandbox, 'ledger', `event_id = '${event.id}'`)) === 1);
    const captured = await waitFor('the emitted error.captured', async () =>
      (await readStream(sandbox, 'GRACE_ERRORS')).find(
        (m) =>
          m.subject.endsWith('.error.captured') &&
          (m.data as GraceEvent<'error.captured'>).data.reported_event_id === event.id,
      ),
    );
    const out = captured.data as GraceEvent<'error.captured'>;
    expect(out.correlationid).toBe(event.correlationid);
    expect(out.source).toBe('grace/ledger');
    expect(out.traceparent?.split('-')[1]).toBe(event.traceparent?.split('-')[1]);
    expect(await count(sandbox, 'inbox', `'${event.id}' = any(event_ids)`)).toBe(1);
    // What a handler emits is published from the inbox record after the commit: no outbox row.
    expect(await count(sandbox, 'outbox')).toBe(0);
  });

  it('publishes what a committed handler emitted when its message comes back after a failed publish', async () => {
    const stream = `${sandbox.namespace}_GRACE_ERRORS`;
    const { config } = await sandbox.jsm.streams.info(stream);
    // The stream stops taking error.captured: the handler commits, its publish fails, the message is nak'ed.
    await sandbox.jsm.streams.update(stream, { subjects: [`${sandbox.namespace}.security.>`] });
    const event = sampleReported({ message: 'published on redelivery' });
    try {
      await publishRaw(sandbox, 'error.reported', JSON.stringify(event));
      await waitFor('the ledger row', async () => (await count(sandbox, 'ledger', `event_id = '${event.id}'`)) === 1);
      await waitFor('a redelivery', async () => {
        const metrics = await service.runtime.metrics.registry.getSingleMetricAsString('grace_events_handled_total');
        return /outcome="ok"/.test(metrics) && (await service.consumers[0]!.info()).ackPending > 0;
      });
    } finally {
      await sandbox.jsm.streams.update(stream, { subjects: config.subjects });
    }
    const captured = async () =>
      (await readStream(sandbox, 'GRACE_ERRORS')).filter(
        (m) =>
          m.subject.endsWith('.error.captured') &&
          (m.data as GraceEvent<'error.captured'>).data.reported_event_id === event.id,
      );
    await waitFor(
      'the emitted event, published by the redelivery',
      async () => (await captured()).length === 1,
      20_000,
    );
    await waitFor('the message acknowledged', async () => (await service.consumers[0]!.info()).ackPending === 0);
    expect(await captured()).toHaveLength(1);
    expect(await count(sandbox, 'ledger', `event_id = '${event.id}'`)).toBe(1);
  });

  it('treats a redelivered event (same event id again) as a no-op through the inbox', async () => {
    const event = sampleReported({ message: 'delivered twice' });
    // Two stream messages with one event id: what a redelivery after a lost ack looks like to the handler.
    await publishRaw(sandbox, 'error.reported', JSON.stringify(event), 'copy-1');
    await publishRaw(sandbox, 'error.reported', JSON.stringify(event), 'copy-2');
    await waitFor('both copies to be acknowledged', async () => {
      const info = await service.consumers[0]!.info();
      return info.pending === 0 && info.ackPending === 0;
    });
    expect(await count(sandbox, 'ledger', `event_id = '${event.id}'`)).toBe(1);
    const emitted = (await readStream(sandbox, 'GRACE_ERRORS')).filter(
      (m) =>
        m.subject.endsWith('.error.captured') &&
        (m.data as GraceEvent<'error.captured'>).data.reported_event_id === event.id,
    );
    expect(emitted).toHaveLength(1);
    const metrics = await service.runtime.metrics.registry.getSingleMetricAsString('grace_events_handled_total');
    expect(metrics).toMatch(/outcome="duplicate"[^\n]* [1-9]/);
  });

  it('dead-letters an event whose handler always fails after MAX_ATTEMPTS, with the reason, and keeps going', async () => {
    const poison = sampleReported({ message: 'poison pill' });
    const after = sampleReported({ message: 'after the poison' });
    await publishRaw(sandbox, 'error.reported', JSON.stringify(poison));
    await publishRaw(sandbox, 'error.reported', JSON.stringify(after));
    const dead = await waitFor('the dead letter', letterFor(poison.id));
    expect(dead.subject).toBe(`${sandbox.namespace}.dlq.error.reported`);
    expect(dead.letter).toMatchObject({
      reason: 'retries_exhausted',
      deliveries: 3,
      subject: 'error.reported',
      service: 'ledger',
      consumer: 'ledger__error_reported',
      correlationid: poison.correlationid,
    });
    expect(dead.letter.message).toContain('cannot handle poison pill');
    expect(dead.letter.event).toEqual(poison);
    await waitFor(
      'the next event to be handled',
      async () => (await count(sandbox, 'ledger', `event_id = '${after.id}'`)) === 1,
    );
    expect(await count(sandbox, 'ledger', `event_id = '${poison.id}'`)).toBe(0);
  });

  it('dead-letters a permanent failure at once, without retrying', async () => {
    const refused = sampleReported({ message: 'refuse this one' });
    await publishRaw(sandbox, 'error.reported', JSON.stringify(refused));
    const dead = await waitFor('the dead letter', letterFor(refused.id));
    expect(dead.letter.reason).toBe('permanent_failure');
    expect(dead.letter.deliveries).toBe(1);
    expect(dead.letter.message).toBe('refused for good: refuse this one');
  });

  it('dead-letters an invalid event straight away with every validation error and its path', async () => {
    const bad = { ...sampleReported(), id: 'invalid-1', data: { service: 'checkout', severity: 'fatal', extra: 1 } };
    await publishRaw(sandbox, 'error.reported', JSON.stringify(bad));
    const dead = await waitFor('the dead letter', letterFor('invalid-1'));
    expect(dead.letter.reason).toBe('invalid_event');
    expect(dead.letter.deliveries).toBe(1);
    const paths = dead.letter.errors.map((e) => e.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'data.environment',
        'data.kind',
        'data.message',
        'data.occurred_at',
        'data.severity',
        'data.extra',
      ]),
    );
    expect(dead.letter.errors.find((e) => e.path === 'data.severity')?.message).toMatch(/must be one of: .*"critical"/);
    expect(dead.letter.message).toContain('data.environment: is required');
  });

  it('dead-letters a payload that is not JSON, and one over the size limit, keeping the raw bytes readable', async () => {
    const before = (await deadLetters()).length;
    await publishRaw(sandbox, 'error.reported', 'this is {not json');
    await publishRaw(sandbox, 'error.reported', JSON.stringify(sampleReported({ message: 'x'.repeat(5_000) })));
    const letters = await waitFor('two more dead letters', async () => {
      const all = await deadLetters();
      return all.length >= before + 2 ? all.slice(before) : undefined;
    });
    const byReason = Object.fromEntries(letters.map((l) => [l.letter.reason, l.letter]));
    expect(byReason.invalid_json?.raw).toBe('this is {not json');
    expect(byReason.invalid_json?.message).toMatch(/^payload is not JSON/);
    expect(byReason.oversized?.message).toMatch(/bytes; the limit is 4096$/);
  });

  it('keeps out of a dead letter what the service redacts', async () => {
    const bad = { ...sampleReported({ message: 'password hunter2' }), id: 'secret-1', specversion: '0.3' };
    await publishRaw(sandbox, 'error.reported', JSON.stringify(bad));
    await publishRaw(sandbox, 'error.reported', 'not json, password hunter2');
    const dead = await waitFor('the dead letter', letterFor('secret-1'));
    expect(JSON.stringify(dead.letter)).not.toContain('hunter2');
    expect((dead.letter.event as { data: { message: string } }).data.message).toBe('password [REDACTED]');
    const raw = await waitFor('the raw dead letter', async () =>
      (await deadLetters()).find((d) => d.letter.raw?.startsWith('not json, password')),
    );
    expect(raw.letter.raw).toBe('not json, password [REDACTED]');
  });

  it('counts what it did in its Prometheus metrics', async () => {
    const text = await service.runtime.metrics.registry.metrics();
    expect(text).toMatch(/grace_events_handled_total\{[^}]*outcome="ok"[^}]*\} [1-9]/);
    expect(text).toMatch(/grace_events_dead_lettered_total\{[^}]*reason="retries_exhausted"[^}]*\} 1/);
    expect(text).toMatch(/grace_events_failed_total\{[^}]*kind="transient"[^}]*\} 3/);
    expect(text).toMatch(/grace_handler_duration_seconds_count\{[^}]*\} [1-9]/);
  });

  it("runs a transaction's after-commit callbacks once it committed, and never when it rolled back", async () => {
    const ran: string[] = [];
    const value = await service.runtime.transaction(async (_trx, _emit, afterCommit) => {
      afterCommit(() => ran.push('counted'));
      expect(ran).toEqual([]);
      return 42;
    });
    expect({ value, ran }).toEqual({ value: 42, ran: ['counted'] });
    await expect(
      service.runtime.transaction(async (_trx, _emit, afterCommit) => {
        afterCommit(() => ran.push('rolled back'));
        throw new Error('the step failed');
      }),
    ).rejects.toThrow('the step failed');
    expect(ran).toEqual(['counted']);
  });
});
