// chat-gateway schema: the users seen (from their tokens), conversations and their messages.
import type { Kysely, Migration } from 'kysely';

export const init: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('users')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text')
      .addColumn('roles', 'jsonb', (c) => c.notNull())
      .addColumn('first_seen', 'timestamptz', (c) => c.notNull())
      .addColumn('last_seen', 'timestamptz', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('conversations')
      .addColumn('id', 'uuid', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('created_at', 'timestamptz', (c) => c.notNull())
      .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('conversations_user').on('conversations').columns(['user_id', 'updated_at']).execute();
    await db.schema
      .createTable('messages')
      .addColumn('id', 'uuid', (c) => c.primaryKey())
      .addColumn('conversation_id', 'uuid', (c) => c.notNull().references('conversations.id'))
      .addColumn('author', 'text', (c) => c.notNull())
      .addColumn('text', 'text', (c) => c.notNull())
      .addColumn('intent', 'text')
      .addColumn('source', 'text')
      .addColumn('data', 'jsonb')
      .addColumn('at', 'timestamptz', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('messages_conversation').on('messages').columns(['conversation_id', 'at']).execute();
  },
};
