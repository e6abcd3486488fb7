// verifier schema: verifications (queued, then judged), baselines, and the captures the verifier counts errors by.
import { sql, type Kysely, type Migration } from 'kysely';

export const init: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('verifications')
      .addColumn('id', 'uuid', (c) => c.primaryKey())
      .addColumn('contract_id', 'text', (c) => c.notNull().unique())
      .addColumn('action_id', 'text', (c) => c.notNull())
      .addColumn('executed', 'jsonb', (c) => c.notNull())
      .addColumn('correlation_id', 'text')
      .addColumn('status', 'text', (c) => c.notNull())
      // Not before: error-rate windows must have passed (and their captures arrived).
      .addColumn('due_at', 'timestamptz', (c) => c.notNull())
      .addColumn('lease_owner', 'text')
      .addColumn('lease_until', 'timestamptz')
      .addColumn('verdict', 'text')
      .addColumn('confidence', 'double precision')
      .addColumn('result', 'jsonb')
      .addColumn('created_at', 'timestamptz', (c) => c.notNull())
      .addColumn('verified_at', 'timestamptz')
      .execute();
    await sql`create index verifications_due on verifications (due_at) where status = 'pending'`.execute(db);
    await db.schema.createIndex('verifications_action').on('verifications').column('action_id').execute();

    await db.schema
      .createTable('baselines')
      .addColumn('service', 'text', (c) => c.notNull())
      .addColumn('environment', 'text', (c) => c.notNull())
      .addColumn('check', 'text', (c) => c.notNull())
      .addColumn('metric', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('value', 'double precision', (c) => c.notNull())
      .addColumn('m2', 'double precision', (c) => c.notNull())
      .addColumn('samples', 'integer', (c) => c.notNull())
      .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
      .addPrimaryKeyConstraint('baselines_pkey', ['service', 'environment', 'check', 'metric'])
      .execute();

    // Every capture as announced: error.captured carries the count so far in its dedupe window (first_seen), so
    // the occurrences a capture adds are its count less the previous one of the same window, computed when
    // counted (in any arrival order).
    await db.schema
      .createTable('captures')
      .addColumn('service', 'text', (c) => c.notNull())
      .addColumn('environment', 'text', (c) => c.notNull())
      .addColumn('fingerprint', 'text', (c) => c.notNull())
      .addColumn('first_seen', 'timestamptz', (c) => c.notNull())
      .addColumn('count', 'integer', (c) => c.notNull())
      .addColumn('last_seen', 'timestamptz', (c) => c.notNull())
      .addPrimaryKeyConstraint('captures_pkey', ['service', 'environment', 'fingerprint', 'first_seen', 'count'])
      .execute();
    await db.schema
      .createIndex('captures_last_seen')
      .on('captures')
      .columns(['service', 'environment', 'last_seen'])
      .execute();
  },
};
