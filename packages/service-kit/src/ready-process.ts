// A real third-party server a test runs (Alertmanager, Prometheus): spawned with its output kept, ready once its
// readiness URL answers 2xx, stopped with SIGTERM. One home for what every such test process needs.
import { spawn, type ChildProcess } from 'node:child_process';

export interface ReadyProcess {
  /** `http://127.0.0.1:<port>` of the server. */
  url: string;
  child: ChildProcess;
  /** What it printed (stdout and stderr), for a failing test to show. */
  output: string[];
  /** SIGTERM, resolved once it exited. */
  stop(): Promise<void>;
}

/**
 * Start `binary` with `args`, listening on `port`, and wait until `<url><readyPath>` answers 2xx; fails (killing it)
 * when it exits first or is not ready within `timeoutMs`, with the end of what it printed.
 */
export async function startReadyProcess(options: {
  name: string;
  binary: string;
  args: string[];
  port: number;
  readyPath: string;
  timeoutMs: number;
}): Promise<ReadyProcess> {
  const output: string[] = [];
  const child = spawn(options.binary, options.args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
  const exit = new Promise<void>((done) => child.once('exit', () => done()));
  const url = `http://127.0.0.1:${options.port}`;
  for (let waited = 0; !(await fetch(`${url}${options.readyPath}`).catch(() => undefined))?.ok; waited += 100) {
    if (waited >= options.timeoutMs || child.exitCode !== null) {
      if (child.exitCode === null) child.kill('SIGKILL');
      throw new Error(`${options.name} did not get ready on ${url}: ${output.join('').slice(-2000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    child,
    output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exit;
    },
  };
}
