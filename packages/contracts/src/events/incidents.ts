// Data schemas of the incident lifecycle: incident.opened, incident.updated, incident.resolved, incident.escalated.
import { Type, type Static } from '@sinclair/typebox';
import {
  Attempt,
  Confidence,
  Environment,
  ErrorKind,
  Fingerprint,
  Id,
  PlaybookName,
  Reason,
  ServiceName,
  Severity,
  Signature,
  Timestamp,
} from '../common.js';

/** detected -> triaged -> remediating -> verifying -> resolved | escalated (| muted by a route rule). */
export const IncidentStatus = Type.Union([
  Type.Literal('detected'),
  Type.Literal('triaged'),
  Type.Literal('remediating'),
  Type.Literal('verifying'),
  Type.Literal('resolved'),
  Type.Literal('escalated'),
  Type.Literal('muted'),
]);
export type IncidentStatus = Static<typeof IncidentStatus>;

export const BlastRadius = Type.Union([Type.Literal('low'), Type.Literal('medium'), Type.Literal('high')], {
  description: 'from the occurrence counts and the storm flag',
});

/** How one remediation attempt ended, as the sentinel learnt it. */
export const AttemptOutcome = Type.Union([
  Type.Literal('pending'),
  Type.Literal('verified'),
  Type.Literal('failed'),
  Type.Literal('drift'),
  Type.Literal('rolled_back'),
  Type.Literal('denied'),
]);
export type AttemptOutcome = Static<typeof AttemptOutcome>;

/** A playbook the sentinel considered for an attempt: its Thompson draw, or why it was left out. */
export const PlaybookCandidate = Type.Object(
  {
    playbook: PlaybookName,
    score: Type.Optional(
      Type.Number({ minimum: 0, maximum: 1, description: 'the draw from Beta(successes+1, failures+1)' }),
    ),
    excluded: Type.Optional(
      Type.String({
        maxLength: 256,
        description: 'why it could not be chosen, e.g. cooldown, failed on this incident',
      }),
    ),
  },
  { additionalProperties: false },
);

/** One entry of an incident's decision trail: which playbook an attempt chose, why, and how it ended. */
export const Decision = Type.Object(
  {
    attempt: Attempt,
    playbook: PlaybookName,
    action_id: Id,
    reason: Reason,
    candidates: Type.Array(PlaybookCandidate, { maxItems: 64 }),
    decided_at: Timestamp,
    outcome: AttemptOutcome,
    outcome_reason: Type.Optional(Reason),
    confidence: Type.Optional(Confidence),
  },
  { additionalProperties: false },
);
export type Decision = Static<typeof Decision>;

/** One status transition of an incident, with why it happened. */
export const IncidentTransition = Type.Object(
  {
    status: IncidentStatus,
    previous_status: Type.Optional(IncidentStatus),
    reason: Reason,
    at: Timestamp,
  },
  { additionalProperties: false },
);
export type IncidentTransition = Static<typeof IncidentTransition>;

const OpenStatus = Type.Union([
  Type.Literal('detected'),
  Type.Literal('triaged'),
  Type.Literal('remediating'),
  Type.Literal('verifying'),
  Type.Literal('muted'),
]);

// What every incident event says about the incident; each event narrows `status` and adds its own facts.
const incidentProperties = {
  incident_id: Id,
  fingerprint: Fingerprint,
  signature: Signature,
  service: ServiceName,
  environment: Environment,
  kind: ErrorKind,
  severity: Severity,
  category: Type.Optional(Type.String({ maxLength: 64 })),
  blast_radius: Type.Optional(BlastRadius),
  status: IncidentStatus,
  previous_status: Type.Optional(IncidentStatus),
  reason: Type.String({ minLength: 1, maxLength: 2048, description: 'why this transition happened' }),
  attempts: Type.Integer({ minimum: 0, description: 'remediation attempts so far' }),
  occurrences: Type.Integer({ minimum: 1, description: 'captured occurrences of the fingerprint so far' }),
  playbook: Type.Optional(PlaybookName),
  action_id: Type.Optional(Id),
  muted_until: Type.Optional(Timestamp),
  opened_at: Timestamp,
  triaged_at: Type.Optional(Timestamp),
  changed_at: Timestamp,
};

/** The state of an incident as its latest event (and the sentinel's queries) describe it. */
export const Incident = Type.Object(incidentProperties, { additionalProperties: false });
export type Incident = Static<typeof Incident>;

export const IncidentOpened = Type.Object(
  {
    ...incidentProperties,
    status: Type.Union([Type.Literal('detected'), Type.Literal('triaged'), Type.Literal('muted')]),
    capture_id: Id,
  },
  { additionalProperties: false },
);

export const IncidentUpdated = Type.Object(
  { ...incidentProperties, status: OpenStatus, previous_status: IncidentStatus },
  { additionalProperties: false, description: 'a transition between open states, or new occurrences' },
);

export const IncidentResolved = Type.Object(
  {
    ...incidentProperties,
    status: Type.Literal('resolved'),
    previous_status: IncidentStatus,
    resolved_by: Type.Optional(
      Type.Union([Type.Literal('contract'), Type.Literal('source')], {
        description:
          'contract (when absent): a verified contract, named by playbook, action_id and contract_id; source: the ' +
          'source reported it over (every alert of its group resolved) while no action ran, and confidence is 1',
      }),
    ),
    playbook: Type.Optional(PlaybookName),
    action_id: Type.Optional(Id),
    contract_id: Type.Optional(Id),
    confidence: Confidence,
  },
  { additionalProperties: false, description: 'a verified contract resolved it, or its source did' },
);

export const IncidentEscalated = Type.Object(
  {
    ...incidentProperties,
    status: Type.Literal('escalated'),
    previous_status: IncidentStatus,
    trail: Type.Array(Decision, { maxItems: 32, description: 'every attempt with its outcome' }),
  },
  { additionalProperties: false, description: 'out of attempts or candidates: a human must take over' },
);
