// What the chat acts through: the gateway implements these over NATS, tests with plain objects.
import type { QueryReply, QueryRequest } from '@grace/contracts';

export type ChatRole = 'viewer' | 'operator' | 'approver' | 'admin';

export interface ChatUser {
  id: string;
  roles: ChatRole[];
}

export type CubeQuery =
  'cube.query.success_rate' | 'cube.query.mttr' | 'cube.query.error_trends' | 'cube.query.rollback_drift';

export interface IncidentFilter {
  open?: boolean;
  service?: string;
  environment?: string;
  limit?: number;
}

export interface MuteTarget {
  fingerprint?: string;
  signature?: string;
}

export type SystemStatus = QueryReply<'executor.control.status'> & {
  open_incidents: number;
  pending_approvals: number;
};

export interface ChatTools {
  status(): Promise<SystemStatus>;
  listIncidents(filter: IncidentFilter): Promise<QueryReply<'sentinel.query.incidents'>>;
  /** Throws ToolError('not_found', ...) when the incident is unknown. */
  showIncident(incidentId: string): Promise<QueryReply<'sentinel.query.incident'>>;
  pendingApprovals(): Promise<QueryReply<'executor.query.approvals'>>;
  vote(approvalId: string, decision: 'approve' | 'reject', comment?: string): Promise<{ vote_id: string }>;
  runPlaybook(playbook: string, service: string, environment: string): Promise<{ action_id: string }>;
  mute(target: MuteTarget, durationMs: number, reason: string): Promise<{ muted_until: string }>;
  cube<Q extends CubeQuery>(query: Q, request: QueryRequest<Q>): Promise<QueryReply<Q>>;
}

export type ToolErrorCode = 'not_found' | 'forbidden' | 'unavailable' | 'invalid_request' | 'timeout';

/** A tool's failure in terms the chat can explain to the operator. */
export class ToolError extends Error {
  override readonly name = 'ToolError';

  constructor(
    readonly code: ToolErrorCode,
    message: string,
  ) {
    super(message);
  }
}
