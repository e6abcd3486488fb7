// The consumer runner: a durable pull consumer with bounded concurrency, inbox idempotency, batches that may share
// a transaction (group commit), retries and dead letters. What a service declares is consumer.ts.
import {
  createEvent,
  deadLetterSubject,
  describeErrors,
  streamFor,
  validate,
  type DeadLetter,
  type DeadLetterReason,
  type EventSubject,
  type GraceEvent,
} from '@grace/contracts';
import type { Consumer, ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/nats-core';
import type { Span } from '@opentelemetry/api';
import type { Kysely, Transaction } from 'kysely';
import type { BatchContext, ConsumerDefinition, Emit, HandlerContext } from './consumer.js';
import { classifyError, errorMessage, sleep, withTimeout } from './errors.js';
import { eventLogger, type Logger } from './logger.js';
import type { KitMetrics } from './metrics.js';
import { ensureConsumer } from './nats.js';
import type { Naming } from './naming.js';
import { kitTransaction } from './before-commit.js';
import { claimInbox, inboxHas, recordInbox, type KitTables } from './outbox.js';
import {
  bindActive,
  failSpan,
  formatTraceparent,
  inSpan,
  spanContextOf,
  startBatchSpan,
  startConsumerSpan,
  traceDeadLetter,
  traceEmitted,
  tracingOn,
} from './tracing.js';

export interface RunnerSettings {
  service: string;
  concurrency: number;
  ackWaitMs: number;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  handlerTimeoutMs: number;
  maxEventBytes: number;
}

export interface RunnerDeps {
  db: Kysely<KitTables>;
  js: JetStreamClient;
  jsm: JetStreamManager;
  naming: Naming;
  log: Logger;
  metrics: KitMetrics;
  /** Publishes what handlers emitted, in order, resolving once JetStream acknowledged every event. */
  publish: (events: readonly GraceEvent[]) => Promise<void>;
  /**
   * Runs a batch's transaction; by default one of its own. The service passes a group commit, so batches of its
   * consumers that are ready together share one transaction (a body may then run twice: see GroupCommit).
   */
  transact?: <T>(body: (trx: Transaction<KitTables>) => Promise<T>, consumer: string) => Promise<T>;
}

interface Admitted {
  msg: JsMsg;
  event: GraceEvent;
  /** Its CONSUMER span, while tracing is on. */
  span?: Span;
}

const RAW_PREVIEW_BYTES = 16 * 1024;

/** Run after-commit callbacks; one that throws is logged and the others still run. */
export function runAfterCommit(callbacks: readonly (() => void)[], log: Logger): void {
  for (const fn of callbacks) {
    try {
      fn();
    } catch (err) {
      log.error({ err: errorMessage(err) }, 'after-commit callback failed');
    }
  }
}
// How long one pull request waits for messages (the server's minimum is 1 s); bounds how long stop() waits.
const FETCH_EXPIRES_MS = 1_000;

export class ConsumerRunner<DB> {
  readonly durable: string;
  readonly stream: string;
  readonly filterSubject: string;
  /** The contract subjects it handles (one, or several of one stream). */
  readonly subjects: ReadonlySet<EventSubject>;
  /** Its `subject` label in metrics: the subject, or the stream when it takes several. */
  private readonly label: string;
  private readonly concurrency: number;
  private readonly handlerTimeoutMs: number;
  private stopping = false;
  private inflight = 0;
  private slotFreed?: () => void;
  private loop?: Promise<void>;
  private current?: ConsumerMessages;
  private consumer?: Consumer;
  private readonly idle = new Set<() => void>();
  private readonly batchMax: number;
  private readonly queue: { msg: JsMsg; release: () => void }[] = [];
  private flushScheduled = false;
  private lingerTimer?: NodeJS.Timeout;
  private readonly lingerMs: number;
  private readonly stopController = new AbortController();

  constructor(
    private readonly def: ConsumerDefinition<DB, EventSubject>,
    private readonly settings: RunnerSettings,
    private readonly deps: RunnerDeps,
  ) {
    this.subjects = new Set([def.subject, ...(def.subjects ?? [])]);
    const stream = streamFor(def.subject);
    const others = [...this.subjects].filter((subject) => streamFor(subject).name !== stream.name);
    if (others.length > 0)
      throw new Error(`a consumer takes subjects of one stream: ${others.join(', ')} are not in ${stream.name}`);
    const several = this.subjects.size > 1;
    this.label = several ? stream.name : def.subject;
    this.durable = def.durable ?? deps.naming.durable(settings.service, several ? stream.name : def.subject);
    this.stream = deps.naming.stream(stream);
    // Several subjects: the whole stream (NATS 2.9 has one filter subject per consumer); the rest is skipped.
    this.filterSubject = deps.naming.subject(several ? '>' : def.subject);
    this.concurrency = def.concurrency ?? settings.concurrency;
    this.handlerTimeoutMs = def.handlerTimeoutMs ?? settings.handlerTimeoutMs;
    this.batchMax = Math.max(1, def.batch ?? 1);
    this.lingerMs = this.batchMax > 1 ? Math.max(0, def.lingerMs ?? 0) : 0;
  }

  get inFlight(): number {
    return this.inflight;
  }

  async provision(): Promise<void> {
    const replaced = await this.replacedPositions();
    await ensureConsumer(this.deps.jsm, {
      stream: this.stream,
      durable: this.durable,
      filterSubject: this.filterSubject,
      ackWaitMs: this.settings.ackWaitMs,
      ...(replaced.startSequence !== undefined ? { startSequence: replaced.startSequence } : {}),
    });
    for (const durable of replaced.durables) {
      await this.deps.jsm.consumers.delete(this.stream, durable).catch((err: unknown) => {
        if (!/not found/i.test(errorMessage(err))) throw err;
      });
      this.deps.log.info({ consumer: this.durable, replaced: durable }, 'took over a durable consumer');
    }
  }

  /**
   * The durables of `replaces` that still exist, and where this one starts when it is new: after the lowest
   * position all of them acknowledged (nothing one of them had not handled is skipped).
   */
  private async replacedPositions(): Promise<{ durables: string[]; startSequence?: number }> {
    const { jsm } = this.deps;
    if (!this.def.replaces?.length) return { durables: [] };
    const found = (
      await Promise.all(this.def.replaces.map((durable) => jsm.consumers.info(this.stream, durable).catch(() => null)))
    ).filter((info) => info !== null);
    if (found.length === 0) return { durables: [] };
    const exists = await jsm.consumers.info(this.stream, this.durable).then(
      () => true,
      () => false,
    );
    const floor = Math.min(...found.map((info) => info.ack_floor.stream_seq));
    return {
      durables: found.map((info) => info.name),
      ...(exists ? {} : { startSequence: floor + 1 }),
    };
  }

  start(): void {
    this.loop ??= this.pull();
  }

  async info(): Promise<{ pending: number; ackPending: number }> {
    const info = await this.deps.jsm.consumers.info(this.stream, this.durable);
    return { pending: info.num_pending, ackPending: info.num_ack_pending };
  }

  /** Stop pulling; wait for in-flight events to finish (commit and ack) within `timeoutMs`. */
  async stop(timeoutMs: number): Promise<{ unfinished: number }> {
    this.stopping = true;
    this.stopController.abort();
    this.slotFreed?.();
    // The open pull request ends on its own within FETCH_EXPIRES_MS (later on a busy machine); what it still
    // delivers is nak'ed at once. Closing it early would drop such messages unseen, to wait out ack_wait on the
    // server, so that happens only when the whole shutdown budget is nearly spent.
    const deadline = Date.now() + timeoutMs;
    const waited = new AbortController();
    const ended = await Promise.race([
      (this.loop ?? Promise.resolve()).then(() => true),
      sleep(Math.max(FETCH_EXPIRES_MS * 3, timeoutMs / 2), waited.signal).then(() => false),
    ]);
    waited.abort();
    if (!ended) {
      await this.current?.close().catch(() => undefined);
      await this.loop;
    }
    if (this.inflight > 0) {
      const idle = new AbortController();
      await Promise.race([
        new Promise<void>((resolve) => this.idle.add(resolve)),
        sleep(Math.max(0, deadline - Date.now()), idle.signal),
      ]);
      idle.abort();
    }

    return { unfinished: this.inflight };
  }

  // Fetch only as many messages as there are free slots: nothing waits in a client buffer eating its
  // ack_wait, and a crashed instance holds at most `concurrency` messages for ack_wait.
  private async pull(): Promise<void> {
    const { log } = this.deps;
    let failures = 0;
    while (!this.stopping) {
      if (this.inflight >= this.concurrency) {
        await new Promise<void>((resolve) => (this.slotFreed = resolve));
        this.slotFreed = undefined;
        continue;
      }
      try {
        this.consumer ??= await this.deps.js.consumers.get(this.stream, this.durable);
        const messages = await this.consumer.fetch({
          max_messages: this.concurrency - this.inflight,
          expires: FETCH_EXPIRES_MS,
        });
        this.current = messages;
        for await (const msg of messages) {
          if (this.stopping) {
            msg.nak();
            continue;
          }
          this.dispatch(msg);
        }
        this.current = undefined;
        failures = 0;
      } catch (err) {
        this.current = undefined;
        if (this.stopping) break;
        failures++;
        this.consumer = undefined;
        const delay = Math.min(500 * 2 ** failures, 10_000);
        log.warn({ err: errorMessage(err), consumer: this.durable, retry_in_ms: delay }, 'pull failed; retrying');
        await sleep(delay, this.stopController.signal);
      }
    }
  }

  private dispatch(msg: JsMsg): void {
    this.inflight++;
    // Long handlers keep their message: `working()` resets the server's ack_wait clock.
    const keepAlive = setInterval(() => msg.working(), Math.max(500, Math.floor(this.settings.ackWaitMs / 2)));
    const release = () => {
      clearInterval(keepAlive);
      this.inflight--;
      this.slotFreed?.();
      if (this.inflight === 0) for (const resolve of this.idle) resolve();
    };
    if (this.batchMax > 1) {
      this.queue.push({ msg, release });
      if (this.queue.length >= this.batchMax) this.flush();
      else if (!this.flushScheduled) {
        this.flushScheduled = true;
        if (this.lingerMs > 0) this.lingerTimer = setTimeout(() => this.flush(), this.lingerMs);
        else setImmediate(() => this.flush());
      }
      return;
    }
    this.handle([msg])
      .catch((err) => this.deps.log.error({ err, consumer: this.durable }, 'unexpected failure in consumer runner'))
      .finally(release);
  }

  // Messages that arrived in the same tick (or within `lingerMs`) are handled together, up to `batch` at a time.
  private flush(): void {
    this.flushScheduled = false;
    clearTimeout(this.lingerTimer);
    while (this.queue.length > 0) {
      const items = this.queue.splice(0, this.batchMax);
      this.handle(items.map((i) => i.msg))
        .catch((err) => this.deps.log.error({ err, consumer: this.durable }, 'unexpected failure in consumer runner'))
        .finally(() => items.forEach((i) => i.release()));
    }
  }

  /**
   * The checks before any handler runs: size, JSON, contract, delivery count. Returns the event, or
   * undefined when the message was dead-lettered.
   */
  private async admit(msg: JsMsg): Promise<GraceEvent | undefined> {
    const subject = this.deps.naming.unprefix(msg.subject) as EventSubject;
    if (!this.subjects.has(subject)) {
      // Another subject of the stream this consumer reads whole: not its business.
      msg.ack();
      this.deps.metrics.handled.inc({ consumer: this.durable, subject, outcome: 'skipped' });
      return undefined;
    }
    if (msg.data.length > this.settings.maxEventBytes) {
      await this.deadLetter(
        msg,
        undefined,
        'oversized',
        `event is ${msg.data.length} bytes; the limit is ${this.settings.maxEventBytes}`,
      );
      return undefined;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(msg.data).toString('utf8'));
    } catch (err) {
      await this.deadLetter(msg, undefined, 'invalid_json', `payload is not JSON: ${errorMessage(err)}`);
      return undefined;
    }
    const result = validate(subject, parsed);
    if (!result.ok) {
      await this.deadLetter(
        msg,
        parsed,
        'invalid_event',
        `event breaks the ${subject} contract: ${describeErrors(result.errors)}`,
        result.errors,
      );
      return undefined;
    }
    const deliveries = msg.info.deliveryCount;
    // A handled event whose outputs were not all published comes back; it is replayed, not dead-lettered.
    if (deliveries > this.settings.maxAttempts && !(await this.handledBefore(result.value.id))) {
      await this.deadLetter(
        msg,
        result.value,
        'deliveries_exhausted',
        `delivered ${deliveries} times without an acknowledgement: the handler crashed the process or exceeded ack_wait`,
      );
      return undefined;
    }
    return result.value;
  }

  /**
   * What a handler emits follows the event it handles: its correlation id and its trace (tracing off: the event's
   * traceparent; on: a PRODUCER span, child of the event's span, whose context the emitted event carries).
   */
  private emitterFor(event: GraceEvent, emitted: GraceEvent[], span?: Span): Emit {
    return (s, data, options) => {
      const e = createEvent(s, data, {
        source: `grace/${this.settings.service}`,
        correlationid: options?.correlationid ?? event.correlationid ?? event.id,
        traceparent: options?.traceparent ?? event.traceparent,
        ...(options?.id ? { id: options.id } : {}),
        ...(options?.subject ? { subject: options.subject } : {}),
      });
      if (span) traceEmitted(e, options?.traceparent ?? spanContextOf(span));
      emitted.push(e as GraceEvent);
      return e;
    };
  }

  private logFor(msg: JsMsg, event: GraceEvent): Logger {
    return eventLogger(this.deps.log, event, { consumer: this.durable, delivery: msg.info.deliveryCount });
  }

  private async handledBefore(eventId: string): Promise<boolean> {
    return inboxHas(this.deps.db, this.durable, eventId).catch(() => true);
  }

  /**
   * Handle messages that arrived together: several in one transaction (one inbox claim, the handlers one after
   * another or `handleBatch`, one inbox row, one commit); if that fails, each again on its own, so one bad event
   * costs only itself (and batched handlers must touch nothing but the database).
   */
  private async handle(msgs: JsMsg[]): Promise<void> {
    const admitted: Admitted[] = [];
    for (const msg of msgs) {
      const event = await this.admit(msg);
      if (event) admitted.push({ msg, event });
    }
    if (admitted.length === 0) return;
    if (!tracingOn()) return this.handleAdmitted(admitted);
    // One CONSUMER span per event, child of its own traceparent, open until its message is acked or given up.
    for (const a of admitted)
      a.span = startConsumerSpan(a.event, {
        subject: a.msg.subject,
        consumer: this.durable,
        stream: this.stream,
        delivery: a.msg.info.deliveryCount,
      });
    try {
      await this.handleAdmitted(admitted);
    } finally {
      for (const a of admitted) a.span?.end();
    }
  }

  private async handleAdmitted(admitted: Admitted[]): Promise<void> {
    if (admitted.length === 1) {
      const [only] = admitted as [Admitted];
      await inSpan(only.span, () =>
        this.handleTogether(admitted).catch((err: unknown) => this.fail(only.msg, only.event, err, only.span)),
      );
      return;
    }
    // The batch's shared transaction is a span of its own, linked to each event's (tracing on).
    const batch = admitted[0]!.span
      ? startBatchSpan(
          this.label,
          this.durable,
          admitted.map((a) => a.span!),
        )
      : undefined;
    try {
      await inSpan(batch, () => this.handleTogether(admitted));
    } catch (err) {
      failSpan(batch, err);
      this.deps.log.info(
        { err: errorMessage(err), consumer: this.durable, events: admitted.length },
        'batch failed; handling its events one by one',
      );
      for (const one of admitted) {
        await inSpan(one.span, () =>
          this.handleTogether([one]).catch((e: unknown) => this.fail(one.msg, one.event, e, one.span)),
        );
      }
    } finally {
      batch?.end();
    }
  }

  /**
   * One transaction for `items`: claim them in the inbox (a redelivery of a handled event changes nothing), run
   * the handlers, record one inbox row with what they emitted, commit. Then publish what was emitted (and, for a
   * redelivery, what its first handling emitted) and wait for JetStream's acks, and only then ack the messages:
   * a process killed between commit and publish leaves its messages unacknowledged, and their redelivery
   * publishes the recorded events (same ids, so JetStream's duplicate window drops what did go out). Throws
   * when the transaction fails (nothing committed).
   */
  private async handleTogether(items: Admitted[]): Promise<void> {
    const { metrics } = this.deps;
    const subject = this.label;
    const labels = { consumer: this.durable, subject };
    const started = process.hrtime.bigint();
    const single = items.length === 1 ? items[0] : undefined;
    const log = single ? this.logFor(single.msg, single.event) : this.deps.log;
    const run = this.deps.transact ?? ((body) => kitTransaction(this.deps.db, body));
    // Tracing on, the body runs in this handling's span wherever the group commit runs it.
    const transact: typeof run = tracingOn() ? (body, consumer) => run(bindActive(body), consumer) : run;
    // What one run of the body gathers (a shared transaction that rolls back runs it again, from scratch).
    const { emitted, committed, replay, fresh } = await transact(async (trx: Transaction<KitTables>) => {
      const emitted: GraceEvent[] = [];
      const committed: (() => void)[] = [];
      const replay = new Map<string, GraceEvent>();
      const fresh = new Set<string>();
      const gathered = { emitted, committed, replay, fresh };
      const handled = await claimInbox(
        trx,
        this.durable,
        items.map((i) => i.event.id),
      );
      const toHandle = items.filter(({ event }) => {
        const before = handled.get(event.id);
        if (before) for (const e of before) replay.set(e.id, e);
        if (before || fresh.has(event.id)) return false;
        fresh.add(event.id);
        return true;
      });
      if (toHandle.length === 0) return gathered;
      const handleBatch = this.def.handleBatch;
      if (handleBatch && toHandle.length > 1) {
        const byEvent = new Map(toHandle.map(({ event, span }) => [event, this.emitterFor(event, emitted, span)]));
        const ctx: BatchContext<DB> = {
          trx: trx as unknown as Transaction<DB>,
          emitFor: (event) => byEvent.get(event) ?? this.emitterFor(event, emitted),
          log,
          afterCommit: (fn) => committed.push(fn),
        };
        await withTimeout(
          handleBatch(
            toHandle.map((a) => a.event),
            ctx,
          ),
          this.handlerTimeoutMs,
          `batch handler for ${subject}`,
        );
      } else {
        for (const { msg, event, span } of toHandle) {
          const ctx: HandlerContext<DB> = {
            trx: trx as unknown as Transaction<DB>,
            emit: this.emitterFor(event, emitted, span),
            log: single ? log : this.logFor(msg, event),
            deliveryCount: msg.info.deliveryCount,
            traceparent: span ? formatTraceparent(span.spanContext()) : event.traceparent,
            afterCommit: (fn) => committed.push(fn),
          };
          const handled = span ? inSpan(span, () => this.def.handler(event, ctx)) : this.def.handler(event, ctx);
          await withTimeout(handled, this.handlerTimeoutMs, `handler for ${subject}`);
        }
      }
      await recordInbox(trx, this.durable, [...fresh], emitted);
      return gathered;
    }, this.durable);
    runAfterCommit(committed, log);
    for (const e of emitted) replay.delete(e.id);
    try {
      await this.deps.publish([...emitted, ...replay.values()]);
    } catch (err) {
      // Committed, not all published: the redelivery publishes the recorded events again.
      log.warn(
        { err: errorMessage(err), consumer: this.durable, events: items.length },
        'could not publish what the handler emitted; the events come back and their outputs are published again',
      );
      for (const { msg } of items) msg.nak(this.backoff(msg.info.deliveryCount));
      return;
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const counted = new Set<string>();
    for (const { msg, event } of items) {
      msg.ack();
      const first = fresh.has(event.id) && !counted.has(event.id);
      counted.add(event.id);
      metrics.handled.inc({ consumer: this.durable, subject: event.type, outcome: first ? 'ok' : 'duplicate' });
      metrics.handlerDuration.observe(labels, seconds);
    }
    if (fresh.size === 0) log.debug('redelivery of an event already handled; nothing changed');
    else log.debug({ emitted: emitted.length, events: fresh.size }, 'events handled');
  }

  private backoff(deliveries: number): number {
    return Math.min(this.settings.retryBaseMs * 2 ** (Math.min(deliveries, 30) - 1), this.settings.retryMaxMs);
  }

  private async fail(msg: JsMsg, event: GraceEvent, err: unknown, span?: Span): Promise<void> {
    failSpan(span, err);
    const log = this.logFor(msg, event);
    const deliveries = msg.info.deliveryCount;
    const kind = classifyError(err);
    this.deps.metrics.failed.inc({ consumer: this.durable, subject: event.type, kind });
    const reason = errorMessage(err);
    if (kind === 'invalid') {
      const errors = (err as { errors?: { path: string; message: string }[] }).errors ?? [];
      return this.deadLetter(msg, event, 'invalid_event', reason, errors);
    }
    if (kind === 'permanent') return this.deadLetter(msg, event, 'permanent_failure', reason);
    if (deliveries >= this.settings.maxAttempts) {
      return this.deadLetter(msg, event, 'retries_exhausted', `failed ${deliveries} times; last error: ${reason}`);
    }
    const delay = this.backoff(deliveries);
    log.warn({ err: reason, retry_in_ms: delay }, 'handler failed; will retry');
    msg.nak(delay);
  }

  private deadLetterPayload(msg: JsMsg, event: unknown): { event?: unknown; raw?: string } {
    const redact = this.def.redact ?? ((text: string) => text);
    if (event !== undefined) {
      if (!this.def.redact) return { event };
      const text = redact(JSON.stringify(event));
      try {
        return { event: JSON.parse(text) as unknown };
      } catch {
        return { raw: text.slice(0, RAW_PREVIEW_BYTES) };
      }
    }
    return { raw: redact(Buffer.from(msg.data.subarray(0, RAW_PREVIEW_BYTES)).toString('utf8')) };
  }

  /** Publish the dead letter, then terminate the message; if even that fails, retry later (never lose it). */
  private async deadLetter(
    msg: JsMsg,
    event: unknown,
    reason: DeadLetterReason,
    message: string,
    errors: readonly { path: string; message: string }[] = [],
  ): Promise<void> {
    const { js, naming, metrics } = this.deps;
    const subject = naming.unprefix(msg.subject);
    const e = event as Partial<GraceEvent> | undefined;
    const letter: DeadLetter = {
      reason,
      message: message.slice(0, 8192),
      errors: errors.slice(0, 100).map((x) => ({ path: x.path, message: x.message })),
      subject,
      service: this.settings.service,
      consumer: this.durable,
      stream: this.stream,
      stream_sequence: msg.info.streamSequence,
      deliveries: msg.info.deliveryCount,
      failed_at: new Date().toISOString(),
      ...(typeof e?.id === 'string' ? { event_id: e.id } : {}),
      ...(typeof e?.correlationid === 'string' ? { correlationid: e.correlationid } : {}),
      ...this.deadLetterPayload(msg, event),
    };
    const log = eventLogger(this.deps.log, e ?? {}, { consumer: this.durable, delivery: msg.info.deliveryCount });
    const to = deadLetterSubject(subject);
    try {
      // Tracing on: a PRODUCER span, its traceparent in the letter's headers (the DeadLetter schema has no field).
      await traceDeadLetter({ name: to, destination: naming.subject(to), reason, event: e }, (traceparent) => {
        const h = natsHeaders();
        h.set('Grace-Dead-Letter-Reason', reason);
        if (traceparent) h.set('traceparent', traceparent);
        return js.publish(naming.subject(to), JSON.stringify(letter), {
          // One dead letter per stream message, however often this runs.
          msgID: `dlq:${this.stream}:${this.durable}:${msg.info.streamSequence}`,
          headers: h,
          timeout: 5_000,
        });
      });
    } catch (err) {
      log.error({ err: errorMessage(err), reason }, 'could not publish dead letter; the event will be redelivered');
      msg.nak(Math.min(this.settings.retryMaxMs, 5_000));
      return;
    }
    // No reason text: NATS 2.9 does not parse `+TERM <reason>` and would redeliver (the reason is in the dead letter).
    msg.term();
    metrics.deadLettered.inc({ consumer: this.durable, subject, reason });
    log.warn({ reason, detail: message }, 'event dead-lettered');
  }
}
