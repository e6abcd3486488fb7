// cube schema: who ended a resolved incident (incident.resolved resolved_by): `contract`, a verified remediation, or
// `source`, its source reported it over (every alert of its group resolved) while no action ran. MTTR can then
// tell Grace's own resolutions from those that ended by themselves.
import { sql, type Kysely, type Migration } from 'kysely';

export const incidentResolvedBy: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .alterTable('fact_incidents')
      .addColumn('resolved_by', 'text', (c) => c.check(sql`resolved_by in ('contract', 'source')`))
      .execute();
    // Every incident resolved before this migration was resolved by a verified contract (the only way then).
    await sql`update fact_incidents set resolved_by = 'contract' where status = 'resolved'`.execute(db);
  },
};
