// What every part of a bench run shares: the options `grace bench` passes, the running bench (connections,
// namespace, processes, database readings) that each load is handed, and two small helpers.
import type { Naming } from '@grace/service-kit';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import type { ProcessName, RunningProcesses } from '../launch.js';
import type { databaseActivity } from './database.js';
import type { IdlePostgres } from './report.js';

export interface BenchOptions {
  natsUrl: string;
  /** A Postgres server (any database on it); the bench creates its own database there. */
  databaseUrl: string;
  ingestRate: number;
  remediationRate: number;
  /** Rate of the short extra remediation load (its p99 at a low rate). */
  lowRate: number;
  /** Length of each load (the relay at two rates, ingest, remediation at two rates). */
  seconds: number;
  /** Share of the ingest load that are new fingerprints; the rest repeat HOT_FINGERPRINTS errors. */
  distinctRatio: number;
  /** How long to wait for deliveries after a load, and for the system to drain between loads. */
  drainTimeoutMs: number;
  /** Keep the database and the streams afterwards (to look at them). */
  keep: boolean;
  /** Run the services (and relay hops) compiled, as deployed (built first), or from their sources with tsx. */
  from: 'source' | 'dist';
  /** Extra environment per process (or `all`), on top of the bench's. */
  settings: Partial<Record<ProcessName | 'all', Record<string, string>>>;
  progress: (line: string) => void;
}

export const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Bench {
  options: BenchOptions;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  naming: Naming;
  runId: string;
  system: RunningProcesses;
  database: ReturnType<typeof databaseActivity>;
  /** The services' Postgres activity while idle (measured over the relay runs; zero until then). */
  idle: IdlePostgres;
  /** The seven services' processes by name. */
  servicePids: () => Map<string, number[]>;
  /** What else works for the load: this process (generator, target, observer), nats-server, postgres. */
  infrastructurePids: () => Map<string, number[]>;
}
