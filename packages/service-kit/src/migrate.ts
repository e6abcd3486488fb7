// Migrations: the kit's own tables (inbox, outbox) and then the service's, each with Kysely's Migrator.
import { sql, type Kysely, type Migration, Migrator } from 'kysely';

/** The kit's tables, created in every service's schema before the service's own migrations. */
const kitMigrations: Record<string, Migration> = {
  '0001_inbox_outbox': {
    async up(db) {
      await db.schema
        .createTable('inbox')
        .addColumn('consumer', 'text', (c) => c.notNull())
        .addColumn('event_id', 'text', (c) => c.notNull())
        .addColumn('handled_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addPrimaryKeyConstraint('inbox_pkey', ['consumer', 'event_id'])
        .execute();
      await db.schema.createIndex('inbox_handled_at').on('inbox').column('handled_at').execute();
      await db.schema
        .createTable('outbox')
        .addColumn('id', 'bigserial', (c) => c.primaryKey())
        .addColumn('event_id', 'text', (c) => c.notNull().unique())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('payload', 'jsonb', (c) => c.notNull())
        .addColumn('status', 'text', (c) =>
          c
            .notNull()
            .defaultTo('pending')
            .check(sql`status in ('pending', 'sent')`),
        )
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('sent_at', 'timestamptz')
        .execute();
      await db.schema
        .createIndex('outbox_pending')
        .on('outbox')
        .column('id')
        .where(sql.ref('status'), '=', 'pending')
        .execute();
      await db.schema.createIndex('outbox_sent_at').on('outbox').column('sent_at').execute();
    },
  },
  '0002_file_versions': {
    async up(db) {
      // Every version of an operator-owned file (routing rules, playbooks, policies) a service loaded.
      await db.schema
        .createTable('file_versions')
        .addColumn('version', 'serial', (c) => c.primaryKey())
        .addColumn('file', 'text', (c) => c.notNull())
        .addColumn('checksum', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('path', 'text', (c) => c.notNull())
        .addColumn('loaded_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addUniqueConstraint('file_versions_file_checksum', ['file', 'checksum'])
        .execute();
    },
  },
  '0003_inbox_batches': {
    async up(db) {
      // One inbox row per handled batch (the events' ids, and what they emitted, replayed on redelivery)
      // instead of one per event. The rows of the old table move over, grouped per consumer and hour.
      await sql`alter table inbox rename to inbox_events`.execute(db);
      await sql`alter table inbox_events rename constraint inbox_pkey to inbox_events_pkey`.execute(db);
      await sql`alter index inbox_handled_at rename to inbox_events_handled_at`.execute(db);
      await db.schema
        .createTable('inbox')
        .addColumn('id', 'bigserial', (c) => c.primaryKey())
        .addColumn('consumer', 'text', (c) => c.notNull())
        .addColumn('event_ids', sql`text[]`, (c) => c.notNull())
        .addColumn('outputs', 'jsonb')
        .addColumn('handled_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
      await sql`create index inbox_event_ids on inbox using gin (event_ids)`.execute(db);
      await db.schema.createIndex('inbox_handled_at').on('inbox').column('handled_at').execute();
      await sql`insert into inbox (consumer, event_ids, handled_at)
                select consumer, array_agg(event_id), max(handled_at) from inbox_events
                 group by consumer, date_trunc('hour', handled_at)`.execute(db);
      await db.schema.dropTable('inbox_events').execute();
    },
  },
  '0004_outbox_cursor': {
    async up(db) {
      // Rows are no longer marked sent one by one: a sweep walks them in (xid, id) order behind one cursor row.
      await sql`alter table outbox add column xid xid8 not null default pg_current_xact_id()`.execute(db);
      await sql`create index outbox_xid_id on outbox (xid, id)`.execute(db);
      await db.schema
        .createTable('outbox_cursor')
        .addColumn('id', 'integer', (c) => c.primaryKey().check(sql`id = 1`))
        .addColumn('xid', sql`xid8`, (c) => c.notNull())
        .addColumn('last_id', 'bigint', (c) => c.notNull())
        .execute();
      // Every existing row has this transaction's xid: the cursor stops just before the first pending one.
      await sql`insert into outbox_cursor (id, xid, last_id)
                select 1, pg_current_xact_id(),
                       coalesce((select min(id) - 1 from outbox where status = 'pending'), (select max(id) from outbox), 0)`.execute(
        db,
      );
      await sql`alter table outbox drop column status, drop column sent_at`.execute(db);
    },
  },
  '0005_claim_inbox': {
    async up(db) {
      // The inbox claim in one round trip: the per-event locks, then the read. A volatile PL/pgSQL function takes
      // a new snapshot for each statement, so the read sees what a batch that held a lock committed before it
      // let go (one statement doing both would read as of before its wait). Unqualified names resolve through
      // the caller's search_path: the service's schema.
      await sql`
        create or replace function claim_inbox(p_consumer text, p_ids text[])
        returns table (event_ids text[], outputs jsonb) language plpgsql volatile as $$
        begin
          perform pg_advisory_xact_lock(k) from (
            select distinct hashtextextended(p_consumer || ':' || id || ':' || current_schema(), 0) as k
              from unnest(p_ids) as id) as keys
            order by k;
          return query select i.event_ids, i.outputs from inbox i where i.consumer = p_consumer and i.event_ids && p_ids;
        end $$`.execute(db);
    },
  },
  '0006_inbox_index_direct': {
    async up(db) {
      // Every batch's claim searches the inbox's GIN index, and with fastupdate (the default) a search also reads
      // the index's whole pending list, which only a vacuum or a full 4 MB list flushes: with autovacuum slow or
      // off, each claim reads up to 4 MB. Entries now go straight into the index (one small array per batch);
      // what is pending is flushed once here.
      await sql`alter index inbox_event_ids set (fastupdate = off)`.execute(db);
      await sql`select gin_clean_pending_list('inbox_event_ids'::regclass)`.execute(db);
    },
  },
};

export class MigrationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MigrationError';
  }
}

async function migrate(db: Kysely<unknown>, schema: string, table: string, migrations: Record<string, Migration>) {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    migrationTableSchema: schema,
    migrationTableName: table,
    migrationLockTableName: `${table}_lock`,
  });
  let { error, results } = await migrator.migrateToLatest();
  // Kysely's setup lists the tables of every schema; a schema dropped at that moment by someone else
  // ("schema ... does not exist") fails it without touching ours: try again.
  for (let retry = 0; retry < 3 && error && !results && /does not exist/.test(String(error)); retry++) {
    await new Promise((r) => setTimeout(r, 100 * (retry + 1)));
    ({ error, results } = await migrator.migrateToLatest());
  }
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    throw new MigrationError(
      `migration ${failed?.migrationName ?? '(setup)'} of schema ${schema} failed: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** Create the schema if needed and bring it to the latest version; safe from several replicas at once. */
export async function runMigrations(
  db: Kysely<unknown>,
  schema: string,
  serviceMigrations: Record<string, Migration>,
): Promise<string[]> {
  // Two replicas may race to create the schema; the advisory lock makes that one at a time.
  await db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext(${`grace-schema-${schema}`}))`.execute(trx);
    // Only when missing: even `create schema if not exists` needs CREATE on the database, which a role that
    // owns just its schema (deploy: one role per service) does not have.
    const existing = await sql`select 1 from pg_namespace where nspname = ${schema}`.execute(trx);
    if (existing.rows.length === 0) await sql`create schema ${sql.id(schema)}`.execute(trx);
  });
  const kit = await migrate(db, schema, 'kit_migrations', kitMigrations);
  const own = await migrate(db, schema, 'migrations', serviceMigrations);
  return [...kit.map((m) => `kit/${m}`), ...own];
}
