// The nats adapter's protocol with a target system: requests on remediation.<service>.<action> and its
// .snapshot, .restore and .status subjects (wildcard subjects, so not in the queries map).
import { Type, type Static } from '@sinclair/typebox';
import { ActionName, Id, IdempotencyKey, JsonObject, Timestamp } from '../common.js';
import { ActionTimeoutMs, Target } from '../events/actions.js';

export const REMEDIATION_PREFIX = 'remediation';
/** Operation names every target answers besides its actions; no action may be named like one of them. */
export const REMEDIATION_OPERATIONS = ['snapshot', 'restore', 'status'] as const;
export type RemediationOperation = (typeof REMEDIATION_OPERATIONS)[number];

/** `remediation.<service>.<action or operation>`. */
export function remediationSubject(service: string, actionOrOperation: string): string {
  return `${REMEDIATION_PREFIX}.${service}.${actionOrOperation}`;
}

/** Run one action; the same idempotency key must never act twice. */
export const RemediationRequest = Type.Object(
  {
    contract_id: Id,
    action_id: Id,
    idempotency_key: IdempotencyKey,
    action: ActionName,
    target: Target,
    params: JsonObject,
    timeout_ms: ActionTimeoutMs,
  },
  { additionalProperties: false },
);
export type RemediationRequest = Static<typeof RemediationRequest>;

export const RemediationReply = Type.Object(
  {
    status: Type.Union([Type.Literal('succeeded'), Type.Literal('failed')]),
    actual_state: JsonObject,
    message: Type.Optional(Type.String({ maxLength: 4096 })),
  },
  { additionalProperties: false },
);
export type RemediationReply = Static<typeof RemediationReply>;

/** Before acting: report the current state of what `action` will change. */
export const SnapshotRequest = Type.Object(
  { contract_id: Id, action: ActionName, target: Target, params: JsonObject },
  { additionalProperties: false },
);
export type SnapshotRequest = Static<typeof SnapshotRequest>;

export const SnapshotReply = Type.Object({ state: JsonObject, taken_at: Timestamp }, { additionalProperties: false });
export type SnapshotReply = Static<typeof SnapshotReply>;

/** Put back the state a snapshot recorded. */
export const RestoreRequest = Type.Object(
  { contract_id: Id, snapshot_id: Id, target: Target, state: JsonObject },
  { additionalProperties: false },
);
export type RestoreRequest = Static<typeof RestoreRequest>;

export const RestoreReply = Type.Object(
  {
    status: Type.Union([Type.Literal('restored'), Type.Literal('failed')]),
    actual_state: JsonObject,
    message: Type.Optional(Type.String({ maxLength: 4096 })),
  },
  { additionalProperties: false },
);
export type RestoreReply = Static<typeof RestoreReply>;

/** The target's current state, e.g. for a nats check. */
export const TargetStatusRequest = Type.Object({ target: Target }, { additionalProperties: false });
export type TargetStatusRequest = Static<typeof TargetStatusRequest>;

export const TargetStatusReply = Type.Object({ state: JsonObject }, { additionalProperties: false });
export type TargetStatusReply = Static<typeof TargetStatusReply>;
