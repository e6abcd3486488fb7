// The API's shapes, taken from @grace/contracts as types only: nothing of the contracts package is bundled.
import type { EventData, QueryReply, gateway } from '@grace/contracts';

export type Me = gateway.Me;
export type Role = Me['roles'][number];
export type ChatReply = gateway.ChatReply;
export type ChatRequest = gateway.ChatRequest;
export type VoteRequest = gateway.VoteRequest;
export type WsServerMessage = gateway.WsServerMessage;
export type WsClientMessage = gateway.WsClientMessage;
export type ApiErrorBody = gateway.ApiError;

export type IncidentsReply = QueryReply<'sentinel.query.incidents'>;
export type Incident = IncidentsReply['items'][number];
export type IncidentReply = QueryReply<'sentinel.query.incident'>;
export type IncidentTransition = IncidentReply['timeline'][number];
export type Decision = IncidentReply['trail'][number];

export type ApprovalsReply = QueryReply<'executor.query.approvals'>;
export type Approval = ApprovalsReply['items'][number];
export type VoteAccepted = (typeof gateway.VoteAccepted)['static'];

export type ContractQueryReply = QueryReply<'executor.query.contract'>;
export type ContractVerification = EventData<'contract.verified'>;
/** GET /api/v1/contracts/:id: the executor's contract and, once judged, the verifier's verdict. */
export interface ContractView {
  contract: ContractQueryReply;
  verification?: ContractVerification;
}

export type ExecutorStatus = QueryReply<'executor.control.status'>;

export type SuccessRateReply = QueryReply<'cube.query.success_rate'>;
export type MttrReply = QueryReply<'cube.query.mttr'>;
export type ErrorTrendsReply = QueryReply<'cube.query.error_trends'>;
export type RollbackDriftReply = QueryReply<'cube.query.rollback_drift'>;

/** A CloudEvent as the stream carries it; `data` is the event's payload. */
export interface StreamEvent {
  id?: string;
  type?: string;
  time?: string;
  data?: unknown;
}
