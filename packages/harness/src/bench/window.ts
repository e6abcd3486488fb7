// What is measured around each load: the processes watched (the services and the infrastructure beside them),
// and what is started before a load and read after it (backlogs, CPU and memory, Postgres, the services' timings).
import { SERVICES } from '../launch.js';
import { BacklogPeaks, waitDrained } from './backlog.js';
import type { Bench } from './context.js';
import type { Activity } from './cost.js';
import { readDbCounters, startTimings } from './metrics.js';
import { UsageWindow, findProcesses, type ProcessUsage } from './proc.js';

const INFRASTRUCTURE = ['bench', 'nats-server', 'postgres'];

/** The bench process, the nats-server listening on the port of `natsUrl`, and every postgres process. */
export function infrastructurePids(natsUrl: string): () => Map<string, number[]> {
  let port = '4222';
  try {
    port = new URL(natsUrl.split(',')[0]!.trim()).port || '4222';
  } catch {
    // keep the default
  }
  const portOf = (args: string[]) => {
    const i = args.findIndex((a) => a === '-p' || a === '--port');
    return i >= 0 ? args[i + 1] : (args.find((a) => a.startsWith('--port='))?.slice(7) ?? '4222');
  };
  return () =>
    new Map([
      ['bench', [process.pid]],
      ['nats-server', findProcesses((comm, args) => comm === 'nats-server' && portOf(args) === port)],
      // Every backend of the server, whoever its client (on a shared machine, not only the bench's).
      ['postgres', findProcesses((comm) => comm === 'postgres')],
    ]);
}

/** Services and infrastructure in one window. */
export const everyPid = (bench: Bench) => () => new Map([...bench.servicePids(), ...bench.infrastructurePids()]);

/** CPU of the infrastructure processes over a window, % of one core. */
export const infrastructureCpu = (processes: Record<string, ProcessUsage>) =>
  Object.fromEntries(INFRASTRUCTURE.map((name) => [name, processes[name]?.cpu_pct ?? 0]));

/** Before a load: start watching backlogs, CPU and memory, Postgres activity and the services' timings. */
export async function beforeLoad(bench: Bench) {
  return {
    backlog: new BacklogPeaks(bench.jsm, bench.naming).start(),
    activityBefore: { database: await bench.database.read(), ...(await readDbCounters(bench.system, SERVICES)) },
    usage: new UsageWindow(everyPid(bench)).start(),
    // What the load cost includes the work it left for after it (the drain).
    costUsage: new UsageWindow(everyPid(bench), 1_000).start(),
    timings: await startTimings(bench.system, SERVICES),
  };
}

/**
 * After a load: wait until every consumer drained, then read what the load cost: CPU up to then, Postgres
 * activity once its statistics have settled (the services' commit counters at the same moment).
 */
export async function afterLoad(bench: Bench, what: string, costUsage: UsageWindow) {
  bench.options.progress(`${what}: waiting until every consumer has drained`);
  const drain = await waitDrained(bench.jsm, bench.naming, bench.options.drainTimeoutMs);
  const costWindow = costUsage.finish();
  const database = await bench.database.settled();
  const activityAfter: Activity = { database, ...(await readDbCounters(bench.system, SERVICES)) };
  return { drain, activityAfter, costWindow };
}
