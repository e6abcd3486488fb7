// Request and reply schemas of sentinel.query.* (incidents, one incident with its trail, the playbook catalog).
import { Type } from '@sinclair/typebox';
import {
  Environment,
  ErrorKind,
  Fingerprint,
  Id,
  PageCursor,
  PageLimit,
  PlaybookName,
  ServiceName,
  Severity,
  Signature,
  Timestamp,
} from '../common.js';
import { ActionPlan } from '../events/actions.js';
import { Decision, Incident, IncidentStatus, IncidentTransition } from '../events/incidents.js';
import { PlaybookStatistics } from '../events/learning.js';

export const IncidentsRequest = Type.Object(
  {
    status: Type.Optional(Type.Array(IncidentStatus, { minItems: 1, maxItems: 7, uniqueItems: true })),
    open: Type.Optional(Type.Boolean({ description: 'true: neither resolved nor escalated' })),
    service: Type.Optional(ServiceName),
    environment: Type.Optional(Environment),
    fingerprint: Type.Optional(Fingerprint),
    severity: Type.Optional(Severity),
    from: Type.Optional(Timestamp),
    to: Type.Optional(Timestamp),
    limit: Type.Optional(PageLimit),
    cursor: Type.Optional(PageCursor),
  },
  { additionalProperties: false, description: 'from/to bound opened_at; newest first' },
);

export const IncidentsReply = Type.Object(
  { items: Type.Array(Incident, { maxItems: 100 }), next_cursor: Type.Optional(PageCursor) },
  { additionalProperties: false },
);

export const IncidentRequest = Type.Object({ incident_id: Id }, { additionalProperties: false });

export const IncidentReply = Type.Object(
  {
    incident: Incident,
    timeline: Type.Array(IncidentTransition, { maxItems: 256, description: 'every transition, oldest first' }),
    trail: Type.Array(Decision, { maxItems: 32, description: 'every attempt: candidates, choice, outcome' }),
  },
  { additionalProperties: false },
);

/** Which errors a playbook applies to; every given list must match, an absent one matches anything. */
export const PlaybookMatch = Type.Object(
  {
    services: Type.Optional(Type.Array(ServiceName, { maxItems: 64 })),
    kinds: Type.Optional(Type.Array(ErrorKind, { maxItems: 64 })),
    categories: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 64 })),
    message_patterns: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 512, description: 'a regular expression' }), { maxItems: 32 }),
    ),
    min_severity: Type.Optional(Severity),
  },
  { additionalProperties: false },
);

/** A catalog playbook: its plan is a template (params, checks, expected effect) filled from the error. */
export const CatalogPlaybook = Type.Object(
  {
    name: PlaybookName,
    description: Type.Optional(Type.String({ maxLength: 1024 })),
    applies_to: PlaybookMatch,
    ...Type.Omit(ActionPlan, ['playbook', 'target']).properties,
    cooldown_ms: Type.Integer({ minimum: 0 }),
    statistics: Type.Array(PlaybookStatistics, {
      maxItems: 100,
      description: 'overall (no signature) and per signature, as the sentinel last learnt them',
    }),
  },
  { additionalProperties: false },
);

export const PlaybooksRequest = Type.Object(
  {
    playbook: Type.Optional(PlaybookName),
    signature: Type.Optional(Signature),
  },
  { additionalProperties: false },
);

export const PlaybooksReply = Type.Object(
  {
    catalog_version: Type.String({ minLength: 1, maxLength: 128 }),
    playbooks: Type.Array(CatalogPlaybook, { maxItems: 200 }),
  },
  { additionalProperties: false },
);
