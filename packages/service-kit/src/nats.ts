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

/** How every Grace stream is stored: the kit's STREAM_MAX_BYTES, STREAM_REPLICAS and STREAM_STORAGE. */
export interface StreamSettings {
  /**
   * The size limit of each stream, or -1 for none (bounded by age only; the default). NATS reserves a stream's
   * max_bytes on its disk when the stream is created, so a limit must fit the server's JetStream storage.
   */
  maxBytes?: number;
  /** Copies of each stream (default 1); more than one needs a JetStream cluster of at least as many servers. */
  replicas?: number;
  /** File (the default) or memory; used when a stream is created, since NATS cannot change it afterwards. */
  storage?: 'file' | 'memory';
  /** Where a stream whose storage differs from `storage` is reported. */
  log?: Logger;
}

/**
 * Create or update one stream to match its definition and the settings (safe to run from every replica at once).
 * An existing stream is updated in place: NATS changes its replicas (a cluster copies the stream to the new
 * peers), but not its storage, which stays as it is with a warning naming both.
 */
export async function ensureStream(
  jsm: JetStreamManager,
  naming: Naming,
  def: StreamDefinition,
  settings: StreamSettings = {},
): Promise<void> {
  const storage = settings.storage === 'memory' ? StorageType.Memory : StorageType.File;
  const config = {
    name: naming.stream(def),
    description: def.description,
    subjects: def.subjects.map((s) => naming.subject(s)),
    retention: RetentionPolicy.Limits,
    storage,
    discard: DiscardPolicy.Old,
    max_age: nanos(def.maxAgeMs),
    max_bytes: settings.maxBytes ?? -1,
    max_msg_size: def.maxMsgSize,
    duplicate_window: nanos(def.duplicateWindowMs),
    num_replicas: settings.replicas ?? 1,
  };
  let existing: StorageType;
  try {
    existing = (await jsm.streams.info(config.name)).config.storage;
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
    return;
  }
  if (existing !== storage) {
    settings.log?.warn(
      { stream: config.name, storage: existing, configured: storage },
      `stream ${config.name} has ${existing} storage but STREAM_STORAGE is ${storage}: NATS cannot change a ` +
        "stream's storage, so it keeps its own (delete the stream to recreate it with the new storage)",
    );
  }
  // The client merges the update into the stream's current config, so the stream keeps its own storage.
  const { storage: _storage, ...changeable } = config;
  await jsm.streams.update(config.name, changeable);
}

export async function ensureStreams(
  jsm: JetStreamManager,
  naming: Naming,
  settings: StreamSettings = {},
): Promise<void> {
  for (const def of streamDefinitions) await ensureStream(jsm, naming, def, settings);
}

export interface DurableConsumerOptions {
  stream: string;
  durable: string;
  filterSubject: string;
  ackWaitMs: number;
  /** When it is created: deliver from this stream sequence on (default: the whole stream). Kept on updates. */
  startSequence?: number;
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
    ...(opts.startSequence !== undefined
      ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: opts.startSequence }
      : {}),
    filter_subject: opts.filterSubject,
    ack_wait: nanos(opts.ackWaitMs),
    max_deliver: -1,
    max_ack_pending: 1_000,
  };
  try {
    // Where it starts cannot change once it exists: the update keeps it (the client merges into the current config).
    const { deliver_policy: _policy, opt_start_seq: _start, ...changeable } = config;
    await jsm.consumers.update(opts.stream, opts.durable, changeable);
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
