// verifier schema: alerts their source reported resolved (alert.resolved), the evidence an error_rate check
// records beside its counts.
import { sql, type Kysely, type Migration } from 'kysely';

export const sourceResolutions: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('source_resolutions')
      .addColumn('service', 'text', (c) => c.notNull())
      .addColumn('environment', 'text', (c) => c.notNull())
      .addColumn('fingerprint', 'text', (c) => c.notNull())
      .addColumn('alert_fingerprint', 'text', (c) => c.notNull())
      .addColumn('starts_at', 'timestamptz', (c) => c.notNull())
      .addColumn('ends_at', 'timestamptz', (c) => c.notNull())
      .addColumn('received_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .addPrimaryKeyConstraint('source_resolutions_pkey', [
        'fingerprint',
        'environment',
        'alert_fingerprint',
        'starts_at',
      ])
      .execute();
    await db.schema
      .createIndex('source_resolutions_service')
      .on('source_resolutions')
      .columns(['service', 'environment', 'ends_at'])
      .execute();
  },
};
