// Request and reply schemas of sentinel.query.* (incidents, one incident with its trail, the playbook catalog).
import { Type } from '@sinclair/typebox';
import {
  ActionName,
  Adapter,
  Environment,
  Fingerprint,
  Id,
  PageCursor,
  PageLimit,
  PlaybookName,
  ServiceName,
  Severity,
  Signature,
  Tier,
  Timestamp,
  JsonObject,
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

/**
 * A catalog playbook as the operator wrote it: which errors it applies to, and the plan template (target,
 * params, expected effect, checks) whose `{{...}}` slots the sentinel fills from each error. Both keep the
 * catalog's own format (services/sentinel/playbooks.yaml), so they are passed on as written.
 */
export const CatalogPlaybook = Type.Object(
  {
    name: PlaybookName,
    description: Type.Optional(Type.String({ maxLength: 1024 })),
    applies_to: JsonObject,
    adapter: Adapter,
    action: ActionName,
    tier: Tier,
    timeout_ms: Type.Integer({ minimum: 1 }),
    cooldown_ms: Type.Integer({ minimum: 0 }),
    template: JsonObject,
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

/** A playbook's plan filled for a service outside any incident (an operator runs it from the chat). */
export const PlanRequest = Type.Object(
  {
    playbook: PlaybookName,
    service: ServiceName,
    environment: Environment,
    attributes: Type.Optional(
      Type.Record(Type.String({ maxLength: 128 }), Type.String({ maxLength: 1024 }), { maxProperties: 32 }),
    ),
  },
  { additionalProperties: false },
);

export const PlanReply = Type.Object(
  { plan: ActionPlan, catalog_version: Type.String({ maxLength: 128 }) },
  { additionalProperties: false },
);

/** Hold remediation of a fingerprint or of a whole signature until a time: its incidents open muted. */
export const MuteRequest = Type.Object(
  {
    fingerprint: Type.Optional(Fingerprint),
    signature: Type.Optional(Signature),
    until: Timestamp,
    by: Id,
    reason: Type.String({ minLength: 1, maxLength: 1024 }),
  },
  { additionalProperties: false, description: 'a fingerprint or a signature (the sentinel refuses neither)' },
);

export const MuteReply = Type.Object(
  {
    mute_id: Id,
    fingerprint: Type.Optional(Fingerprint),
    signature: Type.Optional(Signature),
    until: Timestamp,
    by: Id,
    reason: Type.String({ maxLength: 1024 }),
  },
  { additionalProperties: false },
);
