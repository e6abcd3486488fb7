// action-executor schema: each contract keeps the W3C traceparent of the action.requested that made it, so the
// events of its later steps (a worker's, after the handler's transaction) continue that trace.
import type { Kysely, Migration } from 'kysely';

export const contractTraceparent: Migration = {
  async up(db: Kysely<unknown>) {
    // Contracts from before: none (their later events start traces of their own, as before).
    await db.schema.alterTable('contracts').addColumn('traceparent', 'text').execute();
  },
};
