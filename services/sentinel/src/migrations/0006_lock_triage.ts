// sentinel schema: what triaging a capture locks and reads, in one round trip. `lock_triage` takes the fingerprint's
// advisory lock (`p_lock`: the kit's `advisoryLockId` of its name, so every other holder of that lock still
// excludes it) and only then, in a statement of its own (a volatile function's statements each see what committed before
// they began), locks the incidents the capture meets: its open one, an escalation closed since `p_since`, a
// resolution at or after `p_last_seen`.
import { sql, type Kysely, type Migration } from 'kysely';

export const lockTriage: Migration = {
  async up(db: Kysely<unknown>) {
    await sql`
      create or replace function lock_triage(
        p_lock bigint, p_fingerprint text, p_environment text, p_closed text[], p_since timestamptz,
        p_last_seen timestamptz)
      returns setof incidents language plpgsql volatile as $$
      begin
        perform pg_advisory_xact_lock(p_lock);
        return query
          select * from incidents i
           where i.fingerprint = p_fingerprint and i.environment = p_environment
             and (i.status <> all (p_closed)
                  or (i.status = 'escalated' and i.closed_at >= p_since)
                  or (i.status = 'resolved' and i.closed_at >= p_last_seen))
             for update;
      end $$`.execute(db);
  },
};
