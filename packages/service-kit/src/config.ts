// Configuration from environment variables: the kit's own settings plus each service's, validated at start.
import { Type, type Static, type TObject, type TProperties } from '@sinclair/typebox';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

/** Settings every service has; each has a default that runs against this machine's local servers. */
export const KitConfig = {
  NATS_URL: Type.String({ default: 'nats://127.0.0.1:4222', description: 'NATS server(s), comma separated' }),
  DATABASE_URL: Type.String({
    default: 'postgres://postgres@127.0.0.1:5432/postgres',
    pattern: '^postgres(ql)?://',
    description: 'PostgreSQL connection string',
  }),
  DB_SCHEMA: Type.Optional(
    Type.String({ pattern: '^[a-z_][a-z0-9_]{0,62}$', description: "the service's own schema (default: its name)" }),
  ),
  DB_POOL_MAX: Type.Integer({ default: 4, minimum: 1, maximum: 50 }),
  DB_STATEMENT_TIMEOUT_MS: Type.Integer({ default: 10_000, minimum: 100 }),
  DB_PREPARED_STATEMENTS: Type.Boolean({
    default: true,
    description: 'parse and plan each statement once per connection (false behind a pooler in transaction mode)',
  }),
  GRACE_NAMESPACE: Type.String({
    default: '',
    pattern: '^([A-Za-z0-9_-]{1,32})?$',
    description: 'prefix for every subject and stream, to share one NATS between deployments',
  }),
  STREAM_MAX_BYTES: Type.Integer({
    default: -1,
    minimum: -1,
    description:
      'size limit of each Grace stream in bytes (-1: none, streams are bounded by age); reserved on the NATS disk',
  }),
  STREAM_REPLICAS: Type.Integer({
    default: 1,
    minimum: 1,
    maximum: 5,
    description: 'copies of each Grace stream on a JetStream cluster (3 in production; more than 1 needs a cluster)',
  }),
  // An enum typed as its values (Type.String would type it string); Ajv checks it as any enum.
  STREAM_STORAGE: Type.Unsafe<'file' | 'memory'>({
    type: 'string',
    enum: ['file', 'memory'],
    default: 'file',
    description: "storage of each Grace stream when it is created (NATS cannot change an existing stream's)",
  }),
  HTTP_HOST: Type.String({ default: '0.0.0.0' }),
  HTTP_PORT: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, description: 'health, readiness, metrics' })),
  LOG_LEVEL: Type.String({ default: 'info', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] }),
  CONSUMER_CONCURRENCY: Type.Integer({ default: 6, minimum: 1, maximum: 256 }),
  CONSUMER_GROUP_MAX: Type.Integer({
    default: 8,
    minimum: 1,
    maximum: 256,
    description: 'most consumer batches that share one transaction (group commit; 1: each batch its own)',
  }),
  CONSUMER_GROUP_TRANSACTIONS: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 50,
      description:
        'consumer transactions in flight at once (default DB_POOL_MAX); batches ready meanwhile share the next',
    }),
  ),
  ACK_WAIT_MS: Type.Integer({ default: 10_000, minimum: 1_000 }),
  MAX_ATTEMPTS: Type.Integer({
    default: 5,
    minimum: 1,
    maximum: 100,
    description: 'handler tries before a dead letter',
  }),
  RETRY_BASE_MS: Type.Integer({ default: 1_000, minimum: 0, description: 'first retry delay, doubled each try' }),
  RETRY_MAX_MS: Type.Integer({ default: 30_000, minimum: 0 }),
  HANDLER_TIMEOUT_MS: Type.Integer({ default: 30_000, minimum: 100 }),
  REQUEST_TIMEOUT_MS: Type.Integer({ default: 5_000, minimum: 100 }),
  MAX_EVENT_BYTES: Type.Integer({ default: 65_536, minimum: 1_024 }),
  OUTBOX_BATCH_SIZE: Type.Integer({ default: 200, minimum: 1, maximum: 5_000 }),
  OUTBOX_POLL_MS: Type.Integer({ default: 1000, minimum: 10 }),
  // The relay's poll leaves younger rows to the transaction that wrote them (it publishes them after its commit).
  OUTBOX_SWEEP_AFTER_MS: Type.Integer({ default: 2_000, minimum: 0 }),
  OUTBOX_RETENTION_HOURS: Type.Integer({ default: 24, minimum: 1 }),
  INBOX_RETENTION_DAYS: Type.Integer({ default: 30, minimum: 1 }),
  SHUTDOWN_TIMEOUT_MS: Type.Integer({ default: 20_000, minimum: 0 }),
};

export const KitConfigSchema = Type.Object(KitConfig);
export type KitConfig = Static<typeof KitConfigSchema>;

export class ConfigError extends Error {
  constructor(
    readonly service: string,
    readonly problems: readonly string[],
  ) {
    super(`invalid configuration for ${service}: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

const ajv = new Ajv({ allErrors: true, coerceTypes: true, useDefaults: true, strict: true, allowUnionTypes: true });
addFormats(ajv);

/**
 * Read the kit's variables and the service's own from `env`, apply defaults, coerce numbers and booleans,
 * and throw ConfigError naming every missing or bad variable.
 */
export function loadConfig<P extends TProperties = Record<never, never>>(
  service: string,
  serviceProperties?: P,
  env: NodeJS.ProcessEnv = process.env,
): KitConfig & Static<TObject<P>> {
  const schema = Type.Object({ ...KitConfig, ...(serviceProperties ?? {}) }, { additionalProperties: false });
  const values: Record<string, unknown> = {};
  for (const key of Object.keys(schema.properties)) {
    const raw = env[key];
    if (raw !== undefined && raw !== '') values[key] = raw;
  }
  const check = ajv.compile(schema);
  if (!check(values)) {
    const problems = (check.errors ?? []).map((e) => {
      const params = e.params as Record<string, unknown>;
      if (e.keyword === 'required') return `${String(params.missingProperty)} is required`;
      const name = e.instancePath.replace(/^\//, '').split('/')[0] ?? '';
      return `${name} ${e.message ?? 'is invalid'} (got ${JSON.stringify(env[name])})`;
    });
    throw new ConfigError(service, [...new Set(problems)]);
  }
  return values as KitConfig & Static<TObject<P>>;
}
