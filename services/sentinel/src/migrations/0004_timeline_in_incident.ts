// sentinel schema: an incident's timeline and decision trail move into its row (jsonb arrays), so that each change
// to an incident is one UPDATE instead of an update plus a row per transition and per attempt. The transitions
// and attempts already stored move over, then their tables go.
import { sql, type Kysely, type Migration } from 'kysely';

/** A timestamp as the service writes it into JSON (ISO 8601, UTC, milliseconds). */
const iso = (column: string) => sql.raw(`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`);

export const timelineInIncident: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .alterTable('incidents')
      .addColumn('timeline', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
      .addColumn('trail', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
      .addColumn('awaiting_rollback_since', 'timestamptz')
      .execute();
    await sql`
      update incidents i set
        timeline = coalesce(
          (select jsonb_agg(jsonb_build_object('status', t.status, 'previous_status', t.previous_status,
                                               'reason', t.reason, 'at', ${iso('t.at')}) order by t.id)
           from transitions t where t.incident_id = i.id), '[]'::jsonb),
        trail = coalesce(
          (select jsonb_agg(jsonb_build_object('attempt', a.attempt, 'playbook', a.playbook, 'action_id', a.action_id,
                                               'reason', a.reason, 'candidates', a.candidates,
                                               'decided_at', ${iso('a.decided_at')}, 'outcome', a.outcome,
                                               'outcome_reason', a.outcome_reason, 'confidence', a.confidence)
                            order by a.attempt)
           from attempts a where a.incident_id = i.id), '[]'::jsonb),
        awaiting_rollback_since =
          (select a.awaiting_rollback_since from attempts a
           where a.incident_id = i.id and a.action_id = i.action_id and a.outcome = 'pending')`.execute(db);
    await db.schema.dropTable('transitions').execute();
    await db.schema.dropTable('attempts').execute();
    // The incident of an action's news; a target's recent choices (cooldowns); the overdue rollback sweep.
    await db.schema.createIndex('incidents_action').on('incidents').column('action_id').execute();
    await db.schema
      .createIndex('incidents_target')
      .on('incidents')
      .columns(['service', 'environment', 'closed_at'])
      .execute();
    await sql`create index incidents_awaiting_rollback on incidents (awaiting_rollback_since)
              where awaiting_rollback_since is not null`.execute(db);
  },
};
