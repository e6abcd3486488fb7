// The report of one run, assembled from what each part measured: the run's facts, the loads, the baseline at
// two rates, each service's CPU and memory, the targets judged, the services' logs, exits and stop codes.
import { availableParallelism } from 'node:os';
import { SERVICES } from '../launch.js';
import type { RelayRun } from './baseline.js';
import { relayReport } from './baseline.js';
import { round, type BenchOptions } from './context.js';
import { redact } from './database.js';
import type { LogTally } from './logs.js';
import type { ProcessUsage } from './proc.js';
import { RELAY_HOPS } from './relay.js';
import type { BenchReport, IdlePostgres, IngestReport, RemediationReport, ServiceReport } from './report.js';
import { judge } from './targets.js';

/** One load's report and what each process used over it. */
interface LoadRun<Report> {
  report: Report;
  usage: Record<string, ProcessUsage>;
}

export interface Measured {
  options: BenchOptions;
  startedAt: Date;
  /** performance.now() at the start (the duration runs until the report is assembled). */
  started: number;
  loadAtStart: number[];
  namespace: string;
  database: string;
  relayIngest: RelayRun;
  relayRemediation: RelayRun;
  idle: IdlePostgres;
  ingest: LoadRun<IngestReport>;
  low: LoadRun<RemediationReport>;
  remediation: LoadRun<RemediationReport>;
  /** The services over the whole bench (from the first relay load to the end of the last load). */
  whole: { processes: Record<string, ProcessUsage> };
  logs: LogTally;
  exits: BenchReport['service_exits'];
  stopCodes: Record<string, number | null>;
}

/** Each service's CPU over the idle window and each load, and its peak memory over the whole bench. */
function serviceReports({
  relayRemediation,
  ingest,
  remediation,
  low,
  whole,
}: Measured): Record<string, ServiceReport> {
  const services: Record<string, ServiceReport> = {};
  for (const name of SERVICES) {
    services[name] = {
      cpu_pct: {
        idle: relayRemediation.idleServices[name]?.cpu_pct ?? 0,
        ingest: ingest.usage[name]?.cpu_pct ?? 0,
        remediation: remediation.usage[name]?.cpu_pct ?? 0,
        remediation_at_low_rate: low.usage[name]?.cpu_pct ?? 0,
      },
      rss_peak_mb: whole.processes[name]?.rss_peak_mb ?? 0,
      rss_hwm_mb: whole.processes[name]?.rss_hwm_mb ?? 0,
    };
  }
  return services;
}

export function assembleReport(measured: Measured): BenchReport {
  const { options, relayIngest, relayRemediation, ingest, remediation, low } = measured;
  const services = serviceReports(measured);
  const atIngestRate = relayReport(relayIngest);
  const atRemediationRate = relayReport(relayRemediation);
  const { targets, ratio, cpuRatio } = judge({
    ingest: ingest.report,
    remediation: remediation.report,
    low: low.report,
    relayAtRemediationRate: atRemediationRate,
    services,
  });
  const capturedRatio =
    relayIngest.result.latency_ms.p99 > 0
      ? round(ingest.report.reported_to_captured_ms.p99 / relayIngest.result.latency_ms.p99, 2)
      : null;
  return {
    bench: {
      started_at: measured.startedAt.toISOString(),
      duration_s: round((performance.now() - measured.started) / 1000),
      namespace: measured.namespace,
      database: measured.database,
      nats: redact(options.natsUrl),
      cores: availableParallelism(),
      // The machine may be shared: how busy it was before the bench began (1, 5, 15 minutes).
      load_average_at_start: measured.loadAtStart,
      node: process.version,
      seconds_per_load: options.seconds,
      services_from: options.from,
      settings: options.settings,
      kept: options.keep,
    },
    ingest: ingest.report,
    remediation: remediation.report,
    remediation_at_low_rate: low.report,
    baseline: {
      what: `${RELAY_HOPS} relay hops, each its own process: durable pull consumer -> parse + validate (error.reported) -> JetStream publish to the next subject -> ack; no Postgres`,
      at_ingest_rate: atIngestRate,
      at_remediation_rate: atRemediationRate,
    },
    ratio: {
      verified_p99_over_relay_p99: ratio,
      captured_p99_over_relay_p99: capturedRatio,
      cpu_per_remediation_over_relay_cpu_per_event: cpuRatio,
    },
    services,
    idle_postgres: measured.idle,
    targets,
    all_met: targets.every((t) => t.met),
    invalid_events: ingest.report.invalid_events + low.report.invalid_events + remediation.report.invalid_events,
    service_logs: measured.logs.toJSON(),
    service_exits: measured.exits,
    stop_codes: measured.stopCodes,
  };
}
