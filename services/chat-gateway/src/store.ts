// chat-gateway's tables (Kysely types) and statements: users, conversations, messages.
import type { ColumnType, Insertable, Kysely } from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;

export interface Database {
  users: {
    id: string;
    name: string | null;
    roles: ColumnType<string[], string, string>;
    first_seen: Timestamp;
    last_seen: Timestamp;
  };
  conversations: { id: string; user_id: string; created_at: Timestamp; updated_at: Timestamp };
  messages: {
    id: string;
    conversation_id: string;
    author: 'user' | 'grace';
    text: string;
    intent: string | null;
    source: string | null;
    data: ColumnType<Record<string, unknown> | null, string | null, string | null>;
    at: Timestamp;
  };
}

export async function rememberUser(db: Kysely<Database>, user: { id: string; name?: string; roles: string[] }) {
  const now = new Date();
  await db
    .insertInto('users')
    .values({
      id: user.id,
      name: user.name ?? null,
      roles: JSON.stringify(user.roles),
      first_seen: now,
      last_seen: now,
    })
    .onConflict((oc) =>
      oc.column('id').doUpdateSet({ name: user.name ?? null, roles: JSON.stringify(user.roles), last_seen: now }),
    )
    .execute();
}

/** The user's conversation (created when new); undefined when it belongs to someone else. */
export async function conversationOf(db: Kysely<Database>, id: string, userId: string) {
  return db
    .selectFrom('conversations')
    .selectAll()
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .executeTakeFirst();
}

export async function startConversation(db: Kysely<Database>, id: string, userId: string) {
  const now = new Date();
  await db.insertInto('conversations').values({ id, user_id: userId, created_at: now, updated_at: now }).execute();
}

export type NewMessage = Omit<Insertable<Database['messages']>, 'conversation_id'>;

export async function addMessages(db: Kysely<Database>, conversationId: string, rows: NewMessage[]) {
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('messages')
      .values(rows.map((r) => ({ ...r, conversation_id: conversationId })))
      .execute();
    await trx.updateTable('conversations').set({ updated_at: new Date() }).where('id', '=', conversationId).execute();
  });
}

export async function messagesOf(db: Kysely<Database>, conversationId: string, limit = 500) {
  return db
    .selectFrom('messages')
    .selectAll()
    .where('conversation_id', '=', conversationId)
    .orderBy('at')
    .orderBy('id')
    .limit(limit)
    .execute();
}
