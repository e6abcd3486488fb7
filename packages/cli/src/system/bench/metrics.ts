// What each service says about its own time: the `*_duration_seconds` histograms of its /metrics (handler time
// per consumer, query time, the executor's adapter calls…), read before and after a load, so the report shows
// how many each did in the window and how long one took on average.
import type { RunningProcesses, ServiceName } from '../launch.js';

type Totals = Map<string, { sum: number; count: number }>;

/** `<histogram>_sum` and `_count` per series, keyed `<histogram>{labels other than service}`. */
async function durationTotals(port: number): Promise<Totals> {
  const totals: Totals = new Map();
  const response = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5_000) });
  if (!response.ok) return totals;
  for (const line of (await response.text()).split('\n')) {
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
