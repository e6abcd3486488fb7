// The dead letter: what a consumer publishes on dlq.<subject> when it gives up on an event.
import { Type, type Static } from '@sinclair/typebox';
import { Timestamp } from './common.js';

export const DeadLetterReason = Type.Union([
  Type.Literal('invalid_json'),
  Type.Literal('oversized'),
  Type.Literal('invalid_event'),
  Type.Literal('permanent_failure'),
  Type.Literal('retries_exhausted'),
  Type.Literal('deliveries_exhausted'),
]);
export type DeadLetterReason = Static<typeof DeadLetterReason>;

export const DeadLetter = Type.Object(
  {
    reason: DeadLetterReason,
    message: Type.String({ maxLength: 8192, description: 'what went wrong, for a human' }),
    errors: Type.Array(Type.Object({ path: Type.String(), message: Type.String() }, { additionalProperties: false }), {
      maxItems: 100,
      description: 'validation errors, when the event was invalid',
    }),
    subject: Type.String({ description: 'the original subject, without deployment prefix' }),
    service: Type.String(),
    consumer: Type.String(),
    stream: Type.String(),
    stream_sequence: Type.Integer({ minimum: 0 }),
    deliveries: Type.Integer({ minimum: 0 }),
    event_id: Type.Optional(Type.String()),
    correlationid: Type.Optional(Type.String()),
    failed_at: Timestamp,
    event: Type.Optional(Type.Unknown({ description: 'the original event when it was JSON' })),
    raw: Type.Optional(Type.String({ description: 'the original payload (truncated) when it was not JSON' })),
  },
  { additionalProperties: false },
);
export type DeadLetter = Static<typeof DeadLetter>;
