// CPU and memory of processes from /proc (Linux): utime+stime over a window as % of one core, and RSS
// sampled while the load runs (its peak), beside the kernel's high-water mark since the process started.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (100 on every Linux we know; asked once). */
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds (user + system) the process has used so far, or undefined when it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its closing one.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** A field of /proc/<pid>/status in kB (VmRSS, VmHWM), or undefined when the process is gone. */
function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Processes whose name (comm) and command line pass `match`, e.g. every postgres backend. */
export function findProcesses(match: (comm: string, args: string[]) => boolean): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean);
      if (match(comm, args)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** All cores together: busy and total jiffies since boot (from /proc/stat's first line). */
function machineJiffies(): { busy: number; total: number } {
  const [, ...values] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const n = values.map(Number);
  const idle = (n[3] ?? 0) + (n[4] ?? 0);
  const total = n.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}
const CORES = Math.max(1, readFileSync('/proc/stat', 'utf8').match(/^cpu\d+ /gm)?.length ?? 1);

export interface ProcessUsage {
  /** Average CPU over the window, % of one core (200 = two cores busy). */
  cpu_pct: number;
  /** Highest RSS sampled during the window (of the group's processes together), MB. */
  rss_peak_mb: number;
  /** The kernel's RSS high-water mark since the process started (start-up included), MB. */
  rss_hwm_mb: number;
}

const mb = (kb: number | undefined) => Math.round(((kb ?? 0) / 1024) * 10) / 10;
const sum = (values: (number | undefined)[]) => values.reduce<number>((a, b) => a + (b ?? 0), 0);

/**
 * Watches named processes (or groups of processes) over one window: `start()` takes the CPU counters, a timer
 * samples RSS every `sampleMs`, and `finish()` returns each one's usage over the window and the machine's busy
 * share. A group's processes are listed at the start and at the end; one that appeared meanwhile counts from 0.
 */
export class UsageWindow {
  private readonly cpuAtStart = new Map<number, number>();
  private readonly rssPeakKb = new Map<string, number>();
  private startPids = new Map<string, number[]>();
  private startedAt = 0;
  private machineAtStart = { busy: 0, total: 0 };
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pids: () => ReadonlyMap<string, number[]>,
    private readonly sampleMs = 250,
  ) {}

  start(): this {
    this.startedAt = performance.now();
    this.machineAtStart = machineJiffies();
    this.startPids = new Map(this.pids());
    for (const pid of [...this.startPids.values()].flat()) this.cpuAtStart.set(pid, cpuSeconds(pid) ?? 0);
    this.sample();
    this.timer = setInterval(() => this.sample(), this.sampleMs);
    this.timer.unref();
    return this;
  }

  private sample(): void {
    for (const [name, pids] of this.startPids) {
      const rss = sum(pids.map((pid) => statusKb(pid, 'VmRSS')));
      this.rssPeakKb.set(name, Math.max(this.rssPeakKb.get(name) ?? 0, rss));
    }
  }

  finish(): { seconds: number; machine_cpu_pct: number; processes: Record<string, ProcessUsage> } {
    clearInterval(this.timer);
    this.sample();
    const seconds = (performance.now() - this.startedAt) / 1000;
    const machine = machineJiffies();
    const processes: Record<string, ProcessUsage> = {};
    for (const [name, pids] of this.pids()) {
      const used = sum(pids.map((pid) => (cpuSeconds(pid) ?? 0) - (this.cpuAtStart.get(pid) ?? 0)));
      processes[name] = {
        cpu_pct: Math.round((used / seconds) * 1000) / 10,
        rss_peak_mb: mb(this.rssPeakKb.get(name)),
        rss_hwm_mb: mb(sum(pids.map((pid) => statusKb(pid, 'VmHWM')))),
      };
    }
    const total = machine.total - this.machineAtStart.total;
    const busyShare = total > 0 ? (machine.busy - this.machineAtStart.busy) / total : 0;
    return {
      seconds: Math.round(seconds * 10) / 10,
      // As % of one core, like the processes' figures.
      machine_cpu_pct: Math.round(busyShare * CORES * 1000) / 10,
      processes,
    };
  }
}
