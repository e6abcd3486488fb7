// Every data schema by name, for documentation, code generation and tests.
export * from './events/errors.js';
