// verifier schema: each queued verification keeps the W3C traceparent of the action.executed it judges, so the
// contract.verified a worker emits later continues that trace.
import type { Kysely, Migration } from 'kysely';

export const verificationTraceparent: Migration = {
  async up(db: Kysely<unknown>) {
    // Verifications from before: none (their verdicts start traces of their own, as before).
    await db.schema.alterTable('verifications').addColumn('traceparent', 'text').execute();
  },
};
