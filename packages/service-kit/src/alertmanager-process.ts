// The real Prometheus Alertmanager (Debian's prometheus-alertmanager) for tests: one process on a free port,
// clustering off, whose one receiver is a webhook (send_resolved, a bearer token) on the URL the test gives; and the
// alerts API a Prometheus pushes to.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './nats-server.js';
import { startReadyProcess, type ReadyProcess } from './ready-process.js';

export const ALERTMANAGER = process.env.ALERTMANAGER ?? '/usr/bin/prometheus-alertmanager';

/** The running Alertmanager: its URL, process, output and stop(). */
export type AlertmanagerProcess = ReadyProcess;

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
  return startReadyProcess({
    name: 'Alertmanager',
    binary: ALERTMANAGER,
    args: [
      `--config.file=${config}`,
      `--storage.path=${storage}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
    ],
    port,
    readyPath: '/-/ready',
    timeoutMs: 20_000,
  });
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
