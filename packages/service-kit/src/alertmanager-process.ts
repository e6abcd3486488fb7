// The real Prometheus Alertmanager (Debian's prometheus-alertmanager) for tests: one process on a free port,
// clustering off, whose one receiver is a webhook (send_resolved, a bearer token) on the URL the test gives; and the
// alerts API a Prometheus pushes to.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './nats-server.js';

export const ALERTMANAGER = process.env.ALERTMANAGER ?? '/usr/bin/prometheus-alertmanager';

export interface AlertmanagerProcess {
  url: string;
  child: ChildProcess;
  /** What it printed (stdout and stderr), for a failing test to show. */
  output: string[];
  /** SIGTERM, resolved once it exited. */
  stop(): Promise<void>;
}

export interface AlertmanagerOptions {
  /** Its config and storage go here. */
  dir: string;
  webhookUrl: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token: string;
  /** Grouping by alertname; short waits so a test sees the notifications in seconds. */
  groupWait?: string;
  groupInterval?: string;
  repeatInterval?: string;
}

export async function startAlertmanager(options: AlertmanagerOptions): Promise<AlertmanagerProcess> {
  const config = join(options.dir, 'alertmanager.yml');
  writeFileSync(
    config,
    [
      'route:',
      '  receiver: grace',
      "  group_by: ['alertname']",
      `  group_wait: ${options.groupWait ?? '1s'}`,
      `  group_interval: ${options.groupInterval ?? '1s'}`,
      `  repeat_interval: ${options.repeatInterval ?? '3s'}`,
      'receivers:',
      '  - name: grace',
      '    webhook_configs:',
      `      - url: ${options.webhookUrl}`,
      '        send_resolved: true',
      '        http_config:',
      '          authorization:',
      `            credentials: ${options.token}`,
    ].join('\n'),
  );
  const port = await freePort();
  const storage = join(options.dir, 'am-data');
  mkdirSync(storage, { recursive: true });
  const output: string[] = [];
  const child = spawn(
    ALERTMANAGER,
    [
      `--config.file=${config}`,
      `--storage.path=${storage}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
  const exit = new Promise<void>((done) => child.once('exit', () => done()));
  const url = `http://127.0.0.1:${port}`;
  for (let waited = 0; !(await fetch(`${url}/-/ready`).catch(() => undefined))?.ok; waited += 100) {
    if (waited >= 20_000 || child.exitCode !== null)
      throw new Error(`Alertmanager did not get ready on ${url}: ${output.join('').slice(-2000)}`);
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

/** Alerts as a client (Prometheus) pushes them: POST /api/v2/alerts; throws unless Alertmanager took them. */
export async function pushAlerts(url: string, alerts: unknown[]): Promise<void> {
  const res = await fetch(`${url}/api/v2/alerts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(alerts),
  });
  if (res.status !== 200) throw new Error(`Alertmanager refused the alerts: ${res.status} ${await res.text()}`);
}
