// The typed map of every event subject to its data schema: the one source for names, schemas and types.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { cloudEvent, EnvelopeAttributes } from './envelope.js';
import { AlertResolved } from './events/alerts.js';
import { ErrorCaptured, ErrorReported, SecurityFinding } from './events/errors.js';
import { ActionDenied, ActionExecuted, ActionRequested } from './events/actions.js';
import {
  ApprovalExpired,
  ApprovalGranted,
  ApprovalRejected,
  ApprovalRequested,
  ApprovalVoteCast,
} from './events/approvals.js';
import { ContractRolledBack, ContractVerified } from './events/contracts.js';
import { IncidentEscalated, IncidentOpened, IncidentResolved, IncidentUpdated } from './events/incidents.js';
import { PlaybookStatsUpdated } from './events/learning.js';

export interface EventDefinition {
  readonly description: string;
  readonly data: TSchema;
}

export const events = {
  'error.reported': {
    description: 'A raw error from any producer (NATS or trigger-mesh HTTP ingest).',
    data: ErrorReported,
  },
  'error.captured': {
    description: 'A normalised, redacted, fingerprinted occurrence with counts and route.',
    data: ErrorCaptured,
  },
  'security.finding': {
    description: 'A secret or an injection attempt found in a payload (what and where; never the secret).',
    data: SecurityFinding,
  },
  'alert.resolved': {
    description:
      'An Alertmanager alert of a group stopped firing (trigger-mesh, once per alert and firing); says how many of the group still fire.',
    data: AlertResolved,
  },
  'incident.opened': {
    description: 'The sentinel opened an incident for a fingerprint and environment on its first capture.',
    data: IncidentOpened,
  },
  'incident.updated': {
    description: 'An open incident changed status (triaged, remediating, verifying, muted) or saw new occurrences.',
    data: IncidentUpdated,
  },
  'incident.resolved': {
    description: 'A verified contract resolved the incident, or its source did (every alert of its group resolved).',
    data: IncidentResolved,
  },
  'incident.escalated': {
    description:
      'The sentinel ran out of attempts or playbooks and hands the incident to a human with its decision trail.',
    data: IncidentEscalated,
  },
  'action.requested': {
    description: 'The sentinel (or an operator) asks the executor to run a playbook action under a contract.',
    data: ActionRequested,
  },
  'action.denied': {
    description: 'A policy rule or a constitution invariant refused an action, which never reaches an adapter.',
    data: ActionDenied,
  },
  'action.executed': {
    description: 'The executor ran an action through its adapter: actual state, duration and snapshot reference.',
    data: ActionExecuted,
  },
  'approval.requested': {
    description: 'A risky action waits for a quorum of approvers before it runs.',
    data: ApprovalRequested,
  },
  'approval.granted': {
    description: 'The quorum approved an action, which now runs.',
    data: ApprovalGranted,
  },
  'approval.rejected': {
    description: 'An approver rejected an action, which never runs.',
    data: ApprovalRejected,
  },
  'approval.expired': {
    description: 'An approval expired before its quorum was reached; the action never runs.',
    data: ApprovalExpired,
  },
  'approval.vote.cast': {
    description: "One operator's vote on a pending approval, sent through the gateway.",
    data: ApprovalVoteCast,
  },
  'contract.verified': {
    description:
      "The verifier's verdict on an executed contract: verified, failed or drift, with confidence and check results.",
    data: ContractVerified,
  },
  'contract.rolled_back': {
    description: 'The executor restored the snapshot taken before a contract that drifted, failed or timed out.',
    data: ContractRolledBack,
  },
  'playbook.stats.updated': {
    description: 'New success statistics of a playbook for an error signature (or overall).',
    data: PlaybookStatsUpdated,
  },
} as const satisfies Record<string, EventDefinition>;

export type EventSubject = keyof typeof events;
export type EventData<S extends EventSubject> = Static<(typeof events)[S]['data']>;

/** The context attributes of every event, without `type` and `data`. */
export const Envelope = Type.Object(EnvelopeAttributes);
export type Envelope = Static<typeof Envelope>;
/** A complete CloudEvent of one subject. */
export type GraceEvent<S extends EventSubject = EventSubject> = S extends EventSubject
  ? Envelope & { type: S; data: EventData<S> }
  : never;

export const eventSubjects = Object.keys(events) as EventSubject[];

export function isEventSubject(subject: string): subject is EventSubject {
  return Object.prototype.hasOwnProperty.call(events, subject);
}

const envelopeSchemas = new Map<EventSubject, TSchema>();
/** The full CloudEvent JSON Schema of a subject (envelope + data). */
export function eventSchema(subject: EventSubject): TSchema {
  let schema = envelopeSchemas.get(subject);
  if (!schema) {
    schema = cloudEvent(subject, events[subject].data);
    envelopeSchemas.set(subject, schema);
  }
  return schema;
}
