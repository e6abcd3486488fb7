// action-executor schema: contracts, snapshots, approvals and their votes, the audit chain, the pause switch.
import { sql, type Kysely, type Migration } from 'kysely';

export const init: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('contracts')
      .addColumn('id', 'uuid', (c) => c.primaryKey())
      .addColumn('action_id', 'text', (c) => c.notNull().unique())
      // The same idempotency key never executes twice, across replicas and redeliveries.
      .addColumn('idempotency_key', 'text', (c) => c.notNull().unique())
      .addColumn('incident_id', 'text')
      .addColumn('fingerprint', 'text')
      .addColumn('signature', 'text')
      .addColumn('playbook', 'text', (c) => c.notNull())
      .addColumn('adapter', 'text', (c) => c.notNull())
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('service', 'text', (c) => c.notNull())
      .addColumn('environment', 'text', (c) => c.notNull())
      .addColumn('target', 'jsonb', (c) => c.notNull())
      .addColumn('params', 'jsonb', (c) => c.notNull())
      .addColumn('requested_tier', 'integer', (c) => c.notNull())
      .addColumn('tier', 'integer', (c) => c.notNull())
      .addColumn('expected_effect', 'jsonb', (c) => c.notNull())
      .addColumn('checks', 'jsonb', (c) => c.notNull())
      .addColumn('timeout_ms', 'integer', (c) => c.notNull())
      .addColumn('attempt', 'integer', (c) => c.notNull())
      .addColumn('requested_by', 'jsonb', (c) => c.notNull())
      .addColumn('requested_at', 'timestamptz', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      // Held by the pause switch: admitted again (constitution, policy) on resume.
      .addColumn('held', 'boolean', (c) => c.notNull().defaultTo(false))
      .addColumn('dry_run', 'boolean', (c) => c.notNull().defaultTo(false))
      .addColumn('plan', 'text')
      .addColumn('policy_version', 'text')
      .addColumn('approval_id', 'uuid')
      .addColumn('snapshot_id', 'uuid')
      .addColumn('result', 'text')
      .addColumn('actual_state', 'jsonb')
      .addColumn('verdict', 'text')
      .addColumn('confidence', 'double precision')
      .addColumn('verification_id', 'text')
      .addColumn('error', 'text')
      .addColumn('correlation_id', 'text')
      // A worker's claim: another replica takes the work over only after lease_until.
      .addColumn('lease_owner', 'text')
      .addColumn('lease_until', 'timestamptz')
      // Why the snapshot is being (or was) restored: the verdict, or an execution cut at its timeout.
      .addColumn('rollback_trigger', 'text')
      .addColumn('rollback_reason', 'text')
      .addColumn('restore_attempts', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('started_at', 'timestamptz')
      .addColumn('finished_at', 'timestamptz')
      .addColumn('created_at', 'timestamptz', (c) => c.notNull())
      .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
      .execute();
    // The workers' queue: contracts with work to do now.
    await sql`create index contracts_work on contracts (created_at)
              where status in ('approved', 'snapshotted', 'executing', 'rolling_back')`.execute(db);
    await db.schema
      .createIndex('contracts_target')
      .on('contracts')
      .columns(['service', 'environment', 'created_at'])
      .execute();
    await sql`create index contracts_held on contracts (created_at) where held`.execute(db);

    await db.schema
      .createTable('snapshots')
      .addColumn('id', 'uuid', (c) => c.primaryKey())
      .addColumn('contract_id', 'uuid', (c) => c.notNull().unique().references('contracts.id'))
      .addColumn('adapter', 'text', (c) => c.notNull())
      .addColumn('target', 'jsonb', (c) => c.notNull())
      .addColumn('state', 'jsonb', (c) => c.notNull())
      .addColumn('taken_at', 'timestamptz', (c) => c.notNull())
      .addColumn('restored_at', 'timestamptz')
      .execute();

    await db.schema
      .createTable('approvals')
      .addColumn('id', 'uuid', (c) => c.primaryKey())
      .addColumn('contract_id', 'uuid', (c) => c.notNull().unique().references('contracts.id'))
      .addColumn('quorum_required', 'integer', (c) => c.notNull())
      .addColumn('quorum_role', 'text', (c) => c.notNull())
      .addColumn('reason', 'text', (c) => c.notNull())
      .addColumn('rule', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('requested_at', 'timestamptz', (c) => c.notNull())
      .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
      .addColumn('decided_at', 'timestamptz')
      .execute();
    await sql`create index approvals_pending on approvals (expires_at) where status = 'pending'`.execute(db);

    await db.schema
      .createTable('votes')
      .addColumn('vote_id', 'text', (c) => c.primaryKey())
      .addColumn('approval_id', 'uuid', (c) => c.notNull().references('approvals.id'))
      .addColumn('voter_id', 'text', (c) => c.notNull())
      .addColumn('voter_roles', 'jsonb', (c) => c.notNull())
      .addColumn('decision', 'text', (c) => c.notNull())
      .addColumn('comment', 'text')
      .addColumn('counted', 'boolean', (c) => c.notNull())
      .addColumn('not_counted_reason', 'text')
      .addColumn('cast_at', 'timestamptz', (c) => c.notNull())
      .addColumn('recorded_at', 'timestamptz', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('votes_approval').on('votes').columns(['approval_id', 'recorded_at']).execute();

    await db.schema
      .createTable('audit_entries')
      .addColumn('seq', 'bigint', (c) => c.primaryKey())
      .addColumn('at', 'timestamptz', (c) => c.notNull())
      .addColumn('step', 'text', (c) => c.notNull())
      .addColumn('actor', 'text', (c) => c.notNull())
      .addColumn('contract_id', 'uuid')
      .addColumn('action_id', 'text')
      .addColumn('detail', 'jsonb', (c) => c.notNull())
      .addColumn('prev_hash', 'text', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('audit_contract').on('audit_entries').columns(['contract_id', 'seq']).execute();
    await db.schema.createIndex('audit_action').on('audit_entries').columns(['action_id', 'seq']).execute();

    // The global pause switch: one row.
    await db.schema
      .createTable('controls')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('paused', 'boolean', (c) => c.notNull())
      .addColumn('paused_by', 'text')
      .addColumn('paused_at', 'timestamptz')
      .addColumn('reason', 'text')
      .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
      .execute();
    await sql`insert into controls (id, paused, updated_at) values (1, false, now())`.execute(db);
  },
};
