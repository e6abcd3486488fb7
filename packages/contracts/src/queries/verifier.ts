// Request and reply schemas of verifier.query.* (one verification, baselines).
import { Type } from '@sinclair/typebox';
import { Environment, Id, PageCursor, PageLimit, ServiceName, Timestamp } from '../common.js';
import { CheckKind } from '../events/actions.js';
import { ContractVerified } from '../events/contracts.js';

// One of verification_id, contract_id or action_id names the verification.
export const VerificationRequest = Type.Object(
  { verification_id: Type.Optional(Id), contract_id: Type.Optional(Id), action_id: Type.Optional(Id) },
  { additionalProperties: false, minProperties: 1, description: 'verification_id, contract_id or action_id' },
);

export const VerificationReply = Type.Object({ verification: ContractVerified }, { additionalProperties: false });

/** A golden value per service and check, learned from verified runs; drift is a value beyond its tolerance. */
export const Baseline = Type.Object(
  {
    service: ServiceName,
    environment: Environment,
    check: Type.String({ minLength: 1, maxLength: 128 }),
    kind: CheckKind,
    metric: Type.String({ minLength: 1, maxLength: 128, description: 'e.g. latency_ms, errors_per_minute' }),
    value: Type.Number(),
    tolerance: Type.Number({ minimum: 0 }),
    samples: Type.Integer({ minimum: 1 }),
    updated_at: Timestamp,
  },
  { additionalProperties: false },
);

export const BaselinesRequest = Type.Object(
  {
    service: Type.Optional(ServiceName),
    environment: Type.Optional(Environment),
    check: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    limit: Type.Optional(PageLimit),
    cursor: Type.Optional(PageCursor),
  },
  { additionalProperties: false },
);

export const BaselinesReply = Type.Object(
  { items: Type.Array(Baseline, { maxItems: 100 }), next_cursor: Type.Optional(PageCursor) },
  { additionalProperties: false },
);
