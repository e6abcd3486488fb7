// The bare baseline: error.reported events through seven relay hops, each its own process (as each Grace
// service is, so the hops compete for the cores and cross process boundaries the same way), each consuming
// one JetStream subject and publishing to the next: relay.0 -> hop 1 -> relay.1 -> ... -> hop 7 -> relay.7.
// No Postgres, no handler: what seven hops of NATS and the kit's parse-and-validate cost at the same rate.
import type { Naming } from '@grace/service-kit';
import { latencySummary } from '@grace/service-kit/testing';
import { DiscardPolicy, RetentionPolicy, StorageType, jetstream, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { spawn, type ChildProcess } from 'node:child_process';
import { REPO_ROOT, exitOf } from '../launch.js';
import { ingestEvent, offer } from './load.js';

export const RELAY_HOPS = 7;
/** The hop runs like the services: from its source with tsx, or compiled with plain node. */
const hopCommand = (from: 'source' | 'dist') =>
  from === 'dist'
    ? [`${REPO_ROOT}packages/harness/dist/bench/relay-hop.js`]
    : ['--conditions=source', '--import', 'tsx', `${REPO_ROOT}packages/harness/src/bench/relay-hop.ts`];

export interface RelayResult {
  hops: number;
  rate: number;
  offered: number;
  offered_per_s: number;
  delivered: number;
  delivered_per_s: number;
  failed_publishes: number;
  latency_ms: ReturnType<typeof latencySummary>;
}

export interface Relay {
  /** The hop processes by name (relay-hop-1 …), for CPU and memory. */
  pids(): Map<string, number[]>;
  run(rate: number, seconds: number, drainTimeoutMs: number): Promise<RelayResult>;
  stop(): Promise<void>;
}

const SECOND_NS = 1_000_000_000;

export async function startRelay(
  nc: NatsConnection,
  jsm: JetStreamManager,
  naming: Naming,
  natsUrl: string,
  from: 'source' | 'dist',
  onLine: (line: string) => void,
): Promise<Relay> {
  const stream = naming.stream('BENCH_RELAY');
  // Stored like Grace's own streams (file storage, one replica, a duplicate window).
  await jsm.streams.add({
    name: stream,
    subjects: [naming.subject('relay.>')],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: 3_600 * SECOND_NS,
    duplicate_window: 600 * SECOND_NS,
    num_replicas: 1,
  });
  const hops: ChildProcess[] = [];
  const ready = [];
  for (let hop = 1; hop <= RELAY_HOPS; hop++) {
    const child = spawn(process.execPath, hopCommand(from), {
      cwd: `${REPO_ROOT}packages/harness`,
      env: {
        ...process.env,
        NATS_URL: natsUrl,
        RELAY_STREAM: stream,
        RELAY_IN: naming.subject(`relay.${hop - 1}`),
        RELAY_OUT: naming.subject(`relay.${hop}`),
        RELAY_DURABLE: `relay-hop-${hop}`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    hops.push(child);
    let output = '';
    ready.push(
      new Promise<void>((resolve, reject) => {
        const seen = (chunk: Buffer) => {
          output += chunk.toString();
          for (const line of chunk.toString().split('\n')) if (line) onLine(line);
          if (output.includes('relay hop ready')) resolve();
        };
        child.stdout?.on('data', seen);
        child.stderr?.on('data', seen);
        child.once('exit', (code) => reject(new Error(`relay hop ${hop} exited (${code}):\n${output.slice(-2000)}`)));
      }),
    );
  }
  const stopHops = async () => {
    for (const child of hops) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await Promise.all(hops.map((child) => exitOf(child)));
  };
  try {
    await Promise.all(ready);
  } catch (err) {
    for (const child of hops) child.kill('SIGKILL');
    await Promise.all(hops.map((child) => exitOf(child)));
    await jsm.streams.delete(stream).catch(() => undefined);
    throw err;
  }

  const js = jetstream(nc);
  return {
    pids: () => new Map(hops.map((child, i) => [`relay-hop-${i + 1}`, [child.pid ?? 0]])),
    async run(rate, seconds, drainTimeoutMs) {
      const sentAt = new Map<string, number>();
      const latencies: number[] = [];
      let lastAt = 0;
      const sub = nc.subscribe(naming.subject(`relay.${RELAY_HOPS}`), {
        callback: (_err, msg) => {
          const at = performance.now();
          let id: unknown;
          try {
            id = (msg.json() as { id?: unknown }).id;
          } catch {
            return;
          }
          const t = typeof id === 'string' ? sentAt.get(id) : undefined;
          if (t === undefined) return;
          sentAt.delete(id as string);
          latencies.push(at - t);
          lastAt = at;
        },
      });
      await nc.flush();
      const offered = await offer(rate, seconds, (i) => {
        const event = ingestEvent(i, 1, 1);
        sentAt.set(event.id, performance.now());
        return js.publish(naming.subject('relay.0'), JSON.stringify(event), { msgID: event.id });
      });
      const deadline = performance.now() + drainTimeoutMs;
      while (latencies.length < offered.published && performance.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      sub.unsubscribe();
      const span = ((lastAt || performance.now()) - offered.startedAt) / 1000;
      return {
        hops: RELAY_HOPS,
        rate,
        offered: offered.offered,
        offered_per_s: offered.offered_per_s,
        delivered: latencies.length,
        delivered_per_s: Math.round(latencies.length / Math.max(span, 0.001)),
        failed_publishes: offered.failed,
        latency_ms: latencySummary(latencies),
      };
    },
    async stop() {
      await stopHops();
      await jsm.streams.delete(stream).catch(() => undefined);
    },
  };
}
