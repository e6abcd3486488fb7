// Data schemas of the error subjects: error.reported, error.captured, security.finding.
import { Type } from '@sinclair/typebox';
import { Attributes, Environment, Fingerprint, Id, ServiceName, Severity, Timestamp } from '../common.js';

export const StackFrame = Type.Object(
  {
    function: Type.Optional(Type.String({ maxLength: 512 })),
    file: Type.Optional(Type.String({ maxLength: 1024 })),
    line: Type.Optional(Type.Integer({ minimum: 0 })),
    column: Type.Optional(Type.Integer({ minimum: 0 })),
    module: Type.Optional(Type.String({ maxLength: 512 })),
  },
  { additionalProperties: false },
);

export const ErrorReported = Type.Object(
  {
    service: ServiceName,
    environment: Environment,
    kind: Type.String({ minLength: 1, maxLength: 256, description: 'error type or class, e.g. ConnectionRefused' }),
    message: Type.String({ minLength: 1, maxLength: 16384 }),
    severity: Severity,
    occurred_at: Timestamp,
    stack: Type.Optional(
      Type.Union([Type.String({ maxLength: 32768 }), Type.Array(StackFrame, { maxItems: 200 })], {
        description: 'a raw stack trace, or parsed frames (innermost last)',
      }),
    ),
    fingerprint: Type.Optional(Fingerprint),
    release: Type.Optional(Type.String({ maxLength: 256 })),
    host: Type.Optional(Type.String({ maxLength: 256 })),
    origin: Type.Optional(
      Type.Union([
        Type.Literal('nats'),
        Type.Literal('http'),
        Type.Literal('alertmanager'),
        Type.Literal('sentry'),
        Type.Literal('cli'),
      ]),
    ),
    attributes: Type.Optional(Attributes),
  },
  { additionalProperties: false },
);

export const ErrorCaptured = Type.Object(
  {
    capture_id: Id,
    fingerprint: Fingerprint,
    service: ServiceName,
    environment: Environment,
    kind: Type.String({ minLength: 1, maxLength: 256 }),
    message: Type.String({ minLength: 1, maxLength: 16384, description: 'redacted' }),
    severity: Severity,
    category: Type.Optional(Type.String({ maxLength: 64 })),
    stack: Type.Optional(Type.String({ maxLength: 32768, description: 'redacted, normalised to text' })),
    attributes: Type.Optional(Attributes),
    first_seen: Timestamp,
    last_seen: Timestamp,
    count: Type.Integer({ minimum: 1, description: 'occurrences of this fingerprint in the current dedupe window' }),
    total_count: Type.Integer({ minimum: 1, description: 'occurrences since the fingerprint was first seen' }),
    update: Type.Boolean({ description: 'false for the first capture in a window, true for count updates' }),
    storm: Type.Boolean({ description: 'a rate limit was exceeded: occurrences are being aggregated' }),
    route: Type.Optional(Type.String({ maxLength: 128, description: 'route tag set by a routing rule' })),
    muted_until: Type.Optional(Timestamp),
    reported_event_id: Id,
    security_flags: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 32 }),
  },
  { additionalProperties: false },
);

export const SecurityFinding = Type.Object(
  {
    finding_id: Id,
    category: Type.Union([Type.Literal('secret'), Type.Literal('injection')]),
    kind: Type.String({
      minLength: 1,
      maxLength: 64,
      description:
        'e.g. aws_access_key, private_key, jwt, bearer_token, url_password, high_entropy, sql, script, shell, log_forging',
    }),
    location: Type.String({
      minLength: 1,
      maxLength: 256,
      description: 'where in the event, e.g. message, stack, attributes.db_url',
    }),
    service: ServiceName,
    environment: Environment,
    reported_event_id: Id,
    fingerprint: Type.Optional(Fingerprint),
    action: Type.Union([Type.Literal('redacted'), Type.Literal('flagged')]),
    detected_at: Timestamp,
  },
  { additionalProperties: false, description: 'never carries the secret itself' },
);
