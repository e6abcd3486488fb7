// The shape of `grace bench`'s JSON report, declared once: what assemble.ts builds and what the bench test reads.
import type { DatabaseActivity } from './database.js';
import type { BenchTarget } from './load.js';
import type { Timings } from './metrics.js';
import type { RelayResult } from './relay.js';

export interface Latency {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  n: number;
}

/** Rows a service's (or a table's) statements wrote per item; null when no item was delivered. */
export interface RowsPerItem {
  inserted: number | null;
  updated: number | null;
  deleted: number | null;
  /** inserted + updated + deleted */
  written: number | null;
}

/**
 * What one item (an error ingested, a remediation verified) cost, from the start of the load until the system
 * drained (idle costs meanwhile included, which weigh at low rates). Per item, null when no item was delivered.
 */
export interface CostPerItem {
  items: number;
  /** CPU ms per item of each process (services, bench, nats-server, postgres), their `total`, and `machine`: every core's busy time. */
  cpu_ms: Record<string, number | null>;
  /**
   * The bench database's counters (pg_stat_database) per item, and `rows_written` = inserted + updated + deleted;
   * the commits of the bench's own readings excluded.
   */
  postgres: Record<keyof DatabaseActivity | 'rows_written', number | null>;
  /**
   * The same net of what the services do while idle (`idle_postgres` times the database window): what the items
   * themselves cost, which the raw figures overstate at low rates.
   */
  postgres_net_of_idle: { commits: number | null; rows_written: number | null };
  /** From the reading before the load to the one after it (after the drain, once the statistics settled). */
  database_window_s: number;
  /** Per service: the rows of the tables of its schema (pg_stat_user_tables), per item. */
  rows_per_item: Record<string, RowsPerItem>;
  /** `schema.table` -> rows written per item, only tables written to. */
  tables: Record<string, number>;
  /** Per service: its own count of commits (`grace_db_commits_total` on /metrics) per item; null without the metric. */
  commits_per_item: Record<string, number | null>;
  /** Per service: the statements it sent (`grace_db_statements_total`, BEGIN and COMMIT included) per item. */
  statements_per_item: Record<string, number | null>;
}

/** The seven services' Postgres activity while idle: measured over the relay runs (the bench's own readings excluded). */
export interface IdlePostgres {
  seconds: number;
  commits_per_s: number;
  rows_written_per_s: number;
}

/** What every load reports about the machine and the consumers. */
export interface LoadReport {
  consumer_backlog_peak: Record<string, number>;
  drain: { drained: boolean; seconds: number; left: Record<string, number> };
  machine_cpu_pct: number;
  infrastructure_cpu_pct: Record<string, number>;
  /** Each service's duration histograms over the load: how many, and the mean (a handler's includes its wait for a connection). */
  service_timings: Timings;
  /** Events on the watched subjects that broke their contract (never counted as delivered). */
  invalid_events: number;
}

export interface IngestReport extends LoadReport {
  rate: number;
  seconds: number;
  distinct_ratio: number;
  offered: number;
  published: number;
  failed_publishes: number;
  offered_per_s: number;
  /** Occurrences trigger-mesh counted (the sum of its captures' total_count, asked over NATS). */
  ingested: number;
  ingested_per_s: number;
  /**
   * Offered errors trigger-mesh did not count: should be 0. A publish whose acknowledgement timed out may
   * still have been stored (and counted), so this is taken against what was offered; `lost` is what JetStream
   * acknowledged and trigger-mesh never counted.
   */
  unaccounted: number;
  lost: number;
  /** From the last offer until trigger-mesh had handled every error. */
  caught_up_ms: number | null;
  fingerprints: number;
  first_captures_expected: number;
  first_captures_delivered: number;
  count_updates_announced: number;
  reported_to_captured_ms: Latency;
  /** What one error ingested cost. */
  cost_per_error: CostPerItem;
}

export interface RemediationReport extends LoadReport {
  rate: number;
  seconds: number;
  offered: number;
  published: number;
  failed_publishes: number;
  offered_per_s: number;
  captured: number;
  requested: number;
  executed: number;
  verdicts: Record<string, number>;
  verified: number;
  verified_per_s: number;
  denied: Record<string, number>;
  escalated: number;
  /** Offered errors whose flow neither reached a verdict of verified nor was escalated: should be 0. */
  unfinished: number;
  caught_up_ms: number | null;
  reported_to_captured_ms: Latency;
  reported_to_requested_ms: Latency;
  reported_to_executed_ms: Latency;
  reported_to_verified_ms: Latency;
  reported_to_verified_excluding_action_ms: Latency;
  /** The action itself: the bench target's time from a request's arrival to its answer. */
  action_ms: Latency;
  /** The executor's started_at -> finished_at (ms resolution): its steps around the adapter call and the call. */
  executor_action_window_ms: Latency;
  /** Where the time goes, between consecutive sightings of one flow. */
  hops_ms: Record<string, Latency>;
  target: ReturnType<BenchTarget['counts']>;
  /** What one verified remediation cost. */
  cost_per_remediation: CostPerItem;
}

/** The bare relay at one rate, with what its processes used meanwhile. */
export interface RelayReport extends RelayResult {
  machine_cpu_pct: number;
  infrastructure_cpu_pct: Record<string, number>;
  /** The seven hop processes together, % of one core. */
  cpu_pct_total: number;
  cpu_pct_max_hop: number;
  rss_peak_mb_max: number;
  /** CPU ms of the hop processes and nats-server per event delivered through all seven hops; null when none was. */
  cpu_ms_per_event: number | null;
}

export interface ServiceReport {
  /** % of one core: idle (while the relay ran), and over each load. */
  cpu_pct: { idle: number; ingest: number; remediation: number; remediation_at_low_rate: number };
  /** Highest RSS sampled every 250 ms from the first relay load to the end of the last load. */
  rss_peak_mb: number;
  /** The kernel's RSS high-water mark (VmHWM) at the end: the process's peak since it started. */
  rss_hwm_mb: number;
}

export interface Target {
  name: string;
  target: string;
  measured: unknown;
  met: boolean;
}

export interface BenchReport {
  bench: {
    started_at: string;
    duration_s: number;
    namespace: string;
    database: string;
    nats: string;
    cores: number;
    /** The machine may be shared: how busy it was before the bench began (1, 5, 15 minutes). */
    load_average_at_start: number[];
    node: string;
    seconds_per_load: number;
    services_from: 'source' | 'dist';
    settings: Record<string, Record<string, string> | undefined>;
    kept: boolean;
  };
  ingest: IngestReport;
  /** The remediation load at `--remediation-rate`. */
  remediation: RemediationReport;
  /** The short extra remediation load at `--low-rate`, run before the main one. */
  remediation_at_low_rate: RemediationReport;
  baseline: {
    what: string;
    at_ingest_rate: RelayReport;
    at_remediation_rate: RelayReport;
  };
  ratio: {
    verified_p99_over_relay_p99: number | null;
    captured_p99_over_relay_p99: number | null;
    /** Machine CPU per remediation over the relay's CPU per event at the remediation rate. */
    cpu_per_remediation_over_relay_cpu_per_event: number | null;
  };
  services: Record<string, ServiceReport>;
  idle_postgres: IdlePostgres;
  targets: Target[];
  all_met: boolean;
  invalid_events: number;
  service_logs: Record<string, { lines: number; warn: number; error: number; first: string[] }>;
  service_exits: { service: string; code: number | null; signal: string | null }[];
  stop_codes: Record<string, number | null>;
}
