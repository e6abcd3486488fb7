// Grace's whole-system harnesses, run by the `grace bench` and `grace crash-test` verbs of the CLI: the benchmark
// (the seven services under open-loop load beside a bare 7-hop NATS relay) and the crash test (Grace under load
// while its processes and servers are killed and restarted). The launcher they stand on is `@grace/harness/system`.

// The benchmark.
export { runBench } from './bench/run.js';
export type { BenchOptions } from './bench/context.js';
export { TARGETS } from './bench/targets.js';
export type {
  BenchReport,
  CostPerItem,
  IdlePostgres,
  IngestReport,
  LoadReport,
  Latency,
  RelayReport,
  RemediationReport,
  RowsPerItem,
  ServiceReport,
  Target,
} from './bench/report.js';

// The crash test.
export {
  runCrashTest,
  type CrashReport,
  type CrashTestOptions,
  type FaultRecord,
  type UnexpectedExit,
} from './crash/run.js';
export { CRASH_CATALOG, FAULT_KIND } from './crash/catalog.js';
