// What the whole-system tools share (grace up, grace bench, the crash script, the end-to-end tests).
export * from './system/launch.js';
export * from './system/infra.js';
