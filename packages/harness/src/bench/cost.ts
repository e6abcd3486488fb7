// What one item (an error ingested, a remediation verified) cost: CPU per process and of the machine, the bench
// database's commits and rows (per service, per table), the services' own commit and statement counters.
import { SERVICES } from '../launch.js';
import { round } from './context.js';
import type { ActivityReading, TableRows } from './database.js';
import type { DbCounters } from './metrics.js';
import type { ProcessUsage } from './proc.js';
import type { CostPerItem, IdlePostgres, RowsPerItem } from './report.js';

/** Where the bench's own database reading begins and ends for one load. */
export interface Activity extends DbCounters {
  database: ActivityReading;
}

/** pg_stat_database's counters between two readings, without the commits of the bench's own readings. */
export function databaseDelta(before: ActivityReading, after: ActivityReading): ActivityReading['database'] {
  const delta = (key: keyof ActivityReading['database']) => after.database[key] - before.database[key];
  return {
    commits: delta('commits') - (after.own_statements - before.own_statements),
    rollbacks: delta('rollbacks'),
    rows_inserted: delta('rows_inserted'),
    rows_updated: delta('rows_updated'),
    rows_deleted: delta('rows_deleted'),
  };
}

/** The schema a service owns: its name with `_` for `-`. */
const schemaOf = (service: string) => service.replace(/-/g, '_');

/**
 * What one item (an error ingested, a remediation verified) cost: CPU milliseconds per process and of the whole
 * machine from the start of the load until the system drained, and the bench database's commits and rows from
 * the start of the load until the statistics settled after it (idle costs meanwhile included, which weigh at
 * low rates): for the database, per service (its schema's tables; its own commit counter) and per table.
 */
export function costPerItem(
  items: number,
  window: { seconds: number; machine_cpu_pct: number; processes: Record<string, ProcessUsage> },
  before: Activity,
  after: Activity,
  idle: IdlePostgres,
): CostPerItem {
  const per = (n: number) => (items > 0 ? round(n / items, 2) : null);
  const cpu = Object.fromEntries(
    Object.entries(window.processes).map(([name, usage]) => [name, per(usage.cpu_pct * window.seconds * 10)]),
  );
  const total = Object.values(window.processes).reduce((sum, u) => sum + u.cpu_pct * window.seconds * 10, 0);
  const activity = databaseDelta(before.database, after.database);
  const db = (key: keyof ActivityReading['database']) => activity[key];
  const databaseWindowS = (after.database.at - before.database.at) / 1000;

  // Rows per schema (a service's), per table.
  const zero = (): TableRows => ({ inserted: 0, updated: 0, deleted: 0 });
  const bySchema = new Map<string, TableRows>(SERVICES.map((name) => [schemaOf(name), zero()]));
  const tables: Record<string, number> = {};
  for (const [name, rows] of after.database.tables) {
    const earlier = before.database.tables.get(name) ?? zero();
    const delta = {
      inserted: rows.inserted - earlier.inserted,
      updated: rows.updated - earlier.updated,
      deleted: rows.deleted - earlier.deleted,
    };
    const written = delta.inserted + delta.updated + delta.deleted;
    if (written === 0) continue;
    tables[name] = per(written)!;
    const schema = name.slice(0, name.indexOf('.'));
    const sum = bySchema.get(schema) ?? zero();
    bySchema.set(schema, {
      inserted: sum.inserted + delta.inserted,
      updated: sum.updated + delta.updated,
      deleted: sum.deleted + delta.deleted,
    });
  }
  const serviceOfSchema = new Map(SERVICES.map((name) => [schemaOf(name), name as string]));
  const rowsPerItem: Record<string, RowsPerItem> = {};
  for (const [schema, rows] of bySchema)
    rowsPerItem[serviceOfSchema.get(schema) ?? schema] = {
      inserted: per(rows.inserted),
      updated: per(rows.updated),
      deleted: per(rows.deleted),
      written: per(rows.inserted + rows.updated + rows.deleted),
    };
  const perItem = (counter: keyof DbCounters) =>
    Object.fromEntries(
      Object.entries(after[counter]).map(([name, n]) => {
        const earlier = before[counter][name];
        return [name, n === null || earlier === null || earlier === undefined ? null : per(n - earlier)];
      }),
    );
  return {
    items,
    cpu_ms: { ...cpu, total: per(total), machine: per(window.machine_cpu_pct * window.seconds * 10) },
    postgres: {
      commits: per(db('commits')),
      rollbacks: per(db('rollbacks')),
      rows_inserted: per(db('rows_inserted')),
      rows_updated: per(db('rows_updated')),
      rows_deleted: per(db('rows_deleted')),
      rows_written: per(db('rows_inserted') + db('rows_updated') + db('rows_deleted')),
    },
    postgres_net_of_idle: {
      commits: per(db('commits') - idle.commits_per_s * databaseWindowS),
      rows_written: per(
        db('rows_inserted') + db('rows_updated') + db('rows_deleted') - idle.rows_written_per_s * databaseWindowS,
      ),
    },
    database_window_s: round(databaseWindowS),
    rows_per_item: rowsPerItem,
    tables: Object.fromEntries(Object.entries(tables).sort((x, y) => y[1] - x[1])),
    commits_per_item: perItem('commits'),
    statements_per_item: perItem('statements'),
  };
}
