// The real Prometheus tools (Debian's prometheus package) for tests: `promtool check metrics` on what a /metrics
// answers, `promtool check rules`, and a Prometheus server on a free port scraping the targets a test gives.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './nats-server.js';
import { startReadyProcess, type ReadyProcess } from './ready-process.js';

export const PROMTOOL = process.env.PROMTOOL ?? '/usr/bin/promtool';
export const PROMETHEUS = process.env.PROMETHEUS ?? '/usr/bin/prometheus';

const INSTALL =
  "install Debian's prometheus package (apt-get install prometheus: /usr/bin/promtool and /usr/bin/prometheus)";

function requireBinary(binary: string, what: string): void {
  if (!existsSync(binary)) throw new Error(`${what} is not at ${binary}: ${INSTALL}`);
}

/** What promtool said: its exit code (0: no problem) and everything it printed. */
export interface PromtoolResult {
  code: number | null;
  output: string;
}

function promtool(args: string[], input: string | undefined, binary: string): PromtoolResult {
  requireBinary(binary, 'promtool');
  const run = spawnSync(binary, args, { input, encoding: 'utf8', timeout: 30_000 });
  if (run.error) throw new Error(`promtool ${args.join(' ')} did not run (${run.error.message}): ${INSTALL}`);
  return { code: run.status, output: `${run.stdout}${run.stderr}`.trim() };
}

/**
 * `promtool check metrics` on a text exposition (what /metrics answers): code 0 and no output when Prometheus'
 * linter finds nothing (names, suffixes, units, HELP). promtool accepts an empty input, this does not.
 */
export function checkMetrics(exposition: string, binary = PROMTOOL): PromtoolResult {
  if (exposition.trim() === '') return { code: 1, output: 'no metrics at all (an empty exposition)' };
  return promtool(['check', 'metrics'], exposition, binary);
}

/** `promtool check rules` on Prometheus rule files (recording and alerting rules). */
export function checkRules(files: readonly string[], binary = PROMTOOL): PromtoolResult {
  return promtool(['check', 'rules', ...files], undefined, binary);
}

/** One answer of Prometheus' HTTP API (`/api/v1/...`). */
export interface PrometheusAnswer<T> {
  status: 'success' | 'error';
  data: T;
  errorType?: string;
  error?: string;
  warnings?: string[];
}

export interface PrometheusQueryResult {
  resultType: 'vector' | 'matrix' | 'scalar' | 'string';
  result: { metric: Record<string, string>; value?: [number, string] }[];
}

export interface PrometheusTarget {
  labels: Record<string, string>;
  scrapeUrl: string;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
}

export interface PrometheusProcess extends ReadyProcess {
  /** An instant query (`/api/v1/query`), evaluated now. */
  query(expr: string): Promise<PrometheusAnswer<PrometheusQueryResult>>;
  /** The scrape targets (`/api/v1/targets`), active ones. */
  targets(): Promise<PrometheusTarget[]>;
}

export interface PrometheusOptions {
  /** Its config and storage go here. */
  dir: string;
  /** host:port of each /metrics to scrape, in one job. */
  targets: readonly string[];
  job?: string;
  /** Default 1s. */
  scrapeInterval?: string;
}

/** A Prometheus server on a free port of 127.0.0.1, its storage in `dir`, scraping `targets`' /metrics. */
export async function startPrometheus(options: PrometheusOptions): Promise<PrometheusProcess> {
  requireBinary(PROMETHEUS, 'prometheus');
  const interval = options.scrapeInterval ?? '1s';
  const config = join(options.dir, 'prometheus.yml');
  writeFileSync(
    config,
    [
      'global:',
      `  scrape_interval: ${interval}`,
      `  scrape_timeout: ${interval}`,
      `  evaluation_interval: ${interval}`,
      'scrape_configs:',
      `  - job_name: ${options.job ?? 'grace'}`,
      '    metrics_path: /metrics',
      '    static_configs:',
      `      - targets: [${options.targets.map((t) => `'${t}'`).join(', ')}]`,
      '',
    ].join('\n'),
  );
  const check = promtool(['check', 'config', config], undefined, PROMTOOL);
  if (check.code !== 0) throw new Error(`promtool refuses the generated config ${config}:\n${check.output}`);
  const port = await freePort();
  const storage = join(options.dir, 'prometheus-data');
  mkdirSync(storage, { recursive: true });
  const server = await startReadyProcess({
    name: 'Prometheus',
    binary: PROMETHEUS,
    args: [`--config.file=${config}`, `--storage.tsdb.path=${storage}`, `--web.listen-address=127.0.0.1:${port}`],
    port,
    readyPath: '/-/ready',
    timeoutMs: 30_000,
  });
  const { url } = server;
  const api = async <T>(path: string): Promise<PrometheusAnswer<T>> => {
    const res = await fetch(`${url}${path}`);
    return (await res.json()) as PrometheusAnswer<T>;
  };
  return {
    ...server,
    query: (expr) => api<PrometheusQueryResult>(`/api/v1/query?query=${encodeURIComponent(expr)}`),
    targets: async () =>
      (await api<{ activeTargets: PrometheusTarget[] }>('/api/v1/targets?state=active')).data.activeTargets,
  };
}
