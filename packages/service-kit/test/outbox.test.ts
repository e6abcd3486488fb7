import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createEvent, type GraceEvent } from '@grace/contracts';
import { jetstream } from '@nats-io/jetstream';
import {
  createDb,
  createLogger,
  ensureStreams,
  Naming,
  OutboxRelay,
  runMigrations,
  writeOutbox,
  type KitTables,
  type RelayOptions,
} from '../src/index.js';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import {
  count,
  createSandbox,
  exited,
  memoryLogger,
  readStream,
  spawnFixture,
  waitFor,
  type LogLine,
  type Sandbox,
} from './support.js';

function findings(n: number): GraceEvent[] {
  return Array.from(
    { length: n },
    (_, i) =>
      createEvent(
        'security.finding',
        {
          finding_id: `f-${i}`,
          category: 'secret',
          kind: 'aws_access_key',
          location: 'message',
          service: 'checkout',
          environment: 'production',
          reported_event_id: `r-${i}`,
          action: 'redacted',
          detected_at: new Date().toISOString(),
        },
        { source: 'test/outbox' },
      ) as GraceEvent,
  );
}

describe('outbox relay', () => {
  let sandbox: Sandbox;
  let db: Kysely<KitTables>;
  const log = createLogger('outbox-test', 'silent');

  beforeAll(async () => {
    sandbox = await createSandbox('outbox');
    ({ db } = createDb<KitTables>({
      url: sandbox.env.DATABASE_URL!,
      schema: sandbox.schema,
      poolMax: 4,
      statementTimeoutMs: 30_000,
      applicationName: 'outbox-test',
    }));
    await runMigrations(db as Kysely<unknown>, sandbox.schema, {});
    await ensureStreams(sandbox.jsm, new Naming(sandbox.namespace));
  });

  afterAll(async () => {
    await db.destroy();
    await sandbox.cleanup();
  });

  // Rows the sweep has not passed (published directly or not).
  const behindCursor = (where = 'true') =>
    count(
      sandbox,
      `outbox o join "${sandbox.schema}".outbox_cursor c on c.id = 1`,
      `(o.xid, o.id) > (c.xid, c.last_id) and ${where}`,
    );

  const relay = (batchSize: number, more: Partial<RelayOptions> = {}) =>
    new OutboxRelay({
      db,
      js: jetstream(sandbox.nc),
      naming: new Naming(sandbox.namespace),
      log,
      batchSize,
      pollMs: 20,
      publishTimeoutMs: 5_000,
      ...more,
    });

  it('keeps no pending list in the inbox index: every claim reads the index alone, however long since a vacuum', async () => {
    const ids = Array.from({ length: 200 }, (_, i) => `pending-${i}`);
    for (const id of ids)
      await sql`insert into inbox (consumer, event_ids) values ('pending-test', ${[id]}::text[])`.execute(db);
    await sql`create extension if not exists pgstattuple schema public`.execute(db);
    const { rows } = await sql<{ pending_tuples: string }>`
      select pending_tuples from public.pgstatginindex(${`${sandbox.schema}.inbox_event_ids`}::regclass)`.execute(db);
    expect(Number(rows[0]!.pending_tuples)).toBe(0);
    const claimed = await sql<{ event_ids: string[] }>`
      select event_ids from claim_inbox('pending-test', ${['pending-7', 'pending-199', 'other']}::text[])`.execute(db);
    expect(claimed.rows.map((r) => r.event_ids[0]).sort()).toEqual(['pending-199', 'pending-7']);
  });

  it('publishes every committed event exactly once, in order, even when killed mid-batch and restarted', async () => {
    const events = findings(500);
    await db.transaction().execute((trx) => writeOutbox(trx, events));

    // Hold a lock on the cursor that lets the relay claim it (FOR UPDATE) and publish a batch, but makes its
    // UPDATE of the cursor wait. We kill it there: the batch is in JetStream, the cursor still before it.
    const blocker = await sandbox.pool.connect();
    await blocker.query('begin');
    await blocker.query(`lock table "${sandbox.schema}".outbox_cursor in share mode`);
    const child = spawnFixture('relay-main.ts', [], { ...sandbox.env, OUTBOX_BATCH_SIZE: '100', LOG_LEVEL: 'info' });
    try {
      const inStream = await waitFor('the first batch to reach JetStream', async () => {
        const info = await sandbox.jsm.streams.info(`${sandbox.namespace}_GRACE_ERRORS`);
        return info.state.messages >= 100 ? info.state.messages : undefined;
      });
      expect(inStream).toBe(100);
      child.kill('SIGKILL');
      expect((await exited(child)).signal).toBe('SIGKILL');
    } finally {
      await blocker.query('rollback');
      blocker.release();
    }
    expect(await behindCursor()).toBe(500);

    // A new relay republishes the killed batch (deduplicated by msg id) and the rest.
    const second = relay(100);
    second.start();
    await waitFor('the outbox to drain', async () => (await second.backlog()) === 0);
    await second.stop(5_000);

    const stored = await readStream(sandbox, 'GRACE_ERRORS');
    expect(stored).toHaveLength(500);
    expect(stored.map((m) => m.msgId)).toEqual(events.map((e) => e.id));
    expect(stored.map((m) => (m.data as GraceEvent).id)).toEqual(events.map((e) => e.id));
    expect(stored.every((m) => m.subject === `${sandbox.namespace}.security.finding`)).toBe(true);
    expect(await behindCursor()).toBe(0);
  });

  it('lets several relays share one outbox without publishing a row twice', async () => {
    await sandbox.jsm.streams.purge(`${sandbox.namespace}_GRACE_ERRORS`);
    const events = findings(1_000).map((e) => ({ ...e, id: `shared-${e.id}` }));
    await db.transaction().execute((trx) => writeOutbox(trx, events));
    const relays = [relay(25), relay(25), relay(25)];
    relays.forEach((r) => r.start());
    await waitFor('the outbox to drain', async () => (await relays[0]!.backlog()) === 0);
    await Promise.all(relays.map((r) => r.stop(5_000)));
    const stored = await readStream(sandbox, 'GRACE_ERRORS');
    expect(stored).toHaveLength(1_000);
    expect(new Set(stored.map((m) => m.msgId)).size).toBe(1_000);
  });

  it('bounds streams by age, and by size only when asked (NATS reserves a size limit on its disk)', async () => {
    const info = await sandbox.jsm.streams.info(`${sandbox.namespace}_GRACE_ERRORS`);
    expect(info.config.max_bytes).toBe(-1);
    expect(info.config.max_age).toBeGreaterThan(0);
    await ensureStreams(sandbox.jsm, new Naming(sandbox.namespace), { maxBytes: 64 * 1024 * 1024 });
    expect((await sandbox.jsm.streams.info(`${sandbox.namespace}_GRACE_ERRORS`)).config.max_bytes).toBe(
      64 * 1024 * 1024,
    );
  });

  it('keeps rows pending while JetStream cannot take them, and publishes them once it can', async () => {
    await sandbox.jsm.streams.purge(`${sandbox.namespace}_GRACE_ERRORS`);
    // A relay in a namespace with no streams: every publish fails (no stream captures the subject).
    const stranded = new OutboxRelay({
      db,
      js: jetstream(sandbox.nc),
      naming: new Naming(`${sandbox.namespace}x`),
      log,
      batchSize: 10,
      pollMs: 20,
      publishTimeoutMs: 500,
    });
    const events = findings(5).map((e) => ({ ...e, id: `stranded-${e.id}` }));
    await db.transaction().execute((trx) => writeOutbox(trx, events));
    await expect(stranded.publishBatch()).rejects.toThrow();
    expect(await behindCursor()).toBe(5);
    const healthy = relay(10);
    expect(await healthy.publishBatch()).toBe(5);
    expect(await readStream(sandbox, 'GRACE_ERRORS')).toHaveLength(5);
  });

  it('publishes what a transaction committed right after the commit, in order, and the sweep passes it without publishing it again', async () => {
    await sandbox.jsm.streams.purge(`${sandbox.namespace}_GRACE_ERRORS`);
    // The poll would take nothing younger than an hour: only the direct path can publish these.
    const direct = relay(10, { sweepAfterMs: 3_600_000 });
    direct.start();
    const batches = [0, 1, 2].map((b) => findings(40).map((e) => ({ ...e, id: `direct-${b}-${e.id}` })));
    try {
      for (const events of batches) {
        await db.transaction().execute((trx) => writeOutbox(trx, events));
        direct.publishCommitted(events);
      }
      await waitFor('every row published', async () => (await direct.backlog()) === 0);
      // The sweep leaves rows younger than sweepAfterMs to their writer: the cursor is still before them.
      expect(await behindCursor("event_id like 'direct-%'")).toBe(120);
    } finally {
      await direct.stop(5_000);
    }
    // stop() sweeps everything: the cursor passes the rows, which this relay had published already.
    expect(await behindCursor()).toBe(0);
    const stored = await readStream(sandbox, 'GRACE_ERRORS');
    expect(stored.map((m) => m.msgId)).toEqual(batches.flat().map((e) => e.id));
    expect(await count(sandbox, 'outbox', "event_id like 'direct-%'")).toBe(120);
  });

  it('leaves rows pending when the publish after commit fails, and publishes them again once JetStream takes them, without the sweep', async () => {
    // No stream takes the subject for a while: the direct publish fails, and so does the poll, until it is back.
    await sandbox.jsm.streams.delete(`${sandbox.namespace}_GRACE_ERRORS`);
    const lines: LogLine[] = [];
    const late = relay(10, { sweepAfterMs: 3_600_000, publishTimeoutMs: 500, log: memoryLogger('outbox-test', lines) });
    late.start();
    const events = findings(25).map((e) => ({ ...e, id: `late-${e.id}` }));
    try {
      await db.transaction().execute((trx) => writeOutbox(trx, events));
      late.publishCommitted(events);
      // The publish after commit failed, and then the relay's own tries of those rows, twice.
      await waitFor('the publishes to fail', async () => {
        const direct = lines.findIndex((l) => l.msg.startsWith('publish after commit failed'));
        const retries = lines
          .slice(direct + 1)
          .filter((l) => l.msg === 'outbox relay could not publish; rows stay pending').length;
        return direct >= 0 && retries >= 2;
      });
      expect(await behindCursor("event_id like 'late-%'")).toBe(25);
      await ensureStreams(sandbox.jsm, new Naming(sandbox.namespace));
      // Younger than sweepAfterMs (the sweep leaves them alone): the relay retries the failed publish itself.
      await waitFor('the relay to publish the rows again', async () => (await late.backlog()) === 0, 30_000);
    } finally {
      await late.stop(5_000);
    }
    const stored = await readStream(sandbox, 'GRACE_ERRORS');
    expect(stored.map((m) => m.msgId)).toEqual(events.map((e) => e.id));
  });

  it('never steps over a row whose transaction commits late, and is not held back by another application', async () => {
    await sandbox.jsm.streams.purge(`${sandbox.namespace}_GRACE_ERRORS`);
    const sweeper = relay(50);
    // Another application's long transaction with an xid: it cannot write this outbox, so it holds nothing back.
    const stranger = new pg.Client({ connectionString: sandbox.env.DATABASE_URL, application_name: 'someone-else' });
    // A writer of this outbox (the same application name as the relay's pool) that commits late.
    const writer = new pg.Client({ connectionString: sandbox.env.DATABASE_URL, application_name: 'outbox-test' });
    await stranger.connect();
    await writer.connect();
    try {
      await stranger.query('begin');
      await stranger.query('select pg_current_xact_id()');
      const [early, late] = findings(2).map((e, i) => ({ ...e, id: `order-${i}-${e.id}` })) as [GraceEvent, GraceEvent];
      await writer.query('begin');
      await writer.query(`insert into "${sandbox.schema}".outbox (event_id, subject, payload) values ($1, $2, $3)`, [
        early.id,
        early.type,
        JSON.stringify(early),
      ]);
      await db.transaction().execute((trx) => writeOutbox(trx, [late]));
      // The later transaction committed first: the sweep must wait for the earlier one.
      expect(await sweeper.publishBatch({ all: true })).toBe(0);
      await writer.query('commit');
      expect(await sweeper.publishBatch({ all: true })).toBe(2);
      const stored = await readStream(sandbox, 'GRACE_ERRORS');
      expect(stored.map((m) => m.msgId)).toEqual([early.id, late.id]);
      expect(await behindCursor()).toBe(0);
    } finally {
      await stranger.query('rollback').catch(() => undefined);
      await writer.query('rollback').catch(() => undefined);
      await stranger.end();
      await writer.end();
    }
  });
});
