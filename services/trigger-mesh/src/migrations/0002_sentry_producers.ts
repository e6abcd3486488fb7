// Producers may be Sentry keys (the public key of a DSN), recorded like the others as a hash.
import { sql, type Kysely, type Migration } from 'kysely';

export const sentryProducers: Migration = {
  async up(db: Kysely<unknown>) {
    await sql`alter table producers drop constraint if exists producers_kind_check`.execute(db);
    await sql`alter table producers add constraint producers_kind_check check (kind in ('bearer', 'hmac', 'sentry'))`.execute(
      db,
    );
  },
};
