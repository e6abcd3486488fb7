// Data schema of learned playbook statistics: playbook.stats.updated (also the shape the learning queries answer with).
import { Type, type Static } from '@sinclair/typebox';
import { Confidence, Count, PlaybookName, Signature, Timestamp } from '../common.js';
import { Verdict } from './contracts.js';

/** Statistics of one (signature, playbook), or of a playbook over every signature when `signature` is absent. */
export const PlaybookStatistics = Type.Object(
  {
    signature: Type.Optional(Signature),
    playbook: PlaybookName,
    executions: Count,
    successes: Count,
    failures: Count,
    rollbacks: Count,
    denials: Count,
    mean_confidence: Type.Optional(Confidence),
    mean_time_to_verify_ms: Type.Optional(Type.Number({ minimum: 0 })),
    // Beta posterior parameters; not integers once time decay has weighed older outcomes down.
    alpha: Type.Number({ exclusiveMinimum: 0 }),
    beta: Type.Number({ exclusiveMinimum: 0 }),
    last_verdict: Type.Optional(Verdict),
    last_outcome_at: Type.Optional(Timestamp),
    updated_at: Timestamp,
  },
  { additionalProperties: false },
);
export type PlaybookStatistics = Static<typeof PlaybookStatistics>;

/** Published after each change of a key's statistics (coalesced); consumers keep the newest `updated_at`. */
export const PlaybookStatsUpdated = PlaybookStatistics;
