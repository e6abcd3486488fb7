// Transactional outbox: events written with the state change, published by a relay with Nats-Msg-Id = event id.
import type { GraceEvent } from '@grace/contracts';
import type { JetStreamClient } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/nats-core';
import { sql, type Generated, type Kysely, type Transaction } from 'kysely';
import { errorMessage, sleep } from './errors.js';
import type { Logger } from './logger.js';
import type { Naming } from './naming.js';

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
    event_id: string;
    subject: string;
    payload: unknown;
    status: Generated<'pending' | 'sent'>;
    created_at: Generated<Date>;
    sent_at: Date | null;
  };
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
 * waits here until the first commits or rolls back), then one read of the inbox. Returns, for every event already
 * handled, the events its batch emitted (to be published again: a redelivery after a commit whose publish did not
 * complete). Writes no row.
 */
export async function claimInbox(
  trx: Transaction<KitTables>,
  consumer: string,
  eventIds: readonly string[],
): Promise<Map<string, GraceEvent[]>> {
  await sql`select pg_advisory_xact_lock(k) from (
      select distinct hashtextextended(${consumer} || ':' || id || ':' || current_schema(), 0) as k
        from unnest(${eventIds}::text[]) as id) as keys
      order by k`.execute(trx);
  const rows = await trx
    .selectFrom('inbox')
    .select(['event_ids', 'outputs'])
    .where('consumer', '=', consumer)
    .where(sql<boolean>`event_ids && ${eventIds}::text[]`)
    .execute();
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
 * Publishes outbox rows. The fast path: a transaction that wrote rows hands its events to `publishCommitted`
 * after the commit; they are published at once, in order, and marked sent by one statement for all that were
 * acknowledged meanwhile. No transaction, no SELECT: on this path an event costs its publish and a share of one
 * UPDATE, where a batch of the poll costs a check and a transaction of four statements.
 *
 * The poll publishes the rest (rows older than `sweepAfterMs`: a publish that failed, a process killed between
 * commit and publish) in id order. Its rows are claimed with FOR UPDATE SKIP LOCKED inside a transaction that
 * stays open until JetStream acknowledged every message of the batch, so several relays never publish the same
 * row at once, and a relay killed mid-batch leaves its rows pending for the next one. Whatever is published
 * twice (by both paths, or again after a crash) carries the same msg id (the event id), so JetStream's
 * duplicate window drops it, and the consumers' inboxes would drop it after that.
 */
export class OutboxRelay {
  private running = false;
  private loop?: Promise<void>;
  private wakeUp?: () => void;
  private pendingWake = false;
  private readonly stopController = new AbortController();
  /** Direct publishes in flight (awaited by stop). */
  private readonly direct = new Set<Promise<void>>();
  /** Event ids published directly and not yet marked sent. */
  private readonly acknowledged: string[] = [];
  private marking?: Promise<void>;
  /** Direct publishes that failed, and how many of them a poll had seen when it last drained every pending row:
   * while they differ, the poll takes every pending row, however fresh. */
  private directFailures = 0;
  private sweptFailures = 0;

  constructor(private readonly opts: RelayOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Publish promptly (called after a commit that wrote to the outbox). */
  wake(): void {
    this.pendingWake = true;
    this.wakeUp?.();
  }

  /**
   * Publish events a transaction has just committed to the outbox (in the order it wrote them), then mark
   * them sent. Never throws: on failure the rows stay pending and the poll publishes them.
   */
  publishCommitted(events: readonly GraceEvent[]): void {
    if (events.length === 0) return;
    if (!this.running) {
      this.wake();
      return;
    }
    const publishing: Promise<void> = Promise.all(events.map((event) => this.publishEvent(event.type, event))).then(
      () => {
        this.acknowledged.push(...events.map((e) => e.id));
        this.opts.onPublished?.(events.length);
        this.markSent();
      },
      (err: unknown) => {
        this.opts.log.debug(
          { err: errorMessage(err), events: events.length },
          'publish after commit failed; the relay publishes these rows from the outbox',
        );
        this.directFailures++;
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
    return this.opts.js.publish(this.opts.naming.subject(subject), JSON.stringify(event), {
      msgID: event.id,
      timeout: this.opts.publishTimeoutMs,
      headers: h,
    });
  }

  /** One UPDATE for every event acknowledged since the last one (they pile up while it runs). */
  private markSent(): void {
    this.marking ??= (async () => {
      while (this.acknowledged.length > 0) {
        const ids = this.acknowledged.splice(0, 1_000);
        try {
          await this.opts.db
            .updateTable('outbox')
            .set({ status: 'sent', sent_at: sql<Date>`now()` })
            .where('event_id', 'in', ids)
            .where('status', '=', 'pending')
            .execute();
        } catch (err) {
          // They stay pending: the poll publishes them again and JetStream drops the duplicates.
          this.opts.log.warn({ err: errorMessage(err), events: ids.length }, 'could not mark published rows sent');
        }
      }
    })().finally(() => {
      this.marking = undefined;
      if (this.acknowledged.length > 0) this.markSent();
    });
  }

  /** Publish one batch; returns how many rows were published. */
  async publishBatch(options: { all?: boolean } = {}): Promise<number> {
    const { db, batchSize } = this.opts;
    const sweepAfterMs = options.all ? 0 : (this.opts.sweepAfterMs ?? 0);
    const pendingIn = (q: AnyDb) => {
      const pending = q.selectFrom('outbox').where('status', '=', 'pending');
      return sweepAfterMs > 0
        ? pending.where('created_at', '<', sql<Date>`now() - make_interval(secs => ${sweepAfterMs / 1000})`)
        : pending;
    };
    // An idle poll (the usual case now that committed events are published at once) is one statement.
    if ((await pendingIn(db).select('id').limit(1).executeTakeFirst()) === undefined) return 0;
    return db.transaction().execute(async (trx) => {
      const rows = await pendingIn(trx)
        .select(['id', 'event_id', 'subject', 'payload'])
        .orderBy('id')
        .limit(batchSize)
        .forUpdate()
        .skipLocked()
        .execute();
      if (rows.length === 0) return 0;
      // Issued in order on one connection, so the stream keeps the outbox order; acks are awaited together.
      await Promise.all(rows.map((row) => this.publishEvent(row.subject, row.payload as GraceEvent)));
      await trx
        .updateTable('outbox')
        .set({ status: 'sent', sent_at: sql<Date>`now()` })
        .where(
          'id',
          'in',
          rows.map((r) => r.id),
        )
        .execute();
      return rows.length;
    });
  }

  private async run(): Promise<void> {
    const { log, pollMs } = this.opts;
    let failures = 0;
    while (this.running) {
      this.pendingWake = false;
      let published = 0;
      try {
        const failed = this.directFailures;
        const all = failed !== this.sweptFailures;
        published = await this.publishBatch({ all });
        if (all && published < this.opts.batchSize) this.sweptFailures = failed;
        failures = 0;
        if (published > 0) this.opts.onPublished?.(published);
      } catch (err) {
        failures++;
        const delay = Math.min(pollMs * 2 ** failures, 10_000);
        log.warn({ err: errorMessage(err), retry_in_ms: delay }, 'outbox relay could not publish; rows stay pending');
        await sleep(delay, this.stopController.signal);
        continue;
      }
      if (published > 0 || this.pendingWake) continue;
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

  /** Stop the loop, then publish whatever is still pending, within `timeoutMs`. Returns rows left pending. */
  async stop(timeoutMs: number): Promise<number> {
    this.running = false;
    this.stopController.abort();
    await this.loop;
    const deadline = Date.now() + timeoutMs;
    // Direct publishes end within the publish timeout; their rows are then marked sent or left to the flush.
    await Promise.all(this.direct);
    await this.marking;
    while (Date.now() < deadline) {
      try {
        if ((await this.publishBatch({ all: true })) === 0) break;
      } catch (err) {
        this.opts.log.warn({ err: errorMessage(err) }, 'outbox flush at shutdown failed');
        await sleep(200);
      }
    }
    return this.backlog();
  }

  async backlog(): Promise<number> {
    const row = await this.opts.db
      .selectFrom('outbox')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('status', '=', 'pending')
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Delete sent rows older than the retention (pending rows are never deleted). */
  async prune(retentionHours: number): Promise<number> {
    const result = await this.opts.db
      .deleteFrom('outbox')
      .where('status', '=', 'sent')
      .where('sent_at', '<', sql<Date>`now() - make_interval(hours => ${retentionHours})`)
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
