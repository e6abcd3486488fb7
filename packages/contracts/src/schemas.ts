// Every data schema by name (events, queries, adapter protocol), for documentation, code generation and tests.
export * from './events/errors.js';
export * from './events/incidents.js';
export * from './events/actions.js';
export * from './events/approvals.js';
export * from './events/contracts.js';
export * from './events/learning.js';
export * from './queries/trigger-mesh.js';
export * from './queries/sentinel.js';
export * from './queries/executor.js';
export * from './queries/verifier.js';
export * from './queries/learning.js';
export * from './queries/cube.js';
export * from './queries/remediation.js';
