// A nats-server process (the binary from PATH) with JetStream: for `grace up` when no NATS is reachable, for the
// crash script that restarts NATS under load, and for tests that need their own server or a cluster of them.
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';

export interface NatsServerOptions {
  /** Client port (default: a free one). */
  port?: number;
  /** JetStream store directory (created when missing). */
  storeDir: string;
  /** HTTP monitoring port (off when unset). */
  monitorPort?: number;
  /** The binary (default `nats-server` on PATH). */
  binary?: string;
  /** How long to wait for it to accept connections (default 20 s). */
  readyTimeoutMs?: number;
  /** More arguments (a cluster member's: --server_name, --cluster_name, --cluster, --routes). */
  args?: readonly string[];
}

export interface NatsServerProcess {
  readonly url: string;
  readonly port: number;
  readonly pid: number | undefined;
  /** Stop it (SIGTERM, or the signal given) and wait for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Start it again on the same port and store. */
  start(): Promise<void>;
}

/** A port nothing listens on right now, on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Whether `binary` runs (e.g. `nats-server --version`). */
export function hasBinary(binary: string): boolean {
  const r = spawnSync(binary, ['--version'], { stdio: 'ignore' });
  return !r.error;
}

/** Start a nats-server with JetStream and wait until it accepts connections. */
export async function startNatsServerProcess(options: NatsServerOptions): Promise<NatsServerProcess> {
  const binary = options.binary ?? 'nats-server';
  if (!hasBinary(binary)) {
    throw new Error(
      `${binary} is not on PATH: install it (Debian/Ubuntu: apt-get install nats-server; macOS: brew install nats-server; ` +
        'or a release from https://github.com/nats-io/nats-server/releases), or set NATS_URL to a running server',
    );
  }
  const port = options.port ?? (await freePort());
  const url = `nats://127.0.0.1:${port}`;
  mkdirSync(options.storeDir, { recursive: true });
  let child: ChildProcess | undefined;
  let output = '';
  const exitedOf = (c: ChildProcess) =>
    c.exitCode !== null || c.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((r) => c.once('exit', () => r()));

  const start = async () => {
    const args = ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', options.storeDir];
    if (options.monitorPort !== undefined) args.push('-m', String(options.monitorPort));
    args.push(...(options.args ?? []));
    output = '';
    const c = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    c.stdout?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
    c.stderr?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
    const deadline = Date.now() + (options.readyTimeoutMs ?? 20_000);
    for (;;) {
      if (c.exitCode !== null || c.signalCode !== null) {
        throw new Error(`nats-server on port ${port} exited while starting: ${output.slice(-2000)}`);
      }
      try {
        const nc = await connect({ servers: url, timeout: 500, reconnect: false });
        await nc.close();
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`nats-server on port ${port} did not accept connections: ${output}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    const c = child;
    if (!c) return;
    child = undefined;
    c.kill(signal);
    await exitedOf(c);
  };
  await start();
  return {
    url,
    port,
    get pid() {
      return child?.pid;
    },
    start,
    stop,
  };
}

export interface NatsClusterOptions {
  /** Servers in the cluster (default 3). */
  size?: number;
  /** Each server keeps its JetStream store in <storeDir>/<its name> (n1, n2, ...). */
  storeDir: string;
  /** The binary (default `nats-server` on PATH). */
  binary?: string;
  /** How long to wait for the cluster to place a stream on every server (default 30 s). */
  readyTimeoutMs?: number;
}

export interface NatsClusterProcess {
  /** Every server's client URL, comma separated (as NATS_URL takes them). */
  readonly url: string;
  readonly servers: readonly NatsServerProcess[];
  /** Stop every server (SIGTERM, or the signal given) and wait for them to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * A JetStream cluster of `size` nats-servers on 127.0.0.1 (free client and route ports, each its own store and
 * server_name, every one routed to all), ready when a stream with `size` replicas can be created on it.
 */
export async function startNatsClusterProcess(options: NatsClusterOptions): Promise<NatsClusterProcess> {
  const size = options.size ?? 3;
  const ports = new Set<number>();
  while (ports.size < 2 * size) ports.add(await freePort());
  const [clientPorts, routePorts] = [[...ports].slice(0, size), [...ports].slice(size)];
  const routes = routePorts.map((p) => `nats://127.0.0.1:${p}`).join(',');
  const started = await Promise.allSettled(
    clientPorts.map((port, i) =>
      startNatsServerProcess({
        port,
        storeDir: join(options.storeDir, `n${i + 1}`),
        ...(options.binary ? { binary: options.binary } : {}),
        args: [
          '--server_name',
          `n${i + 1}`,
          '--cluster_name',
          'grace',
          '--cluster',
          `nats://127.0.0.1:${routePorts[i]}`,
          '--routes',
          routes,
        ],
      }),
    ),
  );
  const servers = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const stop = async (signal?: NodeJS.Signals) => {
    await Promise.all(servers.map((s) => s.stop(signal)));
  };
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) {
    await stop('SIGKILL');
    throw failed.reason;
  }
  const url = servers.map((s) => s.url).join(',');
  // The servers accept clients before they have elected a JetStream meta leader and met every peer: wait until a
  // stream can be placed on all of them.
  const nc = await connect({ servers: url.split(',') });
  try {
    const jsm = await jetstreamManager(nc, { checkAPI: false });
    const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
    for (;;) {
      try {
        await jsm.streams.add({ name: 'CLUSTER_READY', subjects: ['cluster.ready'], num_replicas: size });
        await jsm.streams.delete('CLUSTER_READY');
        break;
      } catch (err) {
        if (Date.now() > deadline) {
          await stop('SIGKILL');
          throw new Error(`the nats-server cluster on ${url} did not become ready: ${String(err)}`);
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  } finally {
    await nc.close();
  }
  return { url, servers, stop };
}
