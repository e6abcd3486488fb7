// Kysely on node-postgres: one small pool per service, pinned to the service's own schema, every statement bounded.
import { Kysely, PostgresDialect, sql, type ColumnType, type Transaction } from 'kysely';
import pg from 'pg';
import { endStatementSpan, startStatementSpan, tracingOn } from './tracing.js';

export interface DatabaseOptions {
  url: string;
  schema: string;
  poolMax: number;
  statementTimeoutMs: number;
  applicationName: string;
  /** Told of every commit the server makes for this pool: a COMMIT, or a statement outside a transaction. */
  onCommit?: () => void;
  /** Told of every statement sent (BEGIN and COMMIT included). */
  onStatement?: () => void;
  /**
   * Send statements with parameters as named prepared statements, so Postgres parses and plans each distinct
   * text once per connection, not on every call (off behind a pooler in transaction mode, e.g. PgBouncer).
   */
  prepare?: boolean;
}

/** Distinct statement texts one connection keeps prepared; texts past this run unnamed (parsed each time). */
export const PREPARED_PER_CONNECTION = 256;

/** A timestamptz column: read as a Date, written as a Date or an ISO string. */
export type Timestamp = ColumnType<Date, Date | string, Date | string>;

/** Either the pool or a transaction: for statements that may run in either (reads, single writes). */
export type DbHandle<DB> = Kysely<DB> | Transaction<DB>;

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export function assertSchemaName(schema: string): string {
  if (!SCHEMA_NAME.test(schema))
    throw new Error(`"${schema}" is not a valid schema name (lower-case letters, digits, _)`);
  return schema;
}

/** The schema a service owns: its name with dashes as underscores (`trigger-mesh` -> `trigger_mesh`). */
export function schemaForService(service: string): string {
  return assertSchemaName(service.replace(/-/g, '_'));
}

export function createPool(opts: DatabaseOptions): pg.Pool {
  assertSchemaName(opts.schema);
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.poolMax,
    application_name: opts.applicationName,
    connectionTimeoutMillis: 5_000,
    // Unqualified names resolve to the service's schema; statements and forgotten transactions are bounded.
    options: `-c search_path=${opts.schema} -c statement_timeout=${opts.statementTimeoutMs} -c idle_in_transaction_session_timeout=60000`,
  });
  // An idle client that loses its server emits here; without a listener the process would crash.
  pool.on('error', () => undefined);
  // A checked-out client has no pool listener: one that loses its server (a Postgres restart) while a
  // transaction holds it would crash the process. Its queries fail with the error; the pool drops it on release.
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
    instrument(client, opts);
  });
  return pool;
}

const BEGIN = /^\s*(begin|start\s+transaction)\b/i;
const END = /^\s*(commit|end|rollback|abort)\b/i;
const COMMIT = /^\s*(commit|end)\b/i;

/** "cached plan must not change result type": a table a prepared statement reads changed under it. */
const STALE_PLAN = '0A000';

/** The name each distinct statement text is prepared under, shared by every connection of the process. */
const statementNames = new Map<string, string>();
function statementName(text: string): string {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `g${statementNames.size.toString(36)}`;
    // Texts built with a varying number of values (IN lists, multi-row inserts) must not grow this without end.
    if (statementNames.size < 4 * PREPARED_PER_CONNECTION) statementNames.set(text, name);
    else return '';
  }
  return name;
}

/**
 * Wrap a client's `query`:
 * - count the transactions it commits as the server counts them (pg_stat_database.xact_commit): each COMMIT,
 *   and each statement run outside a transaction (Kysely sends BEGIN and COMMIT as plain statements, so the
 *   text of each query says which it is);
 * - send a statement with parameters (Kysely's `query(text, values)`) as a named prepared statement, at most
 *   PREPARED_PER_CONNECTION distinct texts per connection;
 * - while tracing is on, make each statement run inside a span a CLIENT span of its own (tracing.ts).
 */
function instrument(client: pg.PoolClient, opts: DatabaseOptions): void {
  let inTransaction = false;
  const prepared = new Set<string>();
  // Bumped when the server refuses a prepared statement because a migration changed what it returns (another
  // version's migration during a rolling upgrade): every statement is prepared again, under new names.
  let generation = 0;
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  const send = (...args: unknown[]) => {
    const first = args[0];
    const text = typeof first === 'string' ? first : ((first as { text?: string } | undefined)?.text ?? '');
    opts.onStatement?.();
    if (BEGIN.test(text)) inTransaction = true;
    else if (END.test(text)) {
      if (inTransaction && COMMIT.test(text)) opts.onCommit?.();
      inTransaction = false;
    } else if (!inTransaction) opts.onCommit?.();
    const values = args[1];
    if (opts.prepare && typeof first === 'string' && Array.isArray(values) && values.length > 0) {
      const base = statementName(first);
      const name = base && `${base}_${generation}`;
      if (name && (prepared.has(name) || prepared.size < PREPARED_PER_CONNECTION)) {
        prepared.add(name);
        const result = query({ name, text: first, values }, ...args.slice(2));
        // The caller still sees the failure (its transaction is retried); the next try prepares afresh.
        if (result instanceof Promise)
          result.catch((err: unknown) => {
            if ((err as { code?: string }).code === STALE_PLAN) {
              generation++;
              prepared.clear();
            }
          });
        return result;
      }
    }
    return query(...args);
  };
  // Tracing is decided before the pool connects: off, `query` is exactly `send`, with no check per statement.
  (client as unknown as { query: (...args: unknown[]) => unknown }).query = tracingOn()
    ? (...args: unknown[]) => {
        const first = args[0];
        const text = typeof first === 'string' ? first : ((first as { text?: string } | undefined)?.text ?? '');
        const span = startStatementSpan(text, opts.schema);
        const result = send(...args);
        if (span) endStatementSpan(span, result);
        return result;
      }
    : send;
}

export function createDb<DB>(opts: DatabaseOptions): { db: Kysely<DB>; pool: pg.Pool } {
  const pool = createPool(opts);
  return { db: new Kysely<DB>({ dialect: new PostgresDialect({ pool }) }), pool };
}

/**
 * Hold the transaction-scoped advisory lock named `key` until the transaction ends. The name is scoped to the
 * service's schema, so deployments (or test files) sharing one database never wait on each other's locks.
 */
export async function lockInTransaction<DB>(trx: Transaction<DB>, key: string): Promise<void> {
  await sql`select ${advisoryLock(key)}`.execute(trx);
}

/**
 * The expression that takes lockInTransaction's lock, to take it in a statement that also reads what needs no
 * lock (what it reads is as of the statement's start, before any wait for the lock).
 */
export const advisoryLock = (key: string) => sql<void>`pg_advisory_xact_lock(${advisoryLockId(key)})`;

/** The number of lockInTransaction's lock named `key` (a bigint), for SQL that takes it itself. */
export const advisoryLockId = (key: string) => sql<string>`hashtextextended(${key} || ':' || current_schema(), 0)`;
