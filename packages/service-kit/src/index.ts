// Public surface of @grace/service-kit: what services, the CLI and the harness build on, named one by one.
// The runner's and the relay's insides (inbox claims, side servers, stream and consumer set-up) stay in their
// modules; test support is `@grace/service-kit/testing`.

// A service: its definition, start-up, configuration and logging.
export {
  runService,
  startService,
  migrateService,
  type RunningService,
  type ServiceConfig,
  type ServiceDefinition,
  type ServiceParts,
  type ServiceRuntime,
  type TransactionEmit,
} from './service.js';
export { ConfigError, KitConfig } from './config.js';
export { createLogger, eventLogger, type Logger } from './logger.js';
export { HEAP_OPTIONS, withHeapOptions } from './heap.js';
export { DROPPED_DEFAULT_METRICS, KitMetrics } from './metrics.js';
export { Naming } from './naming.js';
// Traces (OpenTelemetry, off unless OTEL_EXPORTER_OTLP_ENDPOINT is set): a service's own spans and trace context.
export {
  currentTraceparent,
  startHttpClientSpan,
  startTracing,
  tracedFetch,
  tracingOn,
  tracingSettings,
  withSpan,
  type HttpClientSpan,
  type Tracing,
  type TracingSettings,
} from './tracing.js';

// Consumers, request-reply queries, periodic work and the bounded pool.
export {
  consumer,
  transactionalConsumers,
  TRANSACTIONAL_BATCH,
  type BatchContext,
  type BatchHandler,
  type ConsumerDefinition,
  type Emit,
  type EmitOptions,
  type Handler,
  type HandlerContext,
} from './consumer.js';
export {
  request,
  tracedRequest,
  decodeCursor,
  encodeCursor,
  QueryError,
  RequestFailedError,
  type QueryHandler,
  type QueryHandlers,
  type RequestOptions,
  type TracedRequestOptions,
} from './queries.js';
export { every, type Periodic } from './periodic.js';
export { WorkPool, type WorkPoolOptions } from './work-pool.js';
export { writeOutbox, OutboxRelay, type KitTables, type RelayOptions } from './outbox.js';
export { ensureStreams, type StreamSettings } from './nats.js';

// Postgres: handles, column types, locks, migrations, group commit.
export {
  createDb,
  createPool,
  advisoryLock,
  advisoryLockId,
  lockInTransaction,
  PREPARED_PER_CONNECTION,
  schemaForService,
  type DatabaseOptions,
  type DbHandle,
  type Timestamp,
} from './db.js';
export { runMigrations } from './migrate.js';
export { GroupCommit, type GroupCommitOptions, type TransactionRunner } from './group-commit.js';
export { kitTransaction, lastInTransaction } from './before-commit.js';

// Failures.
export { PermanentError, TimeoutError, errorMessage, sleep, type FailureKind } from './errors.js';

// HTTP: one error type and handler, capped bodies.
export {
  HttpError,
  httpErrorOf,
  jsonErrorHandler,
  sendHttpError,
  type HttpErrorBody,
  type HttpErrorDetail,
  type HttpErrorOptions,
  type JsonErrorHandler,
} from './http-errors.js';
export { readBodyCapped } from './fetch-body.js';

// Operator files: YAML with reasons per entry, watched and versioned.
export {
  OperatorFileError,
  compileOperatorFile,
  compileErrorMatch,
  compileNames,
  parseDuration,
  AttributeMatches,
  EntryName,
  NamePatterns,
  SeverityPatterns,
  type CompiledOperatorFile,
  type DurationOptions,
  type ErrorMatch,
  type FilePath,
  type FileProblem,
  type MatchableError,
  type NamedEntriesSpec,
  type OperatorFile,
  type OperatorFileOptions,
  type Report,
  type SeverityName,
} from './operator-file.js';
export {
  watchConfigFile,
  watchVersionedFile,
  type VersionedFile,
  type WatchFileOptions,
  type WatchedFile,
} from './file-watch.js';

// A nats-server process of its own (`grace up`, the crash harness).
export { startNatsServerProcess, freePort, type NatsServerOptions, type NatsServerProcess } from './nats-server.js';
