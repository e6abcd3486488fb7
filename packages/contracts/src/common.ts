// Small schemas reused across subjects: names, severities, environments, timestamps.
import { Type } from '@sinclair/typebox';

export const Id = Type.String({ minLength: 1, maxLength: 128 });
export const Uuid = Type.String({ format: 'uuid' });
export const Timestamp = Type.String({ format: 'date-time' });
/** A service or component name as producers spell it: lower-case, dots, dashes, underscores. */
export const ServiceName = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' });
export const Environment = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' });
export const Severity = Type.Union(
  [Type.Literal('debug'), Type.Literal('info'), Type.Literal('warning'), Type.Literal('error'), Type.Literal('critical')],
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
