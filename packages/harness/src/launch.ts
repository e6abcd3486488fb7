// Grace's seven services (and the demo target) as separate child processes of one launcher: `grace up`, the
// system benchmark, the crash script and the end-to-end tests all start, watch, kill and restart them here.
import { withHeapOptions } from '@grace/service-kit';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const SERVICES = [
  'trigger-mesh',
  'sentinel',
  'action-executor',
  'verifier',
  'learning-loop',
  'cube-etl',
  'chat-gateway',
] as const;
export type ServiceName = (typeof SERVICES)[number];
/** Anything under services/ this launcher can run: the seven services and the demo target. */
export type ProcessName = ServiceName | 'demo-target';

/** The repository's root (the launcher runs the services from their sources with tsx). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export const mainOf = (name: ProcessName): string => `${REPO_ROOT}services/${name}/src/main.ts`;
/** The compiled entry point (`pnpm run build`), as a deployment runs it. */
export const distMainOf = (name: ProcessName): string => `${REPO_ROOT}services/${name}/dist/main.js`;

/** The start log line every service writes once it serves (kit: `<name> started`, with `http_port`). */
const startedLine = (name: ProcessName) => (name === 'demo-target' ? '"demo":"demo target' : `"msg":"${name} started"`);

/** Last `limit` characters of a growing text, so a long run does not keep all of its output. */
class Tail {
  private text = '';
  constructor(private readonly limit: number) {}
  add(chunk: string) {
    this.text += chunk;
    if (this.text.length > this.limit * 2) this.text = this.text.slice(-this.limit);
  }
  toString() {
    return this.text.length > this.limit ? this.text.slice(-this.limit) : this.text;
  }
}

export interface ManagedProcess {
  readonly name: ProcessName;
  readonly child: ChildProcess;
  /** The side server's port, from the start log line (undefined for the demo target). */
  readonly httpPort: number | undefined;
  /** The last OUTPUT_TAIL characters of stdout and stderr. */
  output(): string;
}

export interface LaunchOptions {
  /** Environment of every process (NATS_URL, DATABASE_URL, GRACE_NAMESPACE, LOG_LEVEL, …) on top of ours. */
  env?: NodeJS.ProcessEnv;
  /** Environment of one process, on top of `env`. */
  envOf?: Partial<Record<ProcessName, NodeJS.ProcessEnv>>;
  /** Every complete output line of every process, as it comes (for a pretty terminal or a collector). */
  onLine?: (name: ProcessName, line: string, stream: 'stdout' | 'stderr') => void;
  /** Called when a process exits without being asked to (after it started or while starting). */
  onExit?: (name: ProcessName, code: number | null, signal: NodeJS.Signals | null) => void;
  /** How long a process may take to log that it started (default 60 s). */
  startTimeoutMs?: number;
  /** How much output to keep per process (default 4 MiB). */
  outputTail?: number;
  /** Extra node arguments (e.g. --max-old-space-size). */
  nodeArgs?: string[];
  /**
   * `source` (default): run src/main.ts with tsx; `dist`: run the compiled dist/main.js with plain node, as a
   * deployment does (no TypeScript loader in the process; build first).
   */
  from?: 'source' | 'dist';
  /** Aborting it while processes start stops them (SIGTERM) and rejects the launch (a Ctrl-C during start). */
  signal?: AbortSignal;
}

export interface RunningProcesses {
  readonly processes: ReadonlyMap<ProcessName, ManagedProcess>;
  /** The side-server port of each started service. */
  port(name: ServiceName): number;
  /** Send `signal` to one process and wait until it has exited. */
  kill(name: ProcessName, signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Start one process again (after `kill`), with the same environment plus `env`; waits until it started. */
  restart(name: ProcessName, env?: NodeJS.ProcessEnv): Promise<ManagedProcess>;
  /** SIGTERM every process (SIGKILL after `graceMs`, default 30 s); resolves with each one's exit code. */
  stop(graceMs?: number): Promise<Record<string, number | null>>;
}

export function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** Start `names` as processes and wait until each one logged that it started; on a failure none stays running. */
export async function launch(names: readonly ProcessName[], options: LaunchOptions = {}): Promise<RunningProcesses> {
  const processes = new Map<ProcessName, ManagedProcess>();
  const stopping = new Set<ProcessName>();
  let stoppingAll = false;

  const spawnOne = (name: ProcessName, extraEnv: NodeJS.ProcessEnv = {}): ManagedProcess => {
    const fromDist = options.from === 'dist';
    const main = fromDist ? distMainOf(name) : mainOf(name);
    if (!existsSync(main))
      throw new Error(`no such service: ${name} (${main} does not exist${fromDist ? '; run pnpm run build' : ''})`);
    const loader = fromDist ? [] : ['--conditions=source', '--import', 'tsx'];
    const env = { ...process.env, ...options.env, ...options.envOf?.[name], ...extraEnv };
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...loader, main], {
      cwd: `${REPO_ROOT}services/${name}`,
      // The heap a deployment gives it (the image's NODE_OPTIONS), unless the caller's NODE_OPTIONS sets its own.
      env: { ...env, NODE_OPTIONS: withHeapOptions(env.NODE_OPTIONS) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const tail = new Tail(options.outputTail ?? 4 * 1024 * 1024);
    for (const stream of ['stdout', 'stderr'] as const) {
      let partial = '';
      child[stream]?.setEncoding('utf8');
      child[stream]?.on('data', (chunk: string) => {
        tail.add(chunk);
        if (!options.onLine) return;
        const lines = (partial + chunk).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) if (line) options.onLine(name, line, stream);
      });
      child[stream]?.on('end', () => {
        if (partial && options.onLine) options.onLine(name, partial, stream);
        partial = '';
      });
    }
    const managed = { name, child, httpPort: undefined as number | undefined, output: () => tail.toString() };
    child.once('exit', (code, signal) => {
      if (!stoppingAll && !stopping.has(name) && processes.get(name)?.child === child)
        options.onExit?.(name, code, signal);
    });
    return managed;
  };

  const awaitStarted = async (managed: ManagedProcess & { httpPort: number | undefined }) => {
    const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
    const marker = startedLine(managed.name);
    for (;;) {
      const { child } = managed;
      if (options.signal?.aborted) throw new Error(`start of ${managed.name} cancelled`);
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(
          `${managed.name} exited (${child.exitCode ?? child.signalCode}) while starting:\n${managed.output().slice(-3000)}`,
        );
      }
      const line = managed
        .output()
        .split('\n')
        .find((l) => l.includes(marker));
      if (line) {
        if (managed.name !== 'demo-target') managed.httpPort = (JSON.parse(line) as { http_port: number }).http_port;
        return managed;
      }
      if (Date.now() > deadline) {
        throw new Error(
          `${managed.name} did not start within ${options.startTimeoutMs ?? 60_000} ms:\n${managed.output().slice(-3000)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const killOne = async (name: ProcessName, signal: NodeJS.Signals = 'SIGTERM', graceMs = 30_000) => {
    const managed = processes.get(name);
    if (!managed) throw new Error(`${name} was not launched`);
    stopping.add(name);
    const { child } = managed;
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    try {
      return await exitOf(child);
    } finally {
      clearTimeout(timer);
    }
  };

  try {
    for (const name of names) processes.set(name, spawnOne(name));
    // Start in parallel, then wait for each: the services do not depend on each other to start.
    for (const managed of processes.values())
      await awaitStarted(managed as ManagedProcess & { httpPort: number | undefined });
  } catch (err) {
    stoppingAll = true;
    // Cancelled: let those that started drain (the others die of the signal); failed: none may stay.
    const cancelled = options.signal?.aborted === true;
    for (const m of processes.values()) m.child.kill(cancelled ? 'SIGTERM' : 'SIGKILL');
    const timer = cancelled ? setTimeout(() => processes.forEach((m) => m.child.kill('SIGKILL')), 30_000) : undefined;
    await Promise.all([...processes.values()].map((m) => exitOf(m.child)));
    clearTimeout(timer);
    throw err;
  }

  return {
    processes,
    port(name) {
      const port = processes.get(name)?.httpPort;
      if (port === undefined) throw new Error(`${name} is not running`);
      return port;
    },
    kill: (name, signal) => killOne(name, signal),
    async restart(name, env) {
      if (!processes.has(name)) throw new Error(`${name} was not launched`);
      const old = processes.get(name)!;
      if (old.child.exitCode === null && old.child.signalCode === null) await killOne(name);
      const managed = spawnOne(name, env);
      processes.set(name, managed);
      stopping.delete(name);
      return awaitStarted(managed as ManagedProcess & { httpPort: number | undefined });
    },
    async stop(graceMs = 30_000) {
      stoppingAll = true;
      const codes: Record<string, number | null> = {};
      await Promise.all(
        [...processes.keys()].map(async (name) => {
          codes[name] = (await killOne(name, 'SIGTERM', graceMs)).code;
        }),
      );
      return codes;
    },
  };
}
