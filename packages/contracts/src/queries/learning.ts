// Request and reply schemas of learning.query.* (statistics, outcome records, top and bottom playbooks).
import { Type } from '@sinclair/typebox';
import {
  ActionName,
  Adapter,
  Confidence,
  Count,
  DurationMs,
  Environment,
  Id,
  PageCursor,
  PageLimit,
  PlaybookName,
  ServiceName,
  Signature,
  Tier,
  Timestamp,
} from '../common.js';
import { Verdict } from '../events/contracts.js';
import { PlaybookStatistics } from '../events/learning.js';

/** One outcome record per action: its verdict, or that it was denied, and whether it was rolled back. */
export const Outcome = Type.Object(
  {
    action_id: Id,
    contract_id: Type.Optional(Id),
    incident_id: Type.Optional(Id),
    playbook: PlaybookName,
    signature: Type.Optional(Signature),
    service: ServiceName,
    environment: Environment,
    adapter: Adapter,
    action: ActionName,
    tier: Tier,
    verdict: Type.Optional(Verdict),
    confidence: Type.Optional(Confidence),
    denied: Type.Boolean(),
    rolled_back: Type.Boolean(),
    execution_ms: Type.Optional(DurationMs),
    time_to_verify_ms: Type.Optional(DurationMs),
    recorded_at: Timestamp,
  },
  { additionalProperties: false },
);

export const StatsRequest = Type.Object(
  {
    playbook: Type.Optional(PlaybookName),
    signature: Type.Optional(Signature),
    limit: Type.Optional(PageLimit),
    cursor: Type.Optional(PageCursor),
  },
  { additionalProperties: false },
);

export const StatsReply = Type.Object(
  { items: Type.Array(PlaybookStatistics, { maxItems: 100 }), next_cursor: Type.Optional(PageCursor) },
  { additionalProperties: false },
);

export const OutcomesRequest = Type.Object(
  {
    playbook: Type.Optional(PlaybookName),
    signature: Type.Optional(Signature),
    service: Type.Optional(ServiceName),
    environment: Type.Optional(Environment),
    verdict: Type.Optional(Verdict),
    from: Type.Optional(Timestamp),
    to: Type.Optional(Timestamp),
    limit: Type.Optional(PageLimit),
    cursor: Type.Optional(PageCursor),
  },
  { additionalProperties: false, description: 'from/to bound recorded_at; newest first' },
);

export const OutcomesReply = Type.Object(
  { items: Type.Array(Outcome, { maxItems: 100 }), next_cursor: Type.Optional(PageCursor) },
  { additionalProperties: false },
);

export const TopRequest = Type.Object(
  {
    order: Type.Union([Type.Literal('best'), Type.Literal('worst')]),
    signature: Type.Optional(Signature),
    min_executions: Type.Optional(Count),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 50 })),
  },
  { additionalProperties: false, description: 'playbooks ranked by posterior mean success' },
);

export const RankedPlaybook = Type.Object(
  {
    rank: Type.Integer({ minimum: 1 }),
    success_rate: Confidence,
    posterior_mean: Type.Number({ minimum: 0, maximum: 1, description: 'alpha / (alpha + beta)' }),
    statistics: PlaybookStatistics,
  },
  { additionalProperties: false },
);

export const TopReply = Type.Object(
  { items: Type.Array(RankedPlaybook, { maxItems: 50 }) },
  { additionalProperties: false },
);
