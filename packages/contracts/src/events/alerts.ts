// Data schema of the alert subjects: alert.resolved (trigger-mesh: an Alertmanager alert of a group stopped firing).
import { Type } from '@sinclair/typebox';
import { Attributes, Environment, ErrorKind, Id, ServiceName, Timestamp } from '../common.js';

export const AlertResolved = Type.Object(
  {
    fingerprint: Type.String({
      minLength: 1,
      maxLength: 128,
      description: "the captures' and the incident's fingerprint: the alert group's, shared by all its alerts",
    }),
    environment: Environment,
    service: ServiceName,
    alert_fingerprint: Type.String({
      minLength: 1,
      maxLength: 128,
      description: "the alert's own fingerprint (Alertmanager's hash of its labels)",
    }),
    alertname: ErrorKind,
    group_key: Type.String({ minLength: 1, maxLength: 1024, description: "Alertmanager's groupKey (cut to 1024)" }),
    starts_at: Timestamp,
    ends_at: Timestamp,
    firing: Type.Integer({
      minimum: 0,
      description: 'alerts of the group in this environment still firing once this one resolved',
    }),
    members: Type.Integer({
      minimum: 1,
      description: 'alerts of the group in this environment trigger-mesh has seen (firing or resolved)',
    }),
    producer: Id,
    labels: Type.Optional(Attributes),
  },
  { additionalProperties: false },
);
