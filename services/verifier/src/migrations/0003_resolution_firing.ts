// verifier schema: with each resolved alert, how many alerts of its group still fired (alert.resolved `firing`), so
// an error_rate check scoped to the group can tell when its source reports the whole group resolved.
import type { Kysely, Migration } from 'kysely';

export const resolutionFiring: Migration = {
  async up(db: Kysely<unknown>) {
    // Rows from before this migration did not record it: unknown, never read as "all resolved".
    await db.schema.alterTable('source_resolutions').addColumn('firing', 'integer').execute();
  },
};
