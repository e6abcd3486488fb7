// Transactional outbox: events written with the state change, published by a relay with Nats-Msg-Id = event id.
import type { GraceEvent } from '@grace/contracts';
import type { JetStreamClient } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/nats-core';
import { sql, type Generated, type Kysely, type Transaction } from 'kysely';
import { errorMessage, sleep } from './errors.js';
import type { Logger } from './logger.js';
import type { Naming } from './naming.js';
import { tracePublish, tracingOn } from './tracing.js';

export interface KitTables {
  /** One row per batch a consumer handled: the events' ids and what their handlers emitted (replayed on redelivery). */
  inbox: {
    id: Generated<string>;
    consumer: string;
    event_ids: string[];
    outputs: unknown;
    handled_at: Generated<Date>;
  };
  file_versions: {
    version: Generated<number>;
    file: string;
    checksum: string;
    source: string;
    path: string;
    loaded_at: Generated<Date>;
  };
  outbox: {
    id: Generated<string>;
    /** The writing transaction's id (xid8): the sweep passes a row only once every older transaction ended. */
    xid: Generated<string>;
    event_id: string;
    subject: string;
    payload: unknown;
    created_at: Generated<Date>;
  };
  /** How far the sweep has gone, in (xid, id) order: one row per schema. */
  outbox_cursor: { id: number; xid: string; last_id: string };
}

type AnyDb = Kysely<KitTables> | Transaction<KitTables>;

/** Add events to the outbox inside the caller's transaction (one statement for all of them). */
export async function writeOutbox(trx: AnyDb, events: readonly GraceEvent[]): Promise<void> {
  if (events.length === 0) return;
  await trx
    .insertInto('outbox')
    .values(events.map((e) => ({ event_id: e.id, subject: e.type, payload: JSON.stringify(e) })))
    .execute();
}

/**
 * Claim events for `consumer` inside the caller's transaction: a transaction-scoped advisory lock per event
 * (taken in one fixed order, so concurrent batches cannot deadlock; a second delivery of an event being handled
 * waits here until the first commits or rolls back), then one read of the inbox, in one round trip (the kit's
 * `claim_inbox` function, migration 0005). Returns, for every event already handled, the events its batch
 * emitted (to be published again: a redelivery after a commit whose publish did not complete). Writes no row.
 */
export async function claimInbox(
  trx: Transaction<KitTables>,
  consumer: string,
  eventIds: readonly string[],
): Promise<Map<string, GraceEvent[]>> {
  const { rows } = await sql<{ event_ids: string[]; outputs: unknown }>`
    select event_ids, outputs from claim_inbox(${consumer}, ${eventIds}::text[])`.execute(trx);
  const handled = new Map<string, GraceEvent[]>();
  for (const row of rows) {
    const outputs = (row.outputs ?? []) as GraceEvent[];
    for (const id of row.event_ids) handled.set(id, outputs);
  }
  return handled;
}

/** Whether `consumer` has handled `eventId` (outside a transaction: for a message about to be dead-lettered). */
export async function inboxHas(db: AnyDb, consumer: string, eventId: string): Promise<boolean> {
  const row = await db
    .selectFrom('inbox')
    .select('id')
    .where('consumer', '=', consumer)
    .where(sql<boolean>`event_ids @> array[${eventId}]::text[]`)
    .executeTakeFirst();
  return row !== undefined;
}

/** Record one handled batch (after `claimInbox` in the same transaction): one row, whatever its size. */
export async function recordInbox(
  trx: Transaction<KitTables>,
  consumer: string,
  eventIds: readonly string[],
  outputs: readonly GraceEvent[],
): Promise<void> {
  if (eventIds.length === 0) return;
  await trx
    .insertInto('inbox')
    .values({
      consumer,
      event_ids: sql<string[]>`${eventIds}::text[]`,
      outputs: outputs.length > 0 ? JSON.stringify(outputs) : null,
    })
    .execute();
}

export interface RelayOptions {
  db: Kysely<KitTables>;
  js: JetStreamClient;
  naming: Naming;
  log: Logger;
  batchSize: number;
  pollMs: number;
  publishTimeoutMs: number;
  /**
   * The poll takes only rows at least this old (default 0: every pending row). The transaction that wrote a row
   * publishes it itself right after its commit (`publishCommitted`); the poll is for what that did not do (a
   * failed publish, a process killed between commit and publish).
   */
  sweepAfterMs?: number;
  onPublished?: (count: number) => void;
}

/**
 * The transactions in progress at this statement's snapshot that may still write to this outbox: every xid of
 * the snapshot's in-progress list except those of a backend that runs under another application name (the kit
 * names each service's connections `<service>:<schema>`, so another service, another deployment or a test's
 * long transaction on the same server does not hold the sweep back). A transaction that ended between the
 * snapshot and the read of pg_stat_activity, or whose backend is not visible, counts as a writer: the sweep then
 * waits one more poll, never steps over a row.
 */
const OUTBOX_WRITERS_IN_FLIGHT = sql`(
  select x from pg_snapshot_xip(pg_current_snapshot()) as x
   where ((x::text::bigint % 4294967296)::text) not in (
     select backend_xid::text from pg_stat_activity
      where backend_xid is not null and application_name is distinct from current_setting('application_name')))`;

interface Cursor {
  xid: string;
  id: string;
}

const after = (a: Cursor, b: Cursor) => {
  const [ax, bx] = [BigInt(a.xid), BigInt(b.xid)];
  return ax !== bx ? ax > bx : BigInt(a.id) > BigInt(b.id);
};

/**
 * Publishes outbox rows without marking each one. The fast path: a transaction that wrote rows hands its events
 * to `publishCommitted` after the commit; they are published at once, in order, and remembered in memory.
 *
 * The sweep is for what that path did not publish (a failed publish, a process killed between commit and
 * publish). It walks the outbox in (xid, id) order behind a cursor (`outbox_cursor`, one row): it passes a row
 * only when every transaction older than the row's that may write this outbox has ended (OUTBOX_WRITERS_IN_FLIGHT),
 * so a transaction that commits late is never stepped over, and only when the row is older than `sweepAfterMs` (younger rows are
 * the writer's to publish: a publish that fails is retried by its process from memory). Rows this process published are skipped; the others are published, JetStream acks
 * them, and the cursor moves past them in the same transaction, claimed with FOR UPDATE SKIP LOCKED so one relay
 * sweeps at a time. So an event costs one row insert, and a sweep that moves costs one cursor update for all
 * the rows it passed. Whatever is published twice (a row another replica published directly, or again after a
 * crash) carries the same msg id (the event id): JetStream's duplicate window drops it, consumers' inboxes after.
 */
export class OutboxRelay {
  private running = false;
  private loop?: Promise<void>;
  private wakeUp?: () => void;
  private pendingWake = false;
  private readonly stopController = new AbortController();
  /** Direct publishes in flight (awaited by stop). */
  private readonly direct = new Set<Promise<void>>();
  /** Event ids published directly that the sweep has not passed yet, with when (entries expire after an hour). */
  private readonly published = new Map<string, number>();
  private cursor?: Cursor;
  /** Events whose publish after the commit failed: the loop publishes them again (in order) until JetStream
   * takes them. The sweep is only for what a process that died could not retry. */
  private readonly failed: GraceEvent[] = [];

  constructor(private readonly opts: RelayOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Sweep promptly. */
  wake(): void {
    this.pendingWake = true;
    this.wakeUp?.();
  }

  /**
   * Publish events a transaction has just committed to the outbox (in the order it wrote them). Never throws:
   * on failure the sweep publishes them.
   */
  publishCommitted(events: readonly GraceEvent[]): void {
    if (events.length === 0) return;
    if (!this.running) {
      this.wake();
      return;
    }
    const publishing: Promise<void> = Promise.all(events.map((event) => this.publishEvent(event.type, event))).then(
      () => {
        const now = Date.now();
        for (const e of events) this.published.set(e.id, now);
        this.opts.onPublished?.(events.length);
      },
      (err: unknown) => {
        this.opts.log.debug(
          { err: errorMessage(err), events: events.length },
          'publish after commit failed; the relay publishes these rows from the outbox',
        );
        this.failed.push(...events);
        this.wake();
      },
    );
    const tracked = publishing.finally(() => this.direct.delete(tracked));
    this.direct.add(tracked);
  }

  /**
   * Publish events in order and wait for every JetStream ack (the consumer runner's path for what a handler
   * emitted: their message is acknowledged only after this). Throws when any publish fails.
   */
  async publishAll(events: readonly GraceEvent[]): Promise<void> {
    if (events.length === 0) return;
    await Promise.all(events.map((event) => this.publishEvent(event.type, event)));
    this.opts.onPublished?.(events.length);
  }

  private publishEvent(subject: string, event: GraceEvent) {
    const h = natsHeaders();
    if (event.correlationid) h.set('Grace-Correlation-Id', event.correlationid);
    const wire = this.opts.naming.subject(subject);
    const options = { msgID: event.id, timeout: this.opts.publishTimeoutMs, headers: h };
    if (!tracingOn()) return this.opts.js.publish(wire, JSON.stringify(event), options);
    // The event's PRODUCER span (started when it was emitted) ends with JetStream's ack.
    return tracePublish(event, wire, () => this.opts.js.publish(wire, JSON.stringify(event), options));
  }

  /** Rows the sweep may pass now: past `from`, every older transaction ended, older than `sweepAfterMs`. */
  private sweepable(q: AnyDb, from: Cursor, sweepAfterMs: number) {
    return q
      .selectFrom('outbox')
      .where(sql<boolean>`(xid, id) > (${from.xid}::xid8, ${from.id}::bigint)`)
      .where(sql<boolean>`(select min(x) is null or outbox.xid < min(x) from ${OUTBOX_WRITERS_IN_FLIGHT} as w(x))`)
      .where('created_at', '<', sql<Date>`now() - make_interval(secs => ${sweepAfterMs / 1000})`);
  }

  /** Sweep one batch; returns how many rows the cursor passed (published now, or already by this process). */
  async publishBatch(options: { all?: boolean } = {}): Promise<number> {
    const { db, batchSize } = this.opts;
    const sweepAfterMs = options.all ? 0 : (this.opts.sweepAfterMs ?? 0);
    // An idle poll is one statement.
    if (this.cursor && !(await this.sweepable(db, this.cursor, sweepAfterMs).select('id').limit(1).executeTakeFirst()))
      return 0;
    const { passed, publishedNow, cursor } = await db.transaction().execute(async (trx) => {
      const saved = await trx
        .selectFrom('outbox_cursor')
        .select([sql<string>`xid::text`.as('xid'), sql<string>`last_id::text`.as('id')])
        .where('id', '=', 1)
        .forUpdate()
        .skipLocked()
        .executeTakeFirst();
      // Another relay is sweeping.
      if (!saved) return { passed: 0, publishedNow: 0, cursor: undefined };
      const from = this.cursor && after(this.cursor, saved) ? this.cursor : saved;
      const rows = await this.sweepable(trx, from, sweepAfterMs)
        .select([
          sql<string>`xid::text`.as('xid_text'),
          sql<string>`id::text`.as('id_text'),
          'event_id',
          'subject',
          'payload',
        ])
        .orderBy(sql`xid`)
        .orderBy(sql`id`)
        .limit(batchSize)
        .execute();
      const last = rows.at(-1);
      if (!last) return { passed: 0, publishedNow: 0, cursor: from };
      const missing = rows.filter((row) => !this.published.has(row.event_id));
      // Issued in order on one connection, so the stream keeps the outbox order; acks are awaited together.
      await Promise.all(missing.map((row) => this.publishEvent(row.subject, row.payload as GraceEvent)));
      await trx
        .updateTable('outbox_cursor')
        .set({ xid: sql<string>`${last.xid_text}::xid8`, last_id: last.id_text })
        .where('id', '=', 1)
        .execute();
      for (const row of rows) this.published.delete(row.event_id);
      return { passed: rows.length, publishedNow: missing.length, cursor: { xid: last.xid_text, id: last.id_text } };
    });
    if (cursor) this.cursor = cursor;
    if (publishedNow > 0) this.opts.onPublished?.(publishedNow);
    return passed;
  }

  private async retryFailed(): Promise<void> {
    if (this.failed.length === 0) return;
    const events = this.failed.splice(0);
    try {
      await Promise.all(events.map((event) => this.publishEvent(event.type, event)));
    } catch (err) {
      this.failed.unshift(...events);
      throw err;
    }
    const now = Date.now();
    for (const e of events) this.published.set(e.id, now);
    this.opts.onPublished?.(events.length);
  }

  private forgetOld(): void {
    const cutoff = Date.now() - 3_600_000;
    for (const [id, at] of this.published) {
      if (at >= cutoff) break;
      this.published.delete(id);
    }
  }

  private async run(): Promise<void> {
    const { log, pollMs } = this.opts;
    let failures = 0;
    while (this.running) {
      this.pendingWake = false;
      let passed = 0;
      try {
        await this.retryFailed();
        passed = await this.publishBatch();
        failures = 0;
        this.forgetOld();
      } catch (err) {
        failures++;
        const delay = Math.min(pollMs * 2 ** failures, 10_000);
        log.warn({ err: errorMessage(err), retry_in_ms: delay }, 'outbox relay could not publish; rows stay pending');
        await sleep(delay, this.stopController.signal);
        continue;
      }
      if (passed > 0 || this.pendingWake) continue;
      const signal = this.stopController.signal;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, pollMs);
        this.wakeUp = done;
        function done() {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          resolve();
        }
        signal.addEventListener('abort', done, { once: true });
      });
      this.wakeUp = undefined;
    }
  }

  /** Stop the loop, then sweep whatever is still behind the cursor, within `timeoutMs`. Returns rows left. */
  async stop(timeoutMs: number): Promise<number> {
    this.running = false;
    this.stopController.abort();
    await this.loop;
    const deadline = Date.now() + timeoutMs;
    // Direct publishes end within the publish timeout; the sweep then skips what they published.
    await Promise.all(this.direct);
    while (Date.now() < deadline) {
      try {
        await this.retryFailed();
        if ((await this.publishBatch({ all: true })) === 0) break;
      } catch (err) {
        this.opts.log.warn({ err: errorMessage(err) }, 'outbox flush at shutdown failed');
        await sleep(200);
      }
    }
    return this.backlog();
  }

  /** Rows committed and not yet published: behind the cursor and not published by this process. */
  async backlog(): Promise<number> {
    const row = await this.opts.db
      .selectFrom('outbox')
      .innerJoin('outbox_cursor', (j) => j.on('outbox_cursor.id', '=', 1))
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where(sql<boolean>`(outbox.xid, outbox.id) > (outbox_cursor.xid, outbox_cursor.last_id)`)
      .where(sql<boolean>`not (outbox.event_id = any(${[...this.published.keys()]}::text[]))`)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Delete rows the sweep has passed that are older than the retention. */
  async prune(retentionHours: number): Promise<number> {
    const result = await this.opts.db
      .deleteFrom('outbox')
      .where('created_at', '<', sql<Date>`now() - make_interval(hours => ${retentionHours})`)
      .where(sql<boolean>`(xid, id) <= (select xid, last_id from outbox_cursor where id = 1)`)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

/** Delete inbox rows older than the retention (longer than any stream keeps messages). */
export async function pruneInbox(db: Kysely<KitTables>, retentionDays: number): Promise<number> {
  const result = await db
    .deleteFrom('inbox')
    .where('handled_at', '<', sql<Date>`now() - make_interval(days => ${retentionDays})`)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
