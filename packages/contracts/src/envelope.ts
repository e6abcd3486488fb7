// The CloudEvents 1.0 structured-mode envelope that carries every Grace event.
import { Type, type Static, type TSchema } from '@sinclair/typebox';

export const SPEC_VERSION = '1.0';
export const MAX_EVENT_BYTES = 64 * 1024;

/** W3C trace context `traceparent`: version-traceid-parentid-flags. */
export const TRACEPARENT_PATTERN = '^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$';

// CloudEvents extension attributes are lower-case alphanumeric names holding scalars.
const ExtensionValue = Type.Union([Type.String({ maxLength: 1024 }), Type.Number(), Type.Boolean()]);

/** The context attributes, without `type` and `data`, shared by every event. */
export const EnvelopeAttributes = {
  specversion: Type.Literal(SPEC_VERSION),
  id: Type.String({ minLength: 1, maxLength: 128 }),
  source: Type.String({ minLength: 1, maxLength: 256 }),
  time: Type.String({ format: 'date-time' }),
  datacontenttype: Type.Optional(Type.Literal('application/json')),
  subject: Type.Optional(Type.String({ maxLength: 256 })),
  correlationid: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  traceparent: Type.Optional(Type.String({ pattern: TRACEPARENT_PATTERN })),
};

/** The envelope schema for one event type: `type` fixed to the subject, `data` to its schema. */
export function cloudEvent<S extends string, D extends TSchema>(type: S, data: D) {
  return Type.Object(
    { ...EnvelopeAttributes, type: Type.Literal(type), data },
    {
      $id: `https://grace.dev/schemas/${type}.json`,
      title: type,
      // Extension attributes: lower-case alphanumeric names (CloudEvents 1.0 naming) with scalar values.
      propertyNames: { pattern: '^[a-z0-9]{1,20}$' },
      additionalProperties: ExtensionValue,
      maxProperties: 32,
    },
  );
}

/** Any CloudEvent, before its type is known (what arrives on the wire). */
export const AnyCloudEvent = Type.Object(
  { ...EnvelopeAttributes, type: Type.String({ minLength: 1, maxLength: 128 }), data: Type.Unknown() },
  { additionalProperties: true },
);
export type AnyCloudEvent = Static<typeof AnyCloudEvent>;
