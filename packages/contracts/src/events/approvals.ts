// Data schemas of approvals of risky actions: approval.requested/.granted/.rejected/.expired and approval.vote.cast.
import { Type, type Static } from '@sinclair/typebox';
import { Id, Principal, Reason, Role, Timestamp } from '../common.js';
import { ActionPlan } from './actions.js';

/** How many distinct people of which role must approve; the requester never counts. */
export const Quorum = Type.Object(
  {
    required: Type.Integer({ minimum: 1, maximum: 16 }),
    role: Role,
  },
  { additionalProperties: false },
);
export type Quorum = Static<typeof Quorum>;

export const VoteDecision = Type.Union([Type.Literal('approve'), Type.Literal('reject')]);

/** A vote as the executor recorded it: who, what, when, and whether it counted towards the quorum. */
export const RecordedVote = Type.Object(
  {
    voter_id: Id,
    decision: VoteDecision,
    cast_at: Timestamp,
    counted: Type.Boolean(),
    not_counted_reason: Type.Optional(
      Type.String({ maxLength: 256, description: 'e.g. the requester, not an approver, already voted' }),
    ),
  },
  { additionalProperties: false },
);
export type RecordedVote = Static<typeof RecordedVote>;

const Votes = Type.Array(RecordedVote, { maxItems: 64 });

// Every approval event names the approval, the contract it holds back and the action it came from.
const approvalProperties = {
  approval_id: Id,
  contract_id: Id,
  action_id: Id,
  incident_id: Type.Optional(Id),
  quorum: Quorum,
};

export const ApprovalRequested = Type.Object(
  {
    ...approvalProperties,
    plan: ActionPlan,
    requested_by: Principal,
    reason: Type.String({ minLength: 1, maxLength: 2048, description: 'why approval is needed, e.g. the policy rule' }),
    requested_at: Timestamp,
    expires_at: Timestamp,
  },
  { additionalProperties: false },
);

export const ApprovalGranted = Type.Object(
  { ...approvalProperties, votes: Votes, granted_at: Timestamp },
  { additionalProperties: false },
);

export const ApprovalRejected = Type.Object(
  {
    ...approvalProperties,
    votes: Votes,
    rejected_by: Id,
    reason: Type.Optional(Reason),
    rejected_at: Timestamp,
  },
  { additionalProperties: false, description: 'an approver voted reject' },
);

export const ApprovalExpired = Type.Object(
  { ...approvalProperties, votes: Votes, expires_at: Timestamp },
  { additionalProperties: false, description: 'the quorum was not reached in time; the action never runs' },
);

export const ApprovalVoteCast = Type.Object(
  {
    vote_id: Id,
    approval_id: Id,
    voter_id: Id,
    voter_roles: Type.Array(Role, { minItems: 1, maxItems: 4, uniqueItems: true }),
    decision: VoteDecision,
    comment: Type.Optional(Type.String({ maxLength: 1024 })),
    cast_at: Timestamp,
  },
  { additionalProperties: false, description: "one operator's vote, with the roles of their token" },
);
