// The gateway's own API shapes (REST bodies and the WebSocket protocol) that are not query replies passed through:
// chat, votes, executor controls, dead letters, the live stream. The console and the CLI speak these.
import { Type, type Static } from '@sinclair/typebox';
import { Id, JsonObject, Reason, Role, Timestamp } from './common.js';

/** Longest chat message accepted (characters). */
export const CHAT_MAX_CHARS = 2_000;

export const ChatMessageText = Type.String({
  minLength: 1,
  maxLength: CHAT_MAX_CHARS,
  description: 'no control characters (tab and newline allowed) and no NUL',
});

export const ChatRequest = Type.Object(
  { message: ChatMessageText, conversation_id: Type.Optional(Id) },
  { additionalProperties: false },
);
export type ChatRequest = Static<typeof ChatRequest>;

export const Intent = Type.Union(
  [
    Type.Literal('help'),
    Type.Literal('status'),
    Type.Literal('list_incidents'),
    Type.Literal('show_incident'),
    Type.Literal('explain'),
    Type.Literal('approve'),
    Type.Literal('reject'),
    Type.Literal('run_playbook'),
    Type.Literal('mute'),
    Type.Literal('cube'),
    Type.Literal('pending_approvals'),
    Type.Literal('free_form'),
    Type.Literal('unknown'),
  ],
  { description: 'what the gateway understood the message to ask' },
);
export type Intent = Static<typeof Intent>;

export const ChatReply = Type.Object(
  {
    conversation_id: Id,
    message_id: Id,
    intent: Intent,
    text: Type.String({ maxLength: 16_384, description: 'plain text; the console renders it as text, never HTML' }),
    data: Type.Optional(JsonObject),
    /** Where the answer came from: the deterministic engine, the LLM, or the engine after the LLM failed. */
    source: Type.Union([Type.Literal('engine'), Type.Literal('llm'), Type.Literal('fallback')]),
    at: Timestamp,
  },
  { additionalProperties: false },
);
export type ChatReply = Static<typeof ChatReply>;

export const ConversationMessage = Type.Object(
  {
    message_id: Id,
    author: Type.Union([Type.Literal('user'), Type.Literal('grace')]),
    text: Type.String({ maxLength: 16_384 }),
    intent: Type.Optional(Intent),
    at: Timestamp,
  },
  { additionalProperties: false },
);

export const Conversation = Type.Object(
  { conversation_id: Id, messages: Type.Array(ConversationMessage, { maxItems: 500 }) },
  { additionalProperties: false },
);

export const VoteRequest = Type.Object(
  {
    decision: Type.Union([Type.Literal('approve'), Type.Literal('reject')]),
    comment: Type.Optional(Type.String({ maxLength: 1024 })),
  },
  { additionalProperties: false },
);
export type VoteRequest = Static<typeof VoteRequest>;

export const VoteAccepted = Type.Object(
  { vote_id: Id, approval_id: Id, decision: VoteRequest.properties.decision },
  { additionalProperties: false, description: 'the vote is on its way to the executor, which counts it or not' },
);

export const PauseBody = Type.Object({ reason: Reason }, { additionalProperties: false });
export const ResumeBody = Type.Object({ reason: Type.Optional(Reason) }, { additionalProperties: false });

export const Me = Type.Object(
  { id: Id, name: Type.Optional(Type.String({ maxLength: 128 })), roles: Type.Array(Role, { maxItems: 4 }) },
  { additionalProperties: false },
);
export type Me = Static<typeof Me>;

/** A dead letter as the admin API lists it: its stream sequence (to replay it) and the letter. */
export const DeadLetterEntry = Type.Object(
  { seq: Type.Integer({ minimum: 1 }), subject: Type.String(), letter: JsonObject },
  { additionalProperties: false },
);
export const DeadLetterList = Type.Object({ items: Type.Array(DeadLetterEntry) }, { additionalProperties: false });
export const DeadLetterReplayed = Type.Object(
  {
    subject: Type.String({ description: 'the subject the letter was published on again' }),
    event_id: Type.String({ description: "the event's id (its Nats-Msg-Id, so a second replay is deduplicated)" }),
  },
  { additionalProperties: false },
);

export const ApiError = Type.Object(
  {
    error: Type.String({ description: 'a stable code: invalid_request, unauthorized, forbidden, not_found, ...' }),
    message: Type.String(),
    details: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
  },
  { additionalProperties: false },
);
export type ApiError = Static<typeof ApiError>;

// ---- the live stream (WebSocket /api/v1/stream, subprotocol grace.v1 with the token as bearer.<token>) ----

export const WsClientMessage = Type.Union([
  Type.Object(
    { type: Type.Literal('chat'), message: ChatMessageText, conversation_id: Type.Optional(Id) },
    { additionalProperties: false },
  ),
  Type.Object({ type: Type.Literal('ping') }, { additionalProperties: false }),
]);
export type WsClientMessage = Static<typeof WsClientMessage>;

export const WsServerMessage = Type.Union([
  Type.Object(
    {
      type: Type.Literal('event'),
      subject: Type.String({ description: 'e.g. incident.opened' }),
      event: JsonObject,
    },
    { additionalProperties: false },
  ),
  Type.Object({ type: Type.Literal('chat.reply'), reply: ChatReply }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('pong') }, { additionalProperties: false }),
  Type.Object(
    { type: Type.Literal('error'), error: Type.String(), message: Type.String() },
    { additionalProperties: false },
  ),
]);
export type WsServerMessage = Static<typeof WsServerMessage>;
