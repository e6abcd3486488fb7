// Where work waits: the pending and unacknowledged messages of every durable consumer in the bench's
// namespace (one per service and subject), sampled while the load runs (the peaks show which hop is behind)
// and polled afterwards until all of them are empty (the system has drained).
import type { Naming } from '@grace/service-kit';
import type { JetStreamManager } from '@nats-io/jetstream';

/** Pending + ack-pending messages per durable consumer (`<service>__<subject>`) in the namespace's streams. */
export async function consumerBacklog(jsm: JetStreamManager, naming: Naming): Promise<Map<string, number>> {
  const backlog = new Map<string, number>();
  const prefix = naming.stream('');
  for await (const stream of jsm.streams.list()) {
    if (!stream.config.name.startsWith(prefix)) continue;
    for await (const consumer of jsm.consumers.list(stream.config.name)) {
      const name = consumer.name;
      backlog.set(name, (backlog.get(name) ?? 0) + consumer.num_pending + consumer.num_ack_pending);
    }
  }
  return backlog;
}

/** Samples the backlog every `everyMs` and keeps each consumer's peak. */
export class BacklogPeaks {
  private readonly peaks = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly jsm: JetStreamManager,
    private readonly naming: Naming,
    private readonly everyMs = 1_000,
  ) {}

  start(): this {
    this.timer = setInterval(() => {
      this.running = this.running.then(() => this.sample()).catch(() => undefined);
    }, this.everyMs);
    return this;
  }

  private async sample(): Promise<void> {
    for (const [name, n] of await consumerBacklog(this.jsm, this.naming))
      this.peaks.set(name, Math.max(this.peaks.get(name) ?? 0, n));
  }

  /** Peaks above zero, largest first. */
  async finish(): Promise<Record<string, number>> {
    clearInterval(this.timer);
    await this.running;
    await this.sample().catch(() => undefined);
    return Object.fromEntries([...this.peaks].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]));
  }
}

/**
 * Wait until every consumer's backlog is empty on two reads `settleMs` apart (an event handled and acked is
 * published by its service's outbox relay right after the commit, so one empty read can come too early).
 * Resolves with the seconds it took, or with `false` at the timeout.
 */
export async function waitDrained(
  jsm: JetStreamManager,
  naming: Naming,
  timeoutMs: number,
  settleMs = 500,
): Promise<{ drained: boolean; seconds: number; left: Record<string, number> }> {
  const started = performance.now();
  let emptyReads = 0;
  let left: Record<string, number> = {};
  while (performance.now() - started < timeoutMs) {
    const backlog = await consumerBacklog(jsm, naming);
    left = Object.fromEntries([...backlog].filter(([, n]) => n > 0));
    emptyReads = Object.keys(left).length === 0 ? emptyReads + 1 : 0;
    if (emptyReads >= 2) break;
    await new Promise((r) => setTimeout(r, emptyReads ? settleMs : 250));
  }
  return {
    drained: emptyReads >= 2,
    seconds: Math.round((performance.now() - started) / 100) / 10,
    left,
  };
}
