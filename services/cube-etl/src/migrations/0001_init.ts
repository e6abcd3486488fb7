// cube-etl schema: the staging table every event lands in, the star schema (five dimensions, three facts) and the
// ETL runs. Times are UTC; dim_time has one row per minute that a fact refers to.
import { sql, type Kysely, type Migration } from 'kysely';

export const init: Migration = {
  async up(db: Kysely<unknown>) {
    // ---- landing ----
    await db.schema
      .createTable('staged_events')
      .addColumn('seq', 'bigserial', (c) => c.primaryKey())
      .addColumn('event_id', 'text', (c) => c.notNull().unique())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('event_time', 'timestamptz', (c) => c.notNull())
      // The CloudEvent as it arrived, unchanged.
      .addColumn('event', 'jsonb', (c) => c.notNull())
      // The keys the ETL recomputes facts by, taken from the data when landing.
      .addColumn('action_id', 'text')
      .addColumn('incident_id', 'text')
      .addColumn('fingerprint', 'text')
      .addColumn('staged_at', 'timestamptz', (c) => c.notNull())
      // The ETL batch that transformed the row; null until then (a late commit is simply picked up next run).
      .addColumn('etl_run_id', 'uuid')
      .execute();
    await sql`create index staged_pending on staged_events (seq) where etl_run_id is null`.execute(db);
    await sql`create index staged_action on staged_events (action_id) where action_id is not null`.execute(db);
    await sql`create index staged_incident on staged_events (incident_id) where incident_id is not null`.execute(db);
    await sql`create index staged_fingerprint on staged_events (fingerprint) where type = 'error.captured'`.execute(db);

    // ---- dimensions ----
    await db.schema
      .createTable('dim_time')
      .addColumn('minute', 'timestamptz', (c) => c.primaryKey())
      .addColumn('hour', 'timestamptz', (c) => c.notNull())
      .addColumn('day', 'timestamptz', (c) => c.notNull())
      .addColumn('week', 'timestamptz', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('dim_service')
      .addColumn('service_key', 'serial', (c) => c.primaryKey())
      .addColumn('service', 'text', (c) => c.notNull())
      .addColumn('environment', 'text', (c) => c.notNull())
      .addUniqueConstraint('dim_service_natural', ['service', 'environment'])
      .execute();
    await db.schema
      .createTable('dim_playbook')
      .addColumn('playbook_key', 'serial', (c) => c.primaryKey())
      .addColumn('playbook', 'text', (c) => c.notNull())
      .addColumn('adapter', 'text', (c) => c.notNull())
      .addColumn('tier', 'integer', (c) => c.notNull())
      .addUniqueConstraint('dim_playbook_natural', ['playbook', 'adapter', 'tier'])
      .execute();
    await db.schema
      .createTable('dim_signature')
      .addColumn('signature_key', 'serial', (c) => c.primaryKey())
      .addColumn('fingerprint', 'text', (c) => c.notNull().unique())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('category', 'text')
      .execute();
    await db.schema
      .createTable('dim_outcome')
      .addColumn('outcome_key', 'serial', (c) => c.primaryKey())
      // 'none' while there is no verdict (denied, expired, awaiting one).
      .addColumn('verdict', 'text', (c) => c.notNull())
      .addColumn('rolled_back', 'boolean', (c) => c.notNull())
      .addColumn('denied', 'boolean', (c) => c.notNull())
      .addColumn('expired', 'boolean', (c) => c.notNull())
      .addUniqueConstraint('dim_outcome_natural', ['verdict', 'rolled_back', 'denied', 'expired'])
      .execute();

    // ---- facts ----
    await db.schema
      .createTable('fact_errors')
      .addColumn('signature_key', 'integer', (c) => c.notNull().references('dim_signature.signature_key'))
      .addColumn('service_key', 'integer', (c) => c.notNull().references('dim_service.service_key'))
      .addColumn('hour', 'timestamptz', (c) => c.notNull().references('dim_time.minute'))
      .addColumn('occurrences', 'bigint', (c) => c.notNull())
      .addColumn('storm', 'boolean', (c) => c.notNull())
      .addPrimaryKeyConstraint('fact_errors_pkey', ['signature_key', 'service_key', 'hour'])
      .execute();
    await db.schema.createIndex('fact_errors_hour').on('fact_errors').columns(['hour', 'service_key']).execute();

    await db.schema
      .createTable('fact_actions')
      .addColumn('action_id', 'text', (c) => c.primaryKey())
      .addColumn('contract_id', 'text')
      .addColumn('incident_id', 'text')
      .addColumn('service_key', 'integer', (c) => c.notNull().references('dim_service.service_key'))
      .addColumn('playbook_key', 'integer', (c) => c.notNull().references('dim_playbook.playbook_key'))
      .addColumn('outcome_key', 'integer', (c) => c.notNull().references('dim_outcome.outcome_key'))
      .addColumn('signature_key', 'integer', (c) => c.references('dim_signature.signature_key'))
      // Kept to link the signature when its errors land after the action.
      .addColumn('fingerprint', 'text')
      // The minute the action counts in: when it executed, else when it was asked for (denied, expired).
      .addColumn('minute', 'timestamptz', (c) => c.notNull().references('dim_time.minute'))
      .addColumn('requested_at', 'timestamptz')
      .addColumn('executed_at', 'timestamptz')
      .addColumn('verified_at', 'timestamptz')
      .addColumn('rolled_back_at', 'timestamptz')
      .addColumn('execution_result', 'text')
      .addColumn('confidence', 'double precision')
      // Durations by phase.
      .addColumn('approval_wait_ms', 'bigint')
      .addColumn('execution_ms', 'bigint')
      .addColumn('verification_ms', 'bigint')
      .addColumn('rollback_ms', 'bigint')
      .addColumn('total_ms', 'bigint')
      .addColumn('approvals_needed', 'integer', (c) => c.notNull())
      .addColumn('approvals_received', 'integer', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('fact_actions_minute').on('fact_actions').columns(['minute']).execute();

    await db.schema
      .createTable('fact_incidents')
      .addColumn('incident_id', 'text', (c) => c.primaryKey())
      .addColumn('service_key', 'integer', (c) => c.notNull().references('dim_service.service_key'))
      .addColumn('signature_key', 'integer', (c) => c.notNull().references('dim_signature.signature_key'))
      .addColumn('opened_minute', 'timestamptz', (c) => c.notNull().references('dim_time.minute'))
      // The minute it was resolved or escalated; null while open.
      .addColumn('closed_minute', 'timestamptz', (c) => c.references('dim_time.minute'))
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('opened_at', 'timestamptz', (c) => c.notNull())
      .addColumn('triaged_at', 'timestamptz')
      .addColumn('closed_at', 'timestamptz')
      .addColumn('time_to_triage_ms', 'bigint')
      .addColumn('time_to_resolve_ms', 'bigint')
      .addColumn('attempts', 'integer', (c) => c.notNull())
      .addColumn('escalated', 'boolean', (c) => c.notNull())
      .execute();
    await sql`create index fact_incidents_closed on fact_incidents (closed_minute) where status = 'resolved'`.execute(
      db,
    );

    // ---- ETL metadata ----
    await db.schema
      .createTable('etl_runs')
      .addColumn('run_id', 'uuid', (c) => c.primaryKey())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('watermark_from', 'bigint', (c) => c.notNull())
      .addColumn('watermark_to', 'bigint', (c) => c.notNull())
      .addColumn('rows_read', 'integer', (c) => c.notNull())
      .addColumn('rows_written', 'jsonb', (c) => c.notNull())
      .addColumn('started_at', 'timestamptz', (c) => c.notNull())
      .addColumn('finished_at', 'timestamptz', (c) => c.notNull())
      .addColumn('duration_ms', 'integer', (c) => c.notNull())
      .addColumn('error', 'text')
      .execute();
    await db.schema.createIndex('etl_runs_finished').on('etl_runs').columns(['finished_at']).execute();
  },
};
