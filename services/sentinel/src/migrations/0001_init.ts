// sentinel schema: incidents and their transitions, attempts (the decision trail), the statistics cache.
import { sql, type Kysely, type Migration } from 'kysely';

export const init: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('incidents')
      .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
      .addColumn('fingerprint', 'text', (c) => c.notNull())
      .addColumn('environment', 'text', (c) => c.notNull())
      .addColumn('signature', 'text', (c) => c.notNull())
      .addColumn('service', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('message', 'text', (c) => c.notNull())
      .addColumn('severity', 'text', (c) => c.notNull())
      .addColumn('category', 'text', (c) => c.notNull())
      .addColumn('blast_radius', 'text', (c) => c.notNull())
      .addColumn('attributes', 'jsonb')
      .addColumn('route', 'text')
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('reason', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('occurrences', 'integer', (c) => c.notNull())
      .addColumn('capture_id', 'text', (c) => c.notNull())
      .addColumn('playbook', 'text')
      .addColumn('action_id', 'text')
      .addColumn('muted_until', 'timestamptz')
      .addColumn('opened_at', 'timestamptz', (c) => c.notNull())
      .addColumn('triaged_at', 'timestamptz')
      .addColumn('changed_at', 'timestamptz', (c) => c.notNull())
      .addColumn('closed_at', 'timestamptz')
      .execute();
    // One open incident per fingerprint and environment, whatever the number of replicas or redeliveries.
    await sql`create unique index incidents_one_open on incidents (fingerprint, environment)
              where status not in ('resolved', 'escalated')`.execute(db);
    await db.schema.createIndex('incidents_opened_at').on('incidents').columns(['opened_at', 'id']).execute();

    await db.schema
      .createTable('transitions')
      .addColumn('id', 'bigserial', (c) => c.primaryKey())
      .addColumn('incident_id', 'uuid', (c) => c.notNull().references('incidents.id').onDelete('cascade'))
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('previous_status', 'text')
      .addColumn('reason', 'text', (c) => c.notNull())
      .addColumn('at', 'timestamptz', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('transitions_incident').on('transitions').columns(['incident_id', 'id']).execute();

    await db.schema
      .createTable('attempts')
      .addColumn('incident_id', 'uuid', (c) => c.notNull().references('incidents.id').onDelete('cascade'))
      .addColumn('attempt', 'integer', (c) => c.notNull())
      .addColumn('playbook', 'text', (c) => c.notNull())
      .addColumn('action_id', 'text', (c) => c.notNull().unique())
      .addColumn('service', 'text', (c) => c.notNull())
      .addColumn('environment', 'text', (c) => c.notNull())
      .addColumn('reason', 'text', (c) => c.notNull())
      .addColumn('candidates', 'jsonb', (c) => c.notNull())
      .addColumn('decided_at', 'timestamptz', (c) => c.notNull())
      .addColumn('outcome', 'text', (c) => c.notNull().defaultTo('pending'))
      .addColumn('outcome_reason', 'text')
      .addColumn('confidence', 'double precision')
      .addPrimaryKeyConstraint('attempts_pkey', ['incident_id', 'attempt'])
      .execute();
    await db.schema
      .createIndex('attempts_cooldown')
      .on('attempts')
      .columns(['service', 'environment', 'playbook', 'decided_at'])
      .execute();

    await db.schema
      .createTable('playbook_stats')
      .addColumn('signature', 'text', (c) => c.notNull())
      .addColumn('playbook', 'text', (c) => c.notNull())
      .addColumn('alpha', 'double precision', (c) => c.notNull())
      .addColumn('beta', 'double precision', (c) => c.notNull())
      .addColumn('stats', 'jsonb', (c) => c.notNull())
      .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
      .addPrimaryKeyConstraint('playbook_stats_pkey', ['signature', 'playbook'])
      .execute();
  },
};
