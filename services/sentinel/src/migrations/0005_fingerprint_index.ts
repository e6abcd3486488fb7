// sentinel schema: what a capture meets (its fingerprint's open incident and latest escalation) is found by index,
// not by scanning every closed incident.
import type { Kysely, Migration } from 'kysely';

export const fingerprintIndex: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createIndex('incidents_fingerprint')
      .on('incidents')
      .columns(['fingerprint', 'environment', 'closed_at'])
      .execute();
  },
};
