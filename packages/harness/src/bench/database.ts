// The benchmark's own Postgres database (grace_bench_<id>) on the server of DATABASE_URL: created empty before
// the services start (each migrates its schema into it), dropped afterwards unless the run keeps it.
import { createPool } from '@grace/service-kit';

export interface BenchDatabase {
  name: string;
  /** DATABASE_URL of the services: the same server, the bench's database. */
  url: string;
  drop(): Promise<void>;
}

const adminPool = (url: string) =>
  createPool({ url, schema: 'public', poolMax: 1, statementTimeoutMs: 60_000, applicationName: 'grace-bench' });

export async function createBenchDatabase(serverUrl: string, id: string): Promise<BenchDatabase> {
  const name = `grace_bench_${id}`;
  const pool = adminPool(serverUrl);
  try {
    await pool.query(`create database "${name}"`);
  } catch (err) {
    throw new Error(
      `could not create database ${name} on ${redact(serverUrl)} (${(err as Error).message}); the bench needs a role that may create databases`,
    );
  } finally {
    await pool.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    async drop() {
      const admin = adminPool(serverUrl);
      try {
        // WITH (FORCE) (Postgres 13+) ends connections a killed service may have left behind.
        await admin.query(`drop database if exists "${name}" with (force)`);
      } finally {
        await admin.end();
      }
    },
  };
}

/** A connection URL without its password, for messages. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

export interface DatabaseActivity {
  commits: number;
  rollbacks: number;
  rows_inserted: number;
  rows_updated: number;
  rows_deleted: number;
}

/** Rows a table's (or a schema's) statements inserted, updated and deleted so far (pg_stat_user_tables). */
export interface TableRows {
  inserted: number;
  updated: number;
  deleted: number;
}

/** Both readings at one moment: the database's counters and every user table's, keyed `schema.table`. */
export interface ActivityReading {
  database: DatabaseActivity;
  tables: Map<string, TableRows>;
  /** performance.now() of the reading. */
  at: number;
  /** Statements the bench's own reader had run before this one (each one a commit in pg_stat_database). */
  own_statements: number;
}

/**
 * pg_stat counters reach the shared statistics only when a backend flushes them: when it goes idle, at most once
 * a second (and a backend that went idle too soon after its last flush holds them until it is busy again or for
 * up to 10 s). A reading after a load therefore waits this long, then until the rows written stop changing.
 */
const FLUSH_WAIT_MS = 1_200;
const STABLE_POLL_MS = 400;
const STABLE_MAX_MS = 4_000;

const written = (rows: TableRows) => rows.inserted + rows.updated + rows.deleted;

/**
 * The bench database's transaction and row counters (pg_stat_database) and every user table's rows
 * (pg_stat_user_tables); `settled()` reads them once the backends' pending counts have reached the statistics.
 */
export function databaseActivity(database: BenchDatabase) {
  const pool = createPool({
    url: database.url,
    schema: 'public',
    poolMax: 1,
    statementTimeoutMs: 10_000,
    applicationName: 'grace-bench',
  });
  let statements = 0;
  const read = async (): Promise<ActivityReading> => {
    const own = statements;
    statements += 1;
    const at = performance.now();
    // One statement (one commit of the bench's own, one snapshot of the statistics) for both.
    const { rows } = await pool.query<{ database: Record<keyof DatabaseActivity, string> | null; tables: unknown }>(
      `select (select row_to_json(d) from (
                 select xact_commit as commits, xact_rollback as rollbacks, tup_inserted as rows_inserted,
                        tup_updated as rows_updated, tup_deleted as rows_deleted
                   from pg_stat_database where datname = current_database()) d) as database,
              (select coalesce(json_agg(json_build_array(schemaname || '.' || relname, n_tup_ins, n_tup_upd,
                                                         n_tup_del)), '[]')
                 from pg_stat_user_tables) as tables`,
    );
    const database = rows[0]?.database;
    const tables = (rows[0]?.tables ?? []) as [string, number, number, number][];
    return {
      database: {
        commits: Number(database?.commits ?? 0),
        rollbacks: Number(database?.rollbacks ?? 0),
        rows_inserted: Number(database?.rows_inserted ?? 0),
        rows_updated: Number(database?.rows_updated ?? 0),
        rows_deleted: Number(database?.rows_deleted ?? 0),
      },
      tables: new Map(
        tables.map(([name, inserted, updated, deleted]) => [
          name,
          { inserted: Number(inserted), updated: Number(updated), deleted: Number(deleted) },
        ]),
      ),
      at,
      own_statements: own,
    };
  };
  const rowsWritten = (reading: ActivityReading) =>
    [...reading.tables.values()].reduce((sum, rows) => sum + written(rows), 0);
  return {
    read,
    /** A reading after work: wait for the backends to flush, then until two readings' rows written agree. */
    async settled(): Promise<ActivityReading> {
      await new Promise((r) => setTimeout(r, FLUSH_WAIT_MS));
      const until = performance.now() + STABLE_MAX_MS;
      let reading = await read();
      while (performance.now() < until) {
        await new Promise((r) => setTimeout(r, STABLE_POLL_MS));
        const next = await read();
        const stable = rowsWritten(next) === rowsWritten(reading);
        reading = next;
        if (stable) break;
      }
      return reading;
    },
    close: () => pool.end(),
  };
}
