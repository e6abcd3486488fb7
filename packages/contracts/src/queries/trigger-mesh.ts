// Request and reply schemas of trigger-mesh.query.* (captured errors).
import { Type } from '@sinclair/typebox';
import {
  Environment,
  ErrorKind,
  Fingerprint,
  PageCursor,
  PageLimit,
  ServiceName,
  Severity,
  Timestamp,
} from '../common.js';
import { ErrorCaptured } from '../events/errors.js';

/** A captured error by fingerprint, as trigger-mesh keeps it (the stack is left to the event). */
export const CapturedError = Type.Omit(ErrorCaptured, ['update', 'reported_event_id', 'stack']);

export const CapturesRequest = Type.Object(
  {
    service: Type.Optional(ServiceName),
    environment: Type.Optional(Environment),
    fingerprint: Type.Optional(Fingerprint),
    kind: Type.Optional(ErrorKind),
    severity: Type.Optional(Severity),
    storm: Type.Optional(Type.Boolean()),
    from: Type.Optional(Timestamp),
    to: Type.Optional(Timestamp),
    limit: Type.Optional(PageLimit),
    cursor: Type.Optional(PageCursor),
  },
  { additionalProperties: false, description: 'from/to bound last_seen; newest first' },
);

export const CapturesReply = Type.Object(
  {
    items: Type.Array(CapturedError, { maxItems: 100 }),
    next_cursor: Type.Optional(PageCursor),
  },
  { additionalProperties: false },
);
