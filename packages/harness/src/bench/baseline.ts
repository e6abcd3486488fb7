// The baseline: the bare relay (relay.ts) run at one rate, with what its hops and nats-server used meanwhile
// (and the idle services beside it).
import { round, type Bench } from './context.js';
import { RELAY_HOPS, type Relay, type RelayResult } from './relay.js';
import { UsageWindow, type ProcessUsage } from './proc.js';
import type { RelayReport } from './report.js';
import { everyPid, infrastructureCpu } from './window.js';

export interface RelayRun {
  result: RelayResult;
  idleServices: Record<string, ProcessUsage>;
  machine_cpu_pct: number;
  infrastructure_cpu_pct: Record<string, number>;
  processes: Pick<RelayReport, 'cpu_pct_total' | 'cpu_pct_max_hop' | 'rss_peak_mb_max' | 'cpu_ms_per_event'>;
}

export async function runRelay(bench: Bench, relay: Relay, rate: number): Promise<RelayRun> {
  bench.options.progress(`baseline: ${RELAY_HOPS}-hop relay at ${rate} events/s for ${bench.options.seconds} s`);
  // The services are idle meanwhile: their CPU here is what they cost doing nothing.
  const usage = new UsageWindow(() => new Map([...relay.pids(), ...everyPid(bench)()])).start();
  const result = await relay.run(rate, bench.options.seconds, bench.options.drainTimeoutMs);
  const window = usage.finish();
  const hops = Object.entries(window.processes)
    .filter(([name]) => name.startsWith('relay-hop'))
    .map(([, usage]) => usage);
  // What the relay's processes (the hops and nats-server) used per event through all seven hops.
  const relayCpuMs =
    [...hops, window.processes['nats-server']].reduce((sum, u) => sum + (u?.cpu_pct ?? 0), 0) * window.seconds * 10;
  return {
    result,
    idleServices: window.processes,
    machine_cpu_pct: window.machine_cpu_pct,
    infrastructure_cpu_pct: infrastructureCpu(window.processes),
    processes: {
      cpu_pct_total: round(hops.reduce((sum, h) => sum + h.cpu_pct, 0)),
      cpu_pct_max_hop: Math.max(0, ...hops.map((h) => h.cpu_pct)),
      rss_peak_mb_max: Math.max(0, ...hops.map((h) => h.rss_peak_mb)),
      cpu_ms_per_event: result.delivered > 0 ? round(relayCpuMs / result.delivered, 3) : null,
    },
  };
}

export const relayReport = (run: RelayRun): RelayReport => ({
  ...run.result,
  machine_cpu_pct: run.machine_cpu_pct,
  infrastructure_cpu_pct: run.infrastructure_cpu_pct,
  ...run.processes,
});
