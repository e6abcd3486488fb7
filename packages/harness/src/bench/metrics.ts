// What each service says about its own time: the `*_duration_seconds` histograms of its /metrics (handler time
// per consumer, query time, the executor's adapter calls…), read before and after a load, so the report shows
// how many each did in the window and how long one took on average; and the commits each made
// (`grace_db_commits_total`), read the same way around a load and its drain.
import type { RunningProcesses, ServiceName } from '../launch.js';

type Totals = Map<string, { sum: number; count: number }>;

/** A service's /metrics text (Prometheus exposition format), or '' when it does not answer. */
async function scrape(port: number): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5_000) });
  return response.ok ? response.text() : '';
}

/** `<histogram>_sum` and `_count` per series, keyed `<histogram>{labels other than service}`. */
async function durationTotals(port: number): Promise<Totals> {
  const totals: Totals = new Map();
  for (const line of (await scrape(port)).split('\n')) {
    const match = /^(\w+_duration_seconds)_(sum|count)(?:\{(.*)\})? ([\d.eE+-]+)$/.exec(line);
    if (!match) continue;
    const [, name, part, labels = '', value] = match;
    const kept = labels
      .split(/,(?=\w+=")/)
      .filter((l) => l && !l.startsWith('service='))
      .join(',');
    const key = `${name}{${kept}}`;
    const entry = totals.get(key) ?? { sum: 0, count: 0 };
    if (part === 'sum') entry.sum = Number(value);
    else entry.count = Number(value);
    totals.set(key, entry);
  }
  return totals;
}

export type Timings = Record<string, Record<string, { n: number; mean_ms: number }>>;

/** Reads every service's duration histograms now; `finish()` reads them again and returns the difference. */
export async function startTimings(system: RunningProcesses, services: readonly ServiceName[]) {
  const read = async () =>
    new Map(
      await Promise.all(
        services.map(
          async (name) => [name, await durationTotals(system.port(name)).catch(() => new Map())] as [string, Totals],
        ),
      ),
    );
  const before = await read();
  return {
    async finish(): Promise<Timings> {
      const after = await read();
      const timings: Timings = {};
      for (const [service, totals] of after) {
        for (const [key, { sum, count }] of totals) {
          const earlier = before.get(service)?.get(key) ?? { sum: 0, count: 0 };
          const n = count - earlier.count;
          if (n <= 0) continue;
          (timings[service] ??= {})[key] = { n, mean_ms: Math.round(((sum - earlier.sum) / n) * 10_000) / 10 };
        }
      }
      return timings;
    },
  };
}

/** The counters of transactions a service committed and statements it sent (every service's kit exports them). */
export const COMMITS_METRIC = 'grace_db_commits_total';
export const STATEMENTS_METRIC = 'grace_db_statements_total';

/** The sum of a counter's series in one exposition, or null when the service does not export it. */
function counterTotal(text: string, metric: string): number | null {
  let total: number | null = null;
  for (const line of text.split('\n')) {
    const match = /^(\w+)(?:\{.*\})? ([\d.eE+-]+)$/.exec(line);
    if (match?.[1] === metric) total = (total ?? 0) + Number(match[2]);
  }
  return total;
}

export interface DbCounters {
  commits: Record<string, number | null>;
  statements: Record<string, number | null>;
}

/** Every service's commits and statements so far; null for one without the metric or not answering. */
export async function readDbCounters(system: RunningProcesses, services: readonly ServiceName[]): Promise<DbCounters> {
  const texts = await Promise.all(services.map((name) => scrape(system.port(name)).catch(() => '')));
  const each = (metric: string) =>
    Object.fromEntries(services.map((name, i) => [name, counterTotal(texts[i] ?? '', metric)]));
  return { commits: each(COMMITS_METRIC), statements: each(STATEMENTS_METRIC) };
}
