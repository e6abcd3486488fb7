import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DeadLetter } from '@grace/contracts';
import {
  count,
  createSandbox,
  exited,
  publishRaw,
  readStream,
  sampleReported,
  spawnFixture,
  waitFor,
  type Sandbox,
} from './support.js';

async function consumerState(sandbox: Sandbox) {
  const info = await sandbox.jsm.consumers.info(`${sandbox.namespace}_GRACE_REPORTS`, 'ledger__error_reported');
  return { pending: info.num_pending, ackPending: info.num_ack_pending, redelivered: info.num_redelivered };
}

describe('a service process', () => {
  let sandbox: Sandbox;

  beforeAll(async () => {
    sandbox = await createSandbox('shutdown', { LEDGER_DELAY_MS: '300', CONSUMER_CONCURRENCY: '4', LOG_LEVEL: 'info' });
  });

  afterAll(async () => {
    await sandbox.cleanup();
  });

  it('drains on SIGTERM: in-flight events finish and are acked, nothing is lost, the rest waits for the next instance', async () => {
    const first = spawnFixture('ledger-main.ts', [], sandbox.env);
    await waitFor('the service to start', async () => first.output().includes('ledger started'));

    const events = Array.from({ length: 40 }, (_, i) => sampleReported({ message: `drain ${i}` }));
    for (const e of events) await publishRaw(sandbox, 'error.reported', JSON.stringify(e));
    await waitFor('some events to be handled', async () => (await count(sandbox, 'ledger')) >= 4);

    first.kill('SIGTERM');
    const { code } = await exited(first);
    expect(code).toBe(0);
    expect(first.output()).toContain('"msg":"stopped"');
    const handledByFirst = await count(sandbox, 'ledger');
    expect(handledByFirst).toBeGreaterThanOrEqual(4);
    expect(handledByFirst).toBeLessThan(40);
    // Everything the first instance took in, it finished: no message waits out an ack_wait.
    expect((await consumerState(sandbox)).ackPending).toBe(0);
    // What every handled event emitted is in JetStream (a message is acked only after that).
    const captured = (await readStream(sandbox, 'GRACE_ERRORS')).filter((m) => m.subject.endsWith('.error.captured'));
    expect(captured).toHaveLength(handledByFirst);

    const second = spawnFixture('ledger-main.ts', [], sandbox.env);
    try {
      await waitFor('the rest to be handled', async () => (await count(sandbox, 'ledger')) === 40, 30_000);
    } finally {
      second.kill('SIGTERM');
      await exited(second);
    }
    const { rows } = await sandbox.pool.query(`select event_id from "${sandbox.schema}".ledger`);
    expect(new Set(rows.map((r: { event_id: string }) => r.event_id))).toEqual(new Set(events.map((e) => e.id)));
    expect(await consumerState(sandbox)).toMatchObject({ pending: 0, ackPending: 0 });
  });

  it('dead-letters an event that crashes the process every time, once its deliveries are used up', async () => {
    const env = { ...sandbox.env, MAX_ATTEMPTS: '2', LEDGER_DELAY_MS: '0' };
    const crash = sampleReported({ message: 'crash the process' });
    await publishRaw(sandbox, 'error.reported', JSON.stringify(crash));
    const deadLetter = async () =>
      (await readStream(sandbox, 'GRACE_DLQ')).map((m) => m.data as DeadLetter).find((l) => l.event_id === crash.id);
    const exits: (NodeJS.Signals | null)[] = [];
    // Each instance takes the event and dies; JetStream redelivers it after ack_wait to the next one,
    // until an instance sees the delivery count past MAX_ATTEMPTS and dead-letters it without running it.
    let survivor: ReturnType<typeof spawnFixture> | undefined;
    try {
      for (let i = 0; i < 4 && !survivor; i++) {
        const child = spawnFixture('ledger-main.ts', [], env);
        const outcome = await Promise.race([
          exited(child).then(() => 'died' as const),
          // Starting from source under a full test run's load can take most of this; no speed is asserted.
          waitFor('the dead letter', deadLetter, 45_000).then(() => 'survived' as const),
        ]);
        if (outcome === 'survived') survivor = child;
        else exits.push((await exited(child)).signal);
      }
      expect(exits).toEqual(['SIGKILL', 'SIGKILL']);
      expect(await deadLetter()).toMatchObject({ reason: 'deliveries_exhausted', deliveries: 3 });
      expect((await deadLetter())?.message).toContain('without an acknowledgement');
      // The survivor keeps serving.
      const fine = sampleReported({ message: 'fine after the crash' });
      await publishRaw(sandbox, 'error.reported', JSON.stringify(fine));
      await waitFor('the next event', async () => (await count(sandbox, 'ledger', `event_id = '${fine.id}'`)) === 1);
    } finally {
      survivor?.kill('SIGTERM');
      if (survivor) await exited(survivor);
    }
  }, 180_000);

  it('stops at start with exit code 78 and the name of a bad variable', async () => {
    const child = spawnFixture('ledger-main.ts', [], { ...sandbox.env, HTTP_PORT: 'eighty', LEDGER_DELAY_MS: '-5' });
    const { code } = await exited(child);
    expect(code).toBe(78);
    expect(child.output()).toContain('invalid configuration for ledger');
    expect(child.output()).toContain('HTTP_PORT must be integer (got "eighty")');
    expect(child.output()).toContain('LEDGER_DELAY_MS must be >= 0 (got "-5")');
  });

  it('says which server it cannot reach', async () => {
    const child = spawnFixture('ledger-main.ts', [], { ...sandbox.env, NATS_URL: 'nats://127.0.0.1:1' });
    const { code } = await exited(child);
    expect(code).toBe(1);
    expect(child.output()).toContain('cannot connect to NATS at nats://127.0.0.1:1');
  });

  it('runs only its migrations with the migrate command, idempotently', async () => {
    const schema = `${sandbox.schema}_m`;
    const env = { ...sandbox.env, DB_SCHEMA: schema };
    try {
      const runs = [spawnFixture('ledger-main.ts', ['migrate'], env), spawnFixture('ledger-main.ts', ['migrate'], env)];
      const results = await Promise.all(runs.map(exited));
      expect(results.map((r) => r.code)).toEqual([0, 0]);
      const { rows } = await sandbox.pool.query(
        `select table_name from information_schema.tables where table_schema = $1 order by table_name`,
        [schema],
      );
      expect(rows.map((r: { table_name: string }) => r.table_name)).toEqual(
        expect.arrayContaining(['inbox', 'outbox', 'ledger', 'migrations', 'kit_migrations']),
      );
      const applied = await sandbox.pool.query(`select name from "${schema}".migrations`);
      expect(applied.rows).toEqual([{ name: '0001_ledger' }]);
    } finally {
      await sandbox.pool.query(`drop schema if exists "${schema}" cascade`);
    }
  });
});
