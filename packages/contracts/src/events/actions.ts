// Data schemas of actions (action.requested, action.denied, action.executed) and the contract parts they carry:
// target, expected effect, checks, plan.
import { Type, type Static } from '@sinclair/typebox';
import {
  ActionName,
  Adapter,
  Attempt,
  DurationMs,
  Environment,
  Fingerprint,
  Id,
  IdempotencyKey,
  JsonObject,
  PlaybookName,
  Principal,
  Reason,
  ServiceName,
  Signature,
  Tier,
  Timestamp,
} from '../common.js';

/** What an action acts on; the adapter reads the fields it needs (namespace and deployment, or url). */
export const Target = Type.Object(
  {
    service: ServiceName,
    environment: Environment,
    namespace: Type.Optional(Type.String({ minLength: 1, maxLength: 63, description: 'kubernetes namespace' })),
    deployment: Type.Optional(Type.String({ minLength: 1, maxLength: 253, description: 'kubernetes Deployment name' })),
    url: Type.Optional(Type.String({ maxLength: 2048, pattern: '^https?://', description: 'http adapter webhook' })),
  },
  { additionalProperties: false },
);
export type Target = Static<typeof Target>;

/** A field of a state, reply or body as a dotted path, e.g. `pool.healthy`. */
export const FieldPath = Type.String({ minLength: 1, maxLength: 256 });

/** Field (dotted path) -> expected value, compared one by one. */
export const ExpectedFields = Type.Record(FieldPath, Type.Unknown(), { maxProperties: 64 });

/** What the world should look like after the action. */
export const ExpectedEffect = Type.Object(
  {
    target_state: ExpectedFields,
    error_rate_ceiling: Type.Number({ minimum: 0, description: 'errors per minute the target may still show' }),
  },
  { additionalProperties: false },
);
export type ExpectedEffect = Static<typeof ExpectedEffect>;

// Every check has a name unique in its contract, an optional weight in the confidence and a timeout.
const checkProperties = {
  name: Type.String({ minLength: 1, maxLength: 128 }),
  weight: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 100, description: 'default 1' })),
  timeout_ms: Type.Optional(Type.Integer({ minimum: 1, maximum: 60_000 })),
};

export const HttpCheck = Type.Object(
  {
    kind: Type.Literal('http'),
    ...checkProperties,
    url: Type.String({ maxLength: 2048, pattern: '^https?://' }),
    expect_status: Type.Integer({ minimum: 100, maximum: 599 }),
    max_latency_ms: Type.Optional(Type.Integer({ minimum: 1 })),
    expect_json: Type.Optional(ExpectedFields),
  },
  { additionalProperties: false },
);

export const NatsCheck = Type.Object(
  {
    kind: Type.Literal('nats'),
    ...checkProperties,
    subject: Type.String({ minLength: 1, maxLength: 256, description: 'e.g. remediation.<service>.status' }),
    payload: Type.Optional(JsonObject),
    expect_fields: ExpectedFields,
  },
  { additionalProperties: false },
);

export const ErrorRateCheck = Type.Object(
  {
    kind: Type.Literal('error_rate'),
    ...checkProperties,
    scope: Type.Union([Type.Literal('fingerprint'), Type.Literal('service')], {
      description: "count the incident's fingerprint or every error of the target service",
    }),
    window_ms: Type.Integer({ minimum: 1000, maximum: 3_600_000, description: 'observed after the action' }),
    ceiling_per_minute: Type.Optional(Type.Number({ minimum: 0, description: "defaults to the contract's ceiling" })),
  },
  { additionalProperties: false },
);

export const StateCheck = Type.Object(
  {
    kind: Type.Literal('state'),
    ...checkProperties,
    fields: Type.Optional(
      Type.Array(FieldPath, {
        maxItems: 64,
        description: 'the target_state fields to compare; all of them when absent',
      }),
    ),
  },
  { additionalProperties: false },
);

/** One verification check the verifier runs, told apart by `kind`. */
export const Check = Type.Union([HttpCheck, NatsCheck, ErrorRateCheck, StateCheck]);
export type Check = Static<typeof Check>;
export const CheckKind = Type.Union([
  Type.Literal('http'),
  Type.Literal('nats'),
  Type.Literal('error_rate'),
  Type.Literal('state'),
]);
export type CheckKind = Static<typeof CheckKind>;
export const Checks = Type.Array(Check, { maxItems: 32 });

/** Upper bound of any action's timeout; 60 s is the default, a playbook may ask for more. */
export const ActionTimeoutMs = Type.Integer({ minimum: 1, maximum: 3_600_000 });

/** What is to be done and how it will be judged: the plan of an action contract. */
export const actionPlanProperties = {
  playbook: PlaybookName,
  adapter: Adapter,
  action: ActionName,
  target: Target,
  params: JsonObject,
  tier: Tier,
  expected_effect: ExpectedEffect,
  checks: Checks,
  timeout_ms: ActionTimeoutMs,
};
export const ActionPlan = Type.Object(actionPlanProperties, { additionalProperties: false });
export type ActionPlan = Static<typeof ActionPlan>;

// An operator can run a playbook from the chat outside any incident; then incident, fingerprint and signature are absent.
export const actionOriginProperties = {
  incident_id: Type.Optional(Id),
  fingerprint: Type.Optional(Fingerprint),
  signature: Type.Optional(Signature),
};

export const ActionRequested = Type.Object(
  {
    action_id: Id,
    ...actionOriginProperties,
    ...actionPlanProperties,
    idempotency_key: IdempotencyKey,
    attempt: Attempt,
    requested_by: Principal,
    requested_at: Timestamp,
  },
  { additionalProperties: false },
);

export const ActionDenied = Type.Object(
  {
    action_id: Id,
    ...actionOriginProperties,
    playbook: PlaybookName,
    adapter: Adapter,
    action: ActionName,
    target: Target,
    tier: Tier,
    attempt: Attempt,
    denied_by: Type.Union([Type.Literal('policy'), Type.Literal('constitution')], {
      description: 'a policy rule, or an invariant no policy overrides (action budget, open contract on the target)',
    }),
    rule: Type.String({ minLength: 1, maxLength: 256, description: 'the rule or invariant that said no' }),
    policy_version: Type.Optional(Type.String({ maxLength: 128 })),
    reason: Reason,
    denied_at: Timestamp,
  },
  { additionalProperties: false },
);

export const ExecutionResult = Type.Union(
  [Type.Literal('succeeded'), Type.Literal('failed'), Type.Literal('timed_out'), Type.Literal('dry_run')],
  { description: 'what the adapter said (dry_run: plan, snapshot and contract recorded, nothing executed)' },
);
export type ExecutionResult = Static<typeof ExecutionResult>;

export const ActionExecuted = Type.Object(
  {
    contract_id: Id,
    action_id: Id,
    ...actionOriginProperties,
    ...actionPlanProperties,
    attempt: Attempt,
    result: ExecutionResult,
    error: Type.Optional(Type.String({ maxLength: 4096, description: 'what the adapter reported when it failed' })),
    // The state the adapter reported after acting (empty on a dry run).
    actual_state: JsonObject,
    // The snapshot taken before acting (tier >= 2).
    snapshot_id: Type.Optional(Id),
    carried_out: Type.Optional(
      Type.Boolean({
        description:
          'false when nothing was done to the target (the snapshot failed, no adapter): there is nothing to verify or roll back; absent or true otherwise',
      }),
    ),
    started_at: Timestamp,
    finished_at: Timestamp,
    duration_ms: DurationMs,
  },
  { additionalProperties: false },
);
