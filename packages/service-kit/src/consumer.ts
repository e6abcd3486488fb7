// The consumer API: what a service declares to handle events (a handler or a batch handler per subject, with
// the transaction, the emitter and the after-commit hook it is given). The runner is consumer-runner.ts.
import type { EventData, EventSubject, GraceEvent } from '@grace/contracts';
import type { Transaction } from 'kysely';
import type { Logger } from './logger.js';

export interface EmitOptions {
  /** Defaults to the correlation id of the event being handled. */
  correlationid?: string;
  /** A deterministic id makes a re-emit of the same fact collapse into one event. */
  id?: string;
  subject?: string;
  /**
   * The trace the event continues, for work that outlives the handling it came from (a row a worker claims later:
   * store the handler's `ctx.traceparent` with it, pass it here). Default: the active span's (tracing on), else the
   * event being handled's.
   */
  traceparent?: string | null;
}

/** Collects events to publish; they are recorded with the inbox row in the handler's transaction and published after its commit. */
export type Emit = <S extends EventSubject>(subject: S, data: EventData<S>, options?: EmitOptions) => GraceEvent<S>;

export interface HandlerContext<DB> {
  /** The transaction the handler's state change and the inbox row (with what the handler emitted) commit in together. */
  trx: Transaction<DB>;
  emit: Emit;
  log: Logger;
  /** 1 on first delivery. */
  deliveryCount: number;
  /**
   * The trace context of this event's handling (its span while tracing is on, else the event's traceparent): what
   * to store with work that continues it later, for `EmitOptions.traceparent` and `withSpan`.
   */
  traceparent?: string;
  /** Run `fn` once the transaction has committed (e.g. wake workers for the work it queued); not on rollback. */
  afterCommit(fn: () => void): void;
}

export type Handler<DB, S extends EventSubject> = (event: GraceEvent<S>, ctx: HandlerContext<DB>) => Promise<void>;

export interface BatchContext<DB> {
  trx: Transaction<DB>;
  /** The emit of one event of the batch (events it emits carry that event's correlation id). */
  emitFor: (event: GraceEvent) => Emit;
  log: Logger;
  afterCommit(fn: () => void): void;
}

export type BatchHandler<DB, S extends EventSubject> = (
  events: GraceEvent<S>[],
  ctx: BatchContext<DB>,
) => Promise<void>;

export interface ConsumerDefinition<DB, S extends EventSubject = EventSubject> {
  subject: S;
  /**
   * Every subject this consumer takes, `subject` among them, all of one stream: one durable and one pull loop for
   * all of them, and a batch may mix them (each event keeps its own type and is checked against its own subject's
   * contract). Messages of the stream's other subjects are acknowledged and left alone. Default `[subject]`.
   */
  subjects?: readonly EventSubject[];
  handler: Handler<DB, S>;
  /**
   * Durable name; default `<service>__<subject>`, or `<service>__<stream>` with `subjects`. Two services
   * consuming one subject each get all events.
   */
  durable?: string;
  /**
   * Durables this one takes over (e.g. one per subject before they were folded into one): when it is created it
   * starts after the lowest position they had all acknowledged, and they are deleted. What some of them had
   * acknowledged beyond that comes again, and the inbox (or the handler) must tell it apart.
   */
  replaces?: readonly string[];
  concurrency?: number;
  handlerTimeoutMs?: number;
  /**
   * Handle up to this many events that arrive together in one transaction (default 1: one each).
   * Only for handlers whose every effect is in the database: after a failed batch, its events are
   * handled again one by one, so anything a handler does outside the transaction could happen twice.
   */
  batch?: number;
  /**
   * Handles a whole batch at once (with `batch` > 1), e.g. one multi-row statement instead of one per event;
   * without it the batch runs `handler` for each event in turn. Its events are new (redeliveries are
   * filtered out). After a failed batch, `handler` handles each event on its own.
   */
  handleBatch?: BatchHandler<DB, S>;
  /**
   * With `batch` > 1: wait up to this long for more messages before handling a batch that is not full (default
   * 0: what arrived in the same tick). Trades latency for fewer transactions, e.g. for a landing consumer.
   */
  lingerMs?: number;
  /**
   * Applied to what a dead letter carries of the event (its JSON text, or the raw payload), so a dead
   * letter never keeps what the service would not store (e.g. trigger-mesh redacts secrets).
   */
  redact?: (text: string) => string;
}

/** Keeps the generic subject link between `subject` and `handler` when building a list of consumers. */
export function consumer<DB, S extends EventSubject>(
  def: ConsumerDefinition<DB, S>,
): ConsumerDefinition<DB, EventSubject> {
  return def as unknown as ConsumerDefinition<DB, EventSubject>;
}

/** The `batch` of a consumer made by `transactionalConsumers`. */
export const TRANSACTIONAL_BATCH = 16;

/**
 * One consumer per subject for handlers that do everything in the database (metrics and wake-ups after the
 * commit): events that arrive together share one transaction and one inbox row.
 */
export function transactionalConsumers<DB>(handlers: {
  [S in EventSubject]?: Handler<DB, S>;
}): ConsumerDefinition<DB, EventSubject>[] {
  return Object.entries(handlers).map(([subject, handler]) =>
    consumer<DB, EventSubject>({
      subject: subject as EventSubject,
      handler: handler as Handler<DB, EventSubject>,
      batch: TRANSACTIONAL_BATCH,
      // As many in flight as a batch holds: with fewer, a fetch never brings a whole batch.
      concurrency: TRANSACTIONAL_BATCH,
    }),
  );
}
