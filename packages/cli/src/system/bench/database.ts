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

/**
 * The bench database's transaction and row counters (pg_stat_database; every backend flushes its counts within
 * about a second, so a reading taken right after work is slightly behind).
 */
export function databaseActivity(database: BenchDatabase) {
  const pool = createPool({
    url: database.url,
    schema: 'public',
    poolMax: 1,
    statementTimeoutMs: 10_000,
    applicationName: 'grace-bench',
  });
  return {
    async read(): Promise<DatabaseActivity> {
      const { rows } = await pool.query<Record<keyof DatabaseActivity, string>>(
        `select xact_commit as commits, xact_rollback as rollbacks, tup_inserted as rows_inserted,
                tup_updated as rows_updated, tup_deleted as rows_deleted
           from pg_stat_database where datname = current_database()`,
      );
      const row = rows[0];
      return {
        commits: Number(row?.commits ?? 0),
        rollbacks: Number(row?.rollbacks ?? 0),
        rows_inserted: Number(row?.rows_inserted ?? 0),
        rows_updated: Number(row?.rows_updated ?? 0),
        rows_deleted: Number(row?.rows_deleted ?? 0),
      };
    },
    close: () => pool.end(),
  };
}
