// NATS connection with endless reconnect, and idempotent provisioning of Grace's JetStream streams and consumers.
import { streams as streamDefinitions, type StreamDefinition } from '@grace/contracts';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type JetStreamManager,
} from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import type { Logger } from './logger.js';
import type { Naming } from './naming.js';

export async function connectNats(url: string, name: string, log: Logger): Promise<NatsConnection> {
  const nc = await connect({
    servers: url.split(',').map((s) => s.trim()),
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1_000,
    timeout: 5_000,
  });
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect' || s.type === 'reconnecting' || s.type === 'error')
        log.warn({ nats: s }, 'nats connection trouble');
      else if (s.type === 'reconnect') log.info({ nats: s }, 'nats reconnected');
    }
  })().catch(() => undefined);
  return nc;
}

function isNotFound(err: unknown): boolean {
  return err instanceof JetStreamApiError && (err.code === 404 || /not found/i.test(err.message));
}

/** Create or update one stream to match its definition (safe to run from every replica at once). */
/**
 * `maxBytes`: the size limit of each stream, or -1 for none (bounded by age only). NATS reserves a stream's
 * max_bytes on its disk when the stream is created, so a limit must fit the server's JetStream storage.
 */
export async function ensureStream(
  jsm: JetStreamManager,
  naming: Naming,
  def: StreamDefinition,
  maxBytes = -1,
): Promise<void> {
  const config = {
    name: naming.stream(def),
    description: def.description,
    subjects: def.subjects.map((s) => naming.subject(s)),
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: nanos(def.maxAgeMs),
    max_bytes: maxBytes,
    max_msg_size: def.maxMsgSize,
    duplicate_window: nanos(def.duplicateWindowMs),
    num_replicas: 1,
  };
  try {
    await jsm.streams.info(config.name);
    await jsm.streams.update(config.name, config);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    try {
      await jsm.streams.add(config);
    } catch (addErr) {
      // Another replica created it first: fine when it now exists.
      await jsm.streams.info(config.name).catch(() => {
        throw addErr;
      });
    }
  }
}

export async function ensureStreams(jsm: JetStreamManager, naming: Naming, maxBytes = -1): Promise<void> {
  for (const def of streamDefinitions) await ensureStream(jsm, naming, def, maxBytes);
}

export interface DurableConsumerOptions {
  stream: string;
  durable: string;
  filterSubject: string;
  ackWaitMs: number;
}

/**
 * Create or update a durable pull consumer. max_deliver is unlimited on the server: the runner counts
 * deliveries itself and dead-letters past its limit, so no message is ever parked where nobody looks.
 */
export async function ensureConsumer(jsm: JetStreamManager, opts: DurableConsumerOptions): Promise<void> {
  const config: Partial<ConsumerConfig> = {
    durable_name: opts.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: opts.filterSubject,
    ack_wait: nanos(opts.ackWaitMs),
    max_deliver: -1,
    max_ack_pending: 1_000,
  };
  try {
    await jsm.consumers.info(opts.stream, opts.durable);
    await jsm.consumers.update(opts.stream, opts.durable, config);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    try {
      await jsm.consumers.add(opts.stream, config);
    } catch (addErr) {
      await jsm.consumers.info(opts.stream, opts.durable).catch(() => {
        throw addErr;
      });
    }
  }
}
