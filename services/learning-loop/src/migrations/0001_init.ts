// learning-loop schema: one outcome record per action, and the statistics per (signature, playbook) and per
// playbook overall (signature '').
import { sql, type Kysely, type Migration } from 'kysely';

export const init: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('outcomes')
      .addColumn('action_id', 'text', (c) => c.primaryKey())
      .addColumn('contract_id', 'text')
      .addColumn('incident_id', 'text')
      .addColumn('playbook', 'text', (c) => c.notNull())
      .addColumn('signature', 'text')
      .addColumn('service', 'text', (c) => c.notNull())
      .addColumn('environment', 'text', (c) => c.notNull())
      .addColumn('adapter', 'text', (c) => c.notNull())
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('tier', 'integer', (c) => c.notNull())
      .addColumn('verdict', 'text')
      .addColumn('confidence', 'double precision')
      .addColumn('execution_result', 'text')
      .addColumn('denied', 'boolean', (c) => c.notNull().defaultTo(false))
      .addColumn('rolled_back', 'boolean', (c) => c.notNull().defaultTo(false))
      .addColumn('execution_ms', 'integer')
      .addColumn('time_to_verify_ms', 'integer')
      .addColumn('verified_at', 'timestamptz')
      .addColumn('recorded_at', 'timestamptz', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('outcomes_recorded').on('outcomes').columns(['recorded_at', 'action_id']).execute();
    await db.schema.createIndex('outcomes_playbook').on('outcomes').columns(['playbook', 'signature']).execute();

    await db.schema
      .createTable('statistics')
      .addColumn('signature', 'text', (c) => c.notNull())
      .addColumn('playbook', 'text', (c) => c.notNull())
      .addColumn('executions', 'integer', (c) => c.notNull())
      .addColumn('successes', 'integer', (c) => c.notNull())
      .addColumn('failures', 'integer', (c) => c.notNull())
      .addColumn('rollbacks', 'integer', (c) => c.notNull())
      .addColumn('denials', 'integer', (c) => c.notNull())
      .addColumn('confidence_sum', 'double precision', (c) => c.notNull())
      .addColumn('confidence_count', 'integer', (c) => c.notNull())
      .addColumn('time_to_verify_sum', 'double precision', (c) => c.notNull())
      .addColumn('time_to_verify_count', 'integer', (c) => c.notNull())
      .addColumn('alpha', 'double precision', (c) => c.notNull())
      .addColumn('beta', 'double precision', (c) => c.notNull())
      .addColumn('last_verdict', 'text')
      .addColumn('last_outcome_at', 'timestamptz')
      .addColumn('decayed_at', 'timestamptz')
      .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
      // Changed since last published: the publisher sends one playbook.stats.updated per key for many changes.
      .addColumn('dirty', 'boolean', (c) => c.notNull().defaultTo(false))
      .addPrimaryKeyConstraint('statistics_pkey', ['signature', 'playbook'])
      .execute();
    await sql`create index statistics_dirty on statistics (updated_at) where dirty`.execute(db);
  },
};
