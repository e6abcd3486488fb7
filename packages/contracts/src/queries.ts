// The typed map of every request-reply subject (`<owner>.query.*`, controls) to its request and reply schemas.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import {
  ErrorTrendsReply,
  ErrorTrendsRequest,
  EtlRun,
  EtlRunRequest,
  MttrReply,
  MttrRequest,
  RollbackDriftReply,
  RollbackDriftRequest,
  SuccessRateReply,
  SuccessRateRequest,
} from './queries/cube.js';
import {
  ApprovalsReply,
  ApprovalsRequest,
  AuditReply,
  AuditRequest,
  ContractReply,
  ContractRequest,
  ExecutorStatus,
  ExecutorStatusRequest,
  PauseRequest,
  ResumeRequest,
} from './queries/executor.js';
import { OutcomesReply, OutcomesRequest, StatsReply, StatsRequest, TopReply, TopRequest } from './queries/learning.js';
import {
  IncidentReply,
  IncidentRequest,
  IncidentsReply,
  IncidentsRequest,
  PlaybooksReply,
  PlaybooksRequest,
  PlanReply,
  PlanRequest,
  MuteReply,
  MuteRequest,
} from './queries/sentinel.js';
import { CapturesReply, CapturesRequest } from './queries/trigger-mesh.js';
import { BaselinesReply, BaselinesRequest, VerificationReply, VerificationRequest } from './queries/verifier.js';

export interface QueryDefinition {
  readonly description: string;
  readonly request: TSchema;
  readonly reply: TSchema;
}

export const queries = {
  'trigger-mesh.query.captures': {
    description: 'Captured errors by fingerprint with counts, first and last seen, filtered and paged.',
    request: CapturesRequest,
    reply: CapturesReply,
  },
  'sentinel.query.incidents': {
    description: 'Incidents filtered by status, service, environment, fingerprint, severity and time, paged.',
    request: IncidentsRequest,
    reply: IncidentsReply,
  },
  'sentinel.query.incident': {
    description: 'One incident with its timeline of transitions and its decision trail.',
    request: IncidentRequest,
    reply: IncidentReply,
  },
  'sentinel.query.playbooks': {
    description: 'The playbook catalog with the statistics the sentinel currently chooses by.',
    request: PlaybooksRequest,
    reply: PlaybooksReply,
  },
  'sentinel.query.plan': {
    description: "A playbook's plan filled for a service, for an operator to run it outside any incident.",
    request: PlanRequest,
    reply: PlanReply,
  },
  'sentinel.control.mute': {
    description: 'Mute a fingerprint or a signature until a time: its incidents open muted, nothing is remediated.',
    request: MuteRequest,
    reply: MuteReply,
  },
  'executor.query.contract': {
    description: 'One action contract with its checks, snapshot, approval and audit entries.',
    request: ContractRequest,
    reply: ContractReply,
  },
  'executor.query.approvals': {
    description: 'Pending approvals with their quorum, votes so far and the contract they hold back.',
    request: ApprovalsRequest,
    reply: ApprovalsReply,
  },
  'executor.query.audit': {
    description: 'Audit chain entries, and on request the verification of the whole chain (first broken link).',
    request: AuditRequest,
    reply: AuditReply,
  },
  'executor.control.pause': {
    description: 'Turn the global pause switch on: every new action is held until resume (admin only).',
    request: PauseRequest,
    reply: ExecutorStatus,
  },
  'executor.control.resume': {
    description: 'Turn the global pause switch off: held actions run (admin only).',
    request: ResumeRequest,
    reply: ExecutorStatus,
  },
  'executor.control.status': {
    description: 'Whether the executor is paused, by whom and why, and how many actions it holds.',
    request: ExecutorStatusRequest,
    reply: ExecutorStatus,
  },
  'verifier.query.verification': {
    description: 'One verification: verdict, confidence, per-check results and drift details.',
    request: VerificationRequest,
    reply: VerificationReply,
  },
  'verifier.query.baselines': {
    description: 'Baselines (golden values) per service and check, learned from verified runs.',
    request: BaselinesRequest,
    reply: BaselinesReply,
  },
  'learning.query.stats': {
    description: 'Playbook statistics per (signature, playbook) and per playbook overall.',
    request: StatsRequest,
    reply: StatsReply,
  },
  'learning.query.outcomes': {
    description: 'Outcome records, one per action, filtered and paged.',
    request: OutcomesRequest,
    reply: OutcomesReply,
  },
  'learning.query.top': {
    description: 'The best or worst playbooks (for a signature) ranked by posterior mean success.',
    request: TopRequest,
    reply: TopReply,
  },
  'cube.query.success_rate': {
    description: 'Verified / executed by playbook, service or tier over time buckets.',
    request: SuccessRateRequest,
    reply: SuccessRateReply,
  },
  'cube.query.mttr': {
    description: 'Mean, p50 and p90 time to resolve incidents by service and environment over time buckets.',
    request: MttrRequest,
    reply: MttrReply,
  },
  'cube.query.error_trends': {
    description: 'Top error signatures and their occurrences by bucket, with week-over-week change.',
    request: ErrorTrendsRequest,
    reply: ErrorTrendsReply,
  },
  'cube.query.rollback_drift': {
    description: 'Rollback and drift rates by tier and adapter over time buckets, with the worst playbooks.',
    request: RollbackDriftRequest,
    reply: RollbackDriftReply,
  },
  'cube.etl.run': {
    description: 'Run one ETL batch now and answer with its record (conflict when a batch is already running).',
    request: EtlRunRequest,
    reply: EtlRun,
  },
} as const satisfies Record<string, QueryDefinition>;

export const querySubjects = Object.keys(queries) as QuerySubject[];

export type QuerySubject = keyof typeof queries;
export type QueryRequest<Q extends QuerySubject> = Static<(typeof queries)[Q]['request']>;
export type QueryReply<Q extends QuerySubject> = Static<(typeof queries)[Q]['reply']>;

export function isQuerySubject(subject: string): subject is QuerySubject {
  return Object.prototype.hasOwnProperty.call(queries, subject);
}

/** Error codes a responder may answer with; the requester maps them (e.g. to HTTP status). */
export const QueryErrorCode = Type.Union([
  Type.Literal('invalid_request'),
  Type.Literal('not_found'),
  Type.Literal('conflict'),
  Type.Literal('forbidden'),
  Type.Literal('unavailable'),
  Type.Literal('timeout'),
  Type.Literal('internal'),
]);
export type QueryErrorCode = Static<typeof QueryErrorCode>;

/** What travels back on the wire for every request: the reply or a typed error. */
export const QueryResponse = Type.Union([
  Type.Object({ ok: Type.Literal(true), data: Type.Unknown() }, { additionalProperties: false }),
  Type.Object(
    {
      ok: Type.Literal(false),
      error: Type.Object(
        {
          code: QueryErrorCode,
          message: Type.String({ maxLength: 4096 }),
          details: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
        },
        { additionalProperties: false },
      ),
    },
    { additionalProperties: false },
  ),
]);
export type QueryResponse = Static<typeof QueryResponse>;
