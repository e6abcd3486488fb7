// The crash test (grace crash-test): Grace under load while its processes and servers are killed and restarted.
export { runCrashTest, type CrashReport, type CrashTestOptions, type FaultRecord, type UnexpectedExit } from './run.js';
export { CRASH_CATALOG, FAULT_KIND } from './catalog.js';
