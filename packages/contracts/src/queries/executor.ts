// Request and reply schemas of executor.query.* (contracts, approvals, audit chain) and executor.control.* (pause).
import { Type, type Static } from '@sinclair/typebox';
import {
  Adapter,
  Attempt,
  Confidence,
  Count,
  Environment,
  Id,
  IdempotencyKey,
  JsonObject,
  PageCursor,
  PageLimit,
  Principal,
  Reason,
  ServiceName,
  Timestamp,
} from '../common.js';
import { actionOriginProperties, actionPlanProperties, ExecutionResult, Target } from '../events/actions.js';
import { ApprovalRequested, RecordedVote } from '../events/approvals.js';
import { Verdict } from '../events/contracts.js';

/** pending -> approved -> snapshotted -> executing -> executed -> verified | failed | rolling_back -> rolled_back | expired | denied. */
export const ContractStatus = Type.Union([
  Type.Literal('pending'),
  Type.Literal('approved'),
  Type.Literal('snapshotted'),
  Type.Literal('executing'),
  Type.Literal('executed'),
  Type.Literal('verified'),
  Type.Literal('failed'),
  Type.Literal('rolling_back'),
  Type.Literal('rolled_back'),
  Type.Literal('expired'),
  Type.Literal('denied'),
]);
export type ContractStatus = Static<typeof ContractStatus>;

/** An action contract as the executor persisted it before acting, with what has happened to it since. */
export const Contract = Type.Object(
  {
    contract_id: Id,
    action_id: Id,
    ...actionOriginProperties,
    ...actionPlanProperties,
    idempotency_key: IdempotencyKey,
    attempt: Attempt,
    requested_by: Principal,
    status: ContractStatus,
    dry_run: Type.Boolean(),
    approval_id: Type.Optional(Id),
    snapshot_id: Type.Optional(Id),
    result: Type.Optional(ExecutionResult),
    actual_state: Type.Optional(JsonObject),
    verdict: Type.Optional(Verdict),
    confidence: Type.Optional(Confidence),
    error: Type.Optional(Type.String({ maxLength: 4096 })),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { additionalProperties: false },
);

/** The state of what an action changes, taken before it acts (tier >= 2). */
export const Snapshot = Type.Object(
  {
    snapshot_id: Id,
    contract_id: Id,
    adapter: Adapter,
    target: Target,
    state: JsonObject,
    taken_at: Timestamp,
    restored_at: Type.Optional(Timestamp),
  },
  { additionalProperties: false },
);

// SHA-256 in hex; the first entry's prev_hash is 64 zeros.
const Sha256 = Type.String({ pattern: '^[0-9a-f]{64}$' });

/** One link of the tamper-evident audit chain: each entry holds the hash of the previous one. */
export const AuditEntry = Type.Object(
  {
    seq: Type.Integer({ minimum: 1 }),
    at: Timestamp,
    step: Type.String({
      minLength: 1,
      maxLength: 64,
      pattern: '^[a-z][a-z0-9_.]*$',
      description: 'e.g. policy.checked',
    }),
    actor: Type.String({ minLength: 1, maxLength: 128 }),
    contract_id: Type.Optional(Id),
    action_id: Type.Optional(Id),
    detail: JsonObject,
    prev_hash: Sha256,
    hash: Sha256,
  },
  { additionalProperties: false },
);

export const ApprovalStatus = Type.Union([
  Type.Literal('pending'),
  Type.Literal('granted'),
  Type.Literal('rejected'),
  Type.Literal('expired'),
]);

export const Approval = Type.Object(
  { ...ApprovalRequested.properties, status: ApprovalStatus, votes: Type.Array(RecordedVote, { maxItems: 64 }) },
  { additionalProperties: false },
);

// One of contract_id or action_id names the contract.
export const ContractRequest = Type.Object(
  { contract_id: Type.Optional(Id), action_id: Type.Optional(Id) },
  { additionalProperties: false, minProperties: 1, description: 'contract_id or action_id' },
);

export const ContractReply = Type.Object(
  {
    contract: Contract,
    snapshot: Type.Optional(Snapshot),
    approval: Type.Optional(Approval),
    audit: Type.Array(AuditEntry, { maxItems: 200, description: "the contract's audit entries, oldest first" }),
  },
  { additionalProperties: false },
);

export const ApprovalsRequest = Type.Object(
  {
    service: Type.Optional(ServiceName),
    environment: Type.Optional(Environment),
    limit: Type.Optional(PageLimit),
    cursor: Type.Optional(PageCursor),
  },
  { additionalProperties: false, description: 'pending approvals, oldest first' },
);

export const ApprovalsReply = Type.Object(
  { items: Type.Array(Approval, { maxItems: 100 }), next_cursor: Type.Optional(PageCursor) },
  { additionalProperties: false },
);

export const AuditRequest = Type.Object(
  {
    contract_id: Type.Optional(Id),
    action_id: Type.Optional(Id),
    after_seq: Type.Optional(Type.Integer({ minimum: 0 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
    verify: Type.Optional(Type.Boolean({ description: 'also verify the whole chain' })),
  },
  { additionalProperties: false },
);

/** The result of re-hashing the chain: the first broken link, if a row was altered. */
export const AuditVerification = Type.Object(
  {
    ok: Type.Boolean(),
    checked: Count,
    first_broken_seq: Type.Optional(Type.Integer({ minimum: 1 })),
    reason: Type.Optional(Reason),
  },
  { additionalProperties: false },
);

export const AuditReply = Type.Object(
  {
    entries: Type.Array(AuditEntry, { maxItems: 500 }),
    next_seq: Type.Optional(Type.Integer({ minimum: 0, description: 'pass as after_seq for the next page' })),
    verification: Type.Optional(AuditVerification),
  },
  { additionalProperties: false },
);

/** The global pause switch: it holds every new action and pauses nothing already verified. */
export const ExecutorStatus = Type.Object(
  {
    paused: Type.Boolean(),
    paused_by: Type.Optional(Id),
    paused_at: Type.Optional(Timestamp),
    reason: Type.Optional(Reason),
    held_actions: Count,
    open_contracts: Count,
    dry_run: Type.Boolean({ description: 'the global dry-run mode' }),
  },
  { additionalProperties: false },
);

export const PauseRequest = Type.Object({ by: Id, reason: Reason }, { additionalProperties: false });
export const ResumeRequest = Type.Object({ by: Id, reason: Type.Optional(Reason) }, { additionalProperties: false });
export const ExecutorStatusRequest = Type.Object({}, { additionalProperties: false });
