// Chat as the gateway runs it: a user's message and Grace's reply, persisted in the user's conversation.
import type { gateway } from '@grace/contracts';
import { HttpError } from '@grace/service-kit';
import type { Kysely } from 'kysely';
import { randomUUID } from 'node:crypto';
import { chatReply, type ChatOptions } from './chat/converse.js';
import type { ChatTools } from './chat/tools.js';
import type { Principal } from './domain/auth.js';
import { addMessages, conversationOf, messagesOf, startConversation, type Database } from './store.js';

export function conversations(db: Kysely<Database>, toolsFor: (p: Principal) => ChatTools, options: ChatOptions) {
  async function chat(principal: Principal, message: string, conversationId?: string): Promise<gateway.ChatReply> {
    let id = conversationId;
    if (id) {
      if (!(await conversationOf(db, id, principal.id).catch(() => undefined)))
        throw new HttpError(404, 'not_found', `you have no conversation ${id}`);
    } else {
      id = randomUUID();
      await startConversation(db, id, principal.id);
    }
    const asked = new Date();
    const answer = await chatReply(message, { id: principal.id, roles: principal.roles }, toolsFor(principal), options);
    const reply: gateway.ChatReply = {
      conversation_id: id,
      message_id: randomUUID(),
      intent: answer.intent,
      text: answer.text.slice(0, 16_384),
      ...(answer.data ? { data: answer.data } : {}),
      source: answer.source,
      at: new Date().toISOString(),
    };
    await addMessages(db, id, [
      { id: randomUUID(), author: 'user', text: message, intent: null, source: null, data: null, at: asked },
      {
        id: reply.message_id,
        author: 'grace',
        text: reply.text,
        intent: reply.intent,
        source: reply.source,
        data: answer.data ? JSON.stringify(answer.data) : null,
        at: new Date(reply.at),
      },
    ]);
    return reply;
  }

  async function conversation(principal: Principal, conversationId: string) {
    if (!(await conversationOf(db, conversationId, principal.id))) return undefined;
    const rows = await messagesOf(db, conversationId);
    return {
      conversation_id: conversationId,
      messages: rows.map((m) => ({
        message_id: m.id,
        author: m.author,
        text: m.text,
        ...(m.intent ? { intent: m.intent as gateway.Intent } : {}),
        at: new Date(m.at).toISOString(),
      })),
    };
  }

  return { chat, conversation };
}
