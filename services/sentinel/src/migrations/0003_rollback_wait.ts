// sentinel schema: an attempt whose tier >= 2 action was judged drift or failed waits for the executor to restore
// its snapshot before the next playbook runs on the target; since when it waits.
import { sql, type Kysely, type Migration } from 'kysely';

export const rollbackWait: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('attempts').addColumn('awaiting_rollback_since', 'timestamptz').execute();
    await sql`create index attempts_awaiting_rollback on attempts (awaiting_rollback_since)
              where outcome = 'pending' and awaiting_rollback_since is not null`.execute(db);
  },
};
