// sentinel schema: mutes an operator set (chat, CLI) on a fingerprint or a whole signature.
import { sql, type Kysely, type Migration } from 'kysely';

export const mutes: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('mutes')
      .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
      .addColumn('fingerprint', 'text')
      .addColumn('signature', 'text')
      .addColumn('until', 'timestamptz', (c) => c.notNull())
      .addColumn('by', 'text', (c) => c.notNull())
      .addColumn('reason', 'text', (c) => c.notNull())
      .addColumn('created_at', 'timestamptz', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('mutes_fingerprint').on('mutes').columns(['fingerprint', 'until']).execute();
    await db.schema.createIndex('mutes_signature').on('mutes').columns(['signature', 'until']).execute();
  },
};
