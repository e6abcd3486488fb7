// Data schemas of contract verdicts: contract.verified, contract.rolled_back, and the check results they carry.
import { Type, type Static } from '@sinclair/typebox';
import {
  ActionName,
  Adapter,
  Attempt,
  Confidence,
  DurationMs,
  Id,
  JsonObject,
  PlaybookName,
  Reason,
  Tier,
  Timestamp,
} from '../common.js';
import { actionOriginProperties, CheckKind, ExecutionResult, FieldPath, Target } from './actions.js';

export const Verdict = Type.Union([Type.Literal('verified'), Type.Literal('failed'), Type.Literal('drift')], {
  description: 'drift: the target moved away from the expected state or beyond its baseline tolerance',
});
export type Verdict = Static<typeof Verdict>;

export const CheckStatus = Type.Union(
  [Type.Literal('passed'), Type.Literal('failed'), Type.Literal('error'), Type.Literal('skipped')],
  { description: 'error: the check could not run (timeout, target unreachable); never counted as passed' },
);
export type CheckStatus = Static<typeof CheckStatus>;

/** One field of a state compared with its expected value. */
export const FieldComparison = Type.Object(
  {
    field: FieldPath,
    expected: Type.Unknown(),
    actual: Type.Optional(Type.Unknown({ description: 'absent when the state lacks the field' })),
    matched: Type.Boolean(),
  },
  { additionalProperties: false },
);
export type FieldComparison = Static<typeof FieldComparison>;

export const CheckResult = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 128 }),
    kind: CheckKind,
    status: CheckStatus,
    reason: Reason,
    duration_ms: DurationMs,
    observed: Type.Optional(JsonObject),
    fields: Type.Optional(Type.Array(FieldComparison, { maxItems: 64 })),
  },
  { additionalProperties: false },
);
export type CheckResult = Static<typeof CheckResult>;

/** A measured value outside its baseline's tolerance. */
export const BaselineDeviation = Type.Object(
  {
    check: Type.String({ minLength: 1, maxLength: 128 }),
    metric: Type.String({ minLength: 1, maxLength: 128 }),
    baseline: Type.Number(),
    observed: Type.Number(),
    tolerance: Type.Number({ minimum: 0 }),
  },
  { additionalProperties: false },
);

export const DriftDetails = Type.Object(
  {
    fields: Type.Array(FieldComparison, {
      maxItems: 64,
      description: 'state fields away from the expected target state',
    }),
    baselines: Type.Array(BaselineDeviation, { maxItems: 64 }),
  },
  { additionalProperties: false },
);
export type DriftDetails = Static<typeof DriftDetails>;

// Both verdict events name the contract, what it did and to what, so consumers need no lookup.
const contractProperties = {
  contract_id: Id,
  action_id: Id,
  ...actionOriginProperties,
  playbook: PlaybookName,
  adapter: Adapter,
  action: ActionName,
  target: Target,
  tier: Tier,
  attempt: Attempt,
};

export const ContractVerified = Type.Object(
  {
    verification_id: Id,
    ...contractProperties,
    verdict: Verdict,
    confidence: Confidence,
    // What the executor reported: a dry run's verdict is no evidence about the playbook.
    execution_result: Type.Optional(ExecutionResult),
    reason: Type.String({ minLength: 1, maxLength: 2048, description: 'why this verdict' }),
    checks: Type.Array(CheckResult, { maxItems: 32 }),
    drift: Type.Optional(DriftDetails),
    execution_ms: DurationMs,
    executed_at: Timestamp,
    verified_at: Timestamp,
    time_to_verify_ms: Type.Integer({ minimum: 0, description: 'from executed_at to verified_at' }),
  },
  { additionalProperties: false },
);

export const ContractRolledBack = Type.Object(
  {
    ...contractProperties,
    snapshot_id: Id,
    trigger: Type.Union([Type.Literal('drift'), Type.Literal('failed'), Type.Literal('timed_out')], {
      description: 'the verdict, or an execution cut at its timeout',
    }),
    verification_id: Type.Optional(Id),
    reason: Reason,
    restored_state: JsonObject,
    duration_ms: DurationMs,
    rolled_back_at: Timestamp,
  },
  { additionalProperties: false, description: 'the snapshot was restored through the adapter' },
);
