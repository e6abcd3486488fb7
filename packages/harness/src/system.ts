// What the whole-system tools share (grace up, grace migrate, grace bench, the crash test, the end-to-end
// tests): the launcher of the services as processes, where NATS and Postgres come from, and a Jaeger for traces.
export * from './launch.js';
export * from './infra.js';
export * from './jaeger.js';
