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
  onPublished?: (count: number) => void;
}

/**
 * Publishes pending outbox rows in id order. Rows are claimed with FOR UPDATE SKIP LOCKED inside a
 * transaction that stays open until JetStream acknowledged every message of the batch, so several
 * relays never publish the same row at once, and a relay killed mid-batch leaves its rows pending for
 * the next one; JetStream's duplicate window (msg id = event id) drops whatever it had already sent.
 */
export class OutboxRelay {
  private running = false;
  private loop?: Promise<void>;
  private wakeUp?: () => void;
  private pendingWake = false;
  private readonly stopController = new AbortController();

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

  /** Publish one batch; returns how many rows were published. */
  async publishBatch(): Promise<number> {
    const { db, js, naming, batchSize, publishTimeoutMs } = this.opts;
    return db.transaction().execute(async (trx) => {
      const rows = await trx
        .selectFrom('outbox')
        .select(['id', 'event_id', 'subject', 'payload'])
        .where('status', '=', 'pending')
        .orderBy('id')
        .limit(batchSize)
        .forUpdate()
        .skipLocked()
        .execute();
      if (rows.length === 0) return 0;
      // Issued in order on one connection, so the stream keeps the outbox order; acks are awaited together.
      const acks = rows.map((row) => {
        const event = row.payload as GraceEvent;
        const h = natsHeaders();
        if (event.correlationid) h.set('Grace-Correlation-Id', event.correlationid);
        return js.publish(naming.subject(row.subject), JSON.stringify(event), {
          msgID: row.event_id,
          timeout: publishTimeoutMs,
          headers: h,
        });
      });
      await Promise.all(acks);
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
        published = await this.publishBatch();
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
    while (Date.now() < deadline) {
      try {
        if ((await this.publishBatch()) === 0) break;
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
