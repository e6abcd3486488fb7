// What the whole-system tools share (grace up, grace migrate, grace bench, the crash test, the end-to-end
// tests): the launcher of the services as processes, and where NATS and Postgres come from.
export * from './launch.js';
export * from './infra.js';
