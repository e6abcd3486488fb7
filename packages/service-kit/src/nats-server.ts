// A nats-server process (the binary from PATH) with JetStream: for `grace up` when no NATS is reachable, for the
// crash script that restarts NATS under load, and for tests that need their own server.
import { connect } from '@nats-io/transport-node';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';

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
