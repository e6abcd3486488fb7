// A Jaeger all-in-one process (traces kept in memory) for `grace up --otel` and the tracing end-to-end test: the
// `jaeger` binary from PATH or from the tools folder scripts/tools.sh builds it into, its OTLP/HTTP receiver and its
// UI and query API on free ports of 127.0.0.1. Jaeger v2 (the `jaeger` command of module v1.75) reads only a YAML
// configuration: one is written next to its output for each start.
import { freePort } from '@grace/service-kit';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** The version scripts/tools.sh builds. */
export const JAEGER_VERSION = 'v1.75.0';

/** The tools folder of scripts/tools.sh: ${GRACE_TOOLS_DIR:-~/.cache/grace/tools}/bin. */
export const toolsBin = (env: NodeJS.ProcessEnv = process.env) =>
  join(env.GRACE_TOOLS_DIR || join(homedir(), '.cache/grace/tools'), 'bin');

/** The `jaeger` binary on PATH, else in the tools folder; undefined when there is none. */
export function findJaeger(env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of [...(env.PATH ?? '').split(delimiter), toolsBin(env)]) {
    const path = dir && join(dir, 'jaeger');
    if (path && existsSync(path)) return path;
  }
  return undefined;
}

export interface JaegerOptions {
  /** The binary (default: findJaeger()). */
  binary?: string;
  /** The UI and query API's port (default: a free one). */
  uiPort?: number;
  /** The OTLP/HTTP receiver's port (default: a free one). */
  otlpPort?: number;
  /** How long to wait for its query API to answer (default 30 s). */
  readyTimeoutMs?: number;
  /** Most traces kept in memory (default 100 000). */
  maxTraces?: number;
}

export interface JaegerProcess {
  /** What OTEL_EXPORTER_OTLP_ENDPOINT is set to for the services (http://127.0.0.1:<port>). */
  readonly otlpEndpoint: string;
  /** The UI (and the query API under /api). */
  readonly uiUrl: string;
  readonly binary: string;
  /** Its last output. */
  output(): string;
  /** Stop it (SIGTERM) and wait; the traces are gone. */
  stop(): Promise<void>;
}

/** The all-in-one role with in-memory storage, OTLP/HTTP in, the UI out; nothing else listens. */
function config(o: { uiPort: number; grpcPort: number; otlpPort: number; maxTraces: number }): string {
  return `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    resource:
      service.name: jaeger
    metrics:
      level: none
    logs:
      level: info
extensions:
  jaeger_query:
    # Its own spans would go to localhost:4317.
    enable_tracing: false
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:${o.uiPort}
    grpc:
      endpoint: 127.0.0.1:${o.grpcPort}
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: ${o.maxTraces}
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${o.otlpPort}
processors:
  batch:
    timeout: 100ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`;
}

/** Start Jaeger and wait until its query API answers. */
export async function startJaeger(options: JaegerOptions = {}): Promise<JaegerProcess> {
  const binary = options.binary ?? findJaeger();
  if (!binary)
    throw new Error(
      `no jaeger binary on PATH or in ${toolsBin()}: run scripts/tools.sh (it builds Jaeger ${JAEGER_VERSION} with Go)`,
    );
  const uiPort = options.uiPort ?? (await freePort());
  const otlpPort = options.otlpPort ?? (await freePort());
  const grpcPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'grace-jaeger-'));
  const file = join(dir, 'config.yaml');
  writeFileSync(file, config({ uiPort, grpcPort, otlpPort, maxTraces: options.maxTraces ?? 100_000 }));
  let output = '';
  const child: ChildProcess = spawn(binary, ['--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (d: Buffer) => (output = (output + d.toString()).slice(-20_000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const uiUrl = `http://127.0.0.1:${uiPort}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`jaeger (${binary}) exited while starting:\n${output.slice(-3000)}`);
    }
    const ready = await fetch(`${uiUrl}/api/services`, { signal: AbortSignal.timeout(1_000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `jaeger (${binary}) did not answer on ${uiUrl} within the start timeout:\n${output.slice(-3000)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { otlpEndpoint: `http://127.0.0.1:${otlpPort}`, uiUrl, binary, output: () => output, stop };
}
