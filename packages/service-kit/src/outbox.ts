// Transactional outbox: events written with the state change, published by a relay with Nats-Msg-Id = event id.
import type { GraceEvent } from '@grace/contracts';
import type { JetStreamClient } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/nats-core';
import { sql, type Generated, type Kysely, type Transaction } from 'kysely';
import { errorMessage, sleep } from './errors.js';
import type { Logger } from './logger.js';
import type { Naming } from './naming.js';

export interface KitTables {
  inbox: { consumer: string; event_id: string; handled_at: Generated<Date> };
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

/** Record that `consumer` handled `eventId`; false when it already had (a redelivery). */
export async function recordInbox(trx: AnyDb, consumer: string, eventId: string): Promise<boolean> {
  const row = await trx
    .insertInto('inbox')
    .values({ consumer, event_id: eventId })
    .onConflict((oc) => oc.doNothing())
    .returning('event_id')
    .executeTakeFirst();
  return row !== undefined;
}

/** Record many handled events at once; returns the ids that were new (the rest are redeliveries). */
export async function recordInboxMany(trx: AnyDb, consumer: string, eventIds: readonly string[]): Promise<Set<string>> {
  const rows = await trx
    .insertInto('inbox')
    .values(eventIds.map((event_id) => ({ consumer, event_id })))
    .onConflict((oc) => oc.doNothing())
    .returning('event_id')
    .execute();
  return new Set(rows.map((r) => r.event_id));
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
