// Small schemas reused across subjects and queries: names, severities, timestamps, durations, roles, paging.
import { Type } from '@sinclair/typebox';

export const Id = Type.String({ minLength: 1, maxLength: 128 });
export const Uuid = Type.String({ format: 'uuid' });
export const Timestamp = Type.String({ format: 'date-time' });
/** A service or component name as producers spell it: lower-case, dots, dashes, underscores. */
export const ServiceName = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' });
export const Environment = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' });
export const Severity = Type.Union(
  [
    Type.Literal('debug'),
    Type.Literal('info'),
    Type.Literal('warning'),
    Type.Literal('error'),
    Type.Literal('critical'),
  ],
  { description: 'debug < info < warning < error < critical' },
);
export const Fingerprint = Type.String({ minLength: 1, maxLength: 128 });
export const Tier = Type.Integer({ minimum: 1, maximum: 3 });
export const Adapter = Type.Union([Type.Literal('nats'), Type.Literal('http'), Type.Literal('kubernetes')]);
/** Free-form scalar attributes (labels, tags), bounded in count and size. */
export const Attributes = Type.Record(
  Type.String({ maxLength: 128 }),
  Type.Union([Type.String({ maxLength: 4096 }), Type.Number(), Type.Boolean(), Type.Null()]),
  { maxProperties: 64 },
);
/** A JSON object of bounded size whose shape belongs to an adapter or a target system. */
export const JsonObject = Type.Record(Type.String({ maxLength: 128 }), Type.Unknown(), { maxProperties: 128 });
/** A playbook's name in the sentinel's catalog, e.g. restart_service. */
export const PlaybookName = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' });
/** The action an adapter runs, e.g. rollout_restart; one NATS subject token (`remediation.<service>.<action>`), so no dots. */
export const ActionName = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9_-]*$' });
/** The error signature that learned statistics are kept for (one per kind of error, across occurrences). */
export const Signature = Type.String({ minLength: 1, maxLength: 256 });
/** An error's type or class as the producer named it, e.g. ConnectionRefused. */
export const ErrorKind = Type.String({ minLength: 1, maxLength: 256 });
/** Which remediation attempt on an incident, from 1. */
export const Attempt = Type.Integer({ minimum: 1 });
/** Derived from incident + attempt: the same key never executes twice. */
export const IdempotencyKey = Type.String({ minLength: 1, maxLength: 256 });
export const Confidence = Type.Number({ minimum: 0, maximum: 1 });
export const DurationMs = Type.Integer({ minimum: 0 });
export const Count = Type.Integer({ minimum: 0 });
/** Why something happened, for a human reading a timeline or an audit trail. */
export const Reason = Type.String({ minLength: 1, maxLength: 2048 });
export const Role = Type.Union([
  Type.Literal('viewer'),
  Type.Literal('operator'),
  Type.Literal('approver'),
  Type.Literal('admin'),
]);
/** Who asked for something: a Grace service (e.g. sentinel) or a signed-in user. */
export const Principal = Type.Object(
  { kind: Type.Union([Type.Literal('service'), Type.Literal('user')]), id: Id },
  { additionalProperties: false },
);
// 100 keeps a page of typical items well under NATS's 1 MiB payload; a responder may still end a page early by size.
/** Keyset paging: at most `limit` items per page; pass a reply's `next_cursor` back for the next page. */
export const PageLimit = Type.Integer({ minimum: 1, maximum: 100 });
export const PageCursor = Type.String({ minLength: 1, maxLength: 512 });
