// trigger_mesh schema: captures by fingerprint, recent occurrences, drop counts, producers, resolved alerts.
import { sql, type Kysely, type Migration } from 'kysely';

export const init: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('captures')
      .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
      .addColumn('fingerprint', 'text', (c) => c.notNull())
      .addColumn('environment', 'text', (c) => c.notNull())
      .addColumn('service', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('message', 'text', (c) => c.notNull())
      .addColumn('severity', 'text', (c) => c.notNull())
      .addColumn('category', 'text')
      .addColumn('stack', 'text')
      .addColumn('attributes', 'jsonb')
      .addColumn('route', 'text')
      .addColumn('muted_until', 'timestamptz')
      .addColumn('security_flags', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
      .addColumn('first_seen', 'timestamptz', (c) => c.notNull())
      .addColumn('last_seen', 'timestamptz', (c) => c.notNull())
      .addColumn('total_count', 'bigint', (c) => c.notNull())
      .addColumn('window_started_at', 'timestamptz', (c) => c.notNull())
      .addColumn('window_count', 'integer', (c) => c.notNull())
      .addColumn('storm', 'boolean', (c) => c.notNull().defaultTo(false))
      .addColumn('emitted_count', 'integer', (c) => c.notNull().defaultTo(0))
      // Announcements in the current window: the first says update=false, later ones update=true.
      .addColumn('announcements', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('last_emitted_at', 'timestamptz')
      .addColumn('last_emit_event_id', 'text')
      .addColumn('last_event_id', 'text', (c) => c.notNull())
      .addColumn('last_correlation_id', 'text', (c) => c.notNull())
      .addUniqueConstraint('captures_fingerprint_environment', ['fingerprint', 'environment'])
      .execute();
    await db.schema.createIndex('captures_last_seen').on('captures').column('last_seen').execute();
    // The sweeper's work list: captures with counts not yet announced.
    await db.schema
      .createIndex('captures_unannounced')
      .on('captures')
      .column('last_emitted_at')
      .where(sql.ref('window_count'), '>', sql.ref('emitted_count'))
      .execute();

    await db.schema
      .createTable('occurrences')
      .addColumn('id', 'bigserial', (c) => c.primaryKey())
      .addColumn('capture_id', 'uuid', (c) => c.notNull().references('captures.id').onDelete('cascade'))
      .addColumn('event_id', 'text', (c) => c.notNull())
      .addColumn('occurred_at', 'timestamptz', (c) => c.notNull())
      .addColumn('received_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .addColumn('message', 'text', (c) => c.notNull())
      .addColumn('attributes', 'jsonb')
      .addColumn('origin', 'text')
      .execute();
    await db.schema
      .createIndex('occurrences_capture')
      .on('occurrences')
      .columns(['capture_id', 'received_at'])
      .execute();
    await db.schema.createIndex('occurrences_received_at').on('occurrences').column('received_at').execute();

    await db.schema
      .createTable('drops')
      .addColumn('rule', 'text', (c) => c.notNull())
      .addColumn('service', 'text', (c) => c.notNull())
      .addColumn('environment', 'text', (c) => c.notNull())
      .addColumn('count', 'bigint', (c) => c.notNull())
      .addColumn('first_dropped_at', 'timestamptz', (c) => c.notNull())
      .addColumn('last_dropped_at', 'timestamptz', (c) => c.notNull())
      .addPrimaryKeyConstraint('drops_pkey', ['rule', 'service', 'environment'])
      .execute();

    await db.schema
      .createTable('producers')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('bearer', 'hmac')`))
      .addColumn('credential_sha256', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .execute();

    await db.schema
      .createTable('alert_resolutions')
      .addColumn('id', 'bigserial', (c) => c.primaryKey())
      .addColumn('fingerprint', 'text', (c) => c.notNull())
      .addColumn('alertname', 'text', (c) => c.notNull())
      .addColumn('labels', 'jsonb', (c) => c.notNull())
      .addColumn('starts_at', 'timestamptz')
      .addColumn('ends_at', 'timestamptz')
      .addColumn('producer', 'text', (c) => c.notNull())
      .addColumn('received_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .execute();
  },
};
