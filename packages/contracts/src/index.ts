// Public surface of @grace/contracts.
export * from './common.js';
export * from './create.js';
export * from './dead-letter.js';
export * from './envelope.js';
export * as gateway from './gateway.js';
export { jsonSchemaDocuments } from './json-schemas.js';
export { eventExamples, queryExamples, remediationExamples } from './examples.js';
export * from './queries.js';
export * from './queries/remediation.js';
export * from './streams.js';
export * from './subjects.js';
export * from './validate.js';
export * as schemas from './schemas.js';
