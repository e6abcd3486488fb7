// Alertmanager webhook payloads (version 4): their schema and their mapping to error.reported.
import { createHash } from 'node:crypto';
import type { EventData } from '@grace/contracts';
import { Type, type Static } from '@sinclair/typebox';
import {
  boundedAttributes,
  firstName,
  REPORT_BOUNDS,
  toIsoTimestamp,
  truncate,
  UNKNOWN_ENVIRONMENT,
  UNKNOWN_SERVICE,
} from './report-bounds.js';

type ErrorReported = EventData<'error.reported'>;
type Severity = ErrorReported['severity'];

// ---- The webhook payload ---------------------------------------------------------------------------------------

// Bounds are generous (a payload is also capped by the HTTP body limit) but keep one alert from being unbounded;
// objects allow fields that Alertmanager forks and later versions add.
const LabelValue = Type.String({ maxLength: 16384 });
const LabelSet = Type.Record(Type.String({ maxLength: 1024 }), LabelValue, { maxProperties: 256 });
const AnnotationSet = Type.Record(Type.String({ maxLength: 1024 }), Type.String({ maxLength: 65536 }), {
  maxProperties: 256,
});
const AlertStatus = Type.Union([Type.Literal('firing'), Type.Literal('resolved')]);
const Timestamp = Type.String({ format: 'date-time' });

const Alert = Type.Object({
  status: AlertStatus,
  // TypeBox's static type of an object leaves out additional properties: say the labels are a record too.
  labels: Type.Unsafe<{ alertname: string } & Record<string, string>>(
    Type.Object(
      { alertname: Type.String({ minLength: 1, maxLength: 1024 }) },
      { additionalProperties: LabelValue, maxProperties: 256 },
    ),
  ),
  annotations: Type.Optional(AnnotationSet),
  startsAt: Timestamp,
  /** 0001-01-01T00:00:00Z while the alert fires. */
  endsAt: Timestamp,
  generatorURL: Type.Optional(Type.String({ maxLength: 8192 })),
  /** Alertmanager's hash of the label set (since 0.19). */
  fingerprint: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
});

export const AlertmanagerWebhook = Type.Object({
  version: Type.Literal('4'),
  groupKey: Type.String({ maxLength: 16384 }),
  truncatedAlerts: Type.Optional(Type.Integer({ minimum: 0 })),
  status: AlertStatus,
  receiver: Type.String({ maxLength: 1024 }),
  groupLabels: Type.Optional(LabelSet),
  commonLabels: Type.Optional(LabelSet),
  commonAnnotations: Type.Optional(AnnotationSet),
  externalURL: Type.Optional(Type.String({ maxLength: 8192 })),
  // Alertmanager sends every alert of a group in one notification (unless the receiver sets max_alerts); the
  // request's byte limit (INGEST_MAX_REQUEST_BYTES) bounds it first: 4 MiB hold ~7,000 alerts of ordinary size.
  alerts: Type.Array(Alert, { maxItems: 10_000 }),
});
export type AlertmanagerWebhookType = Static<typeof AlertmanagerWebhook>;
type AlertmanagerAlert = AlertmanagerWebhookType['alerts'][number];

/** One alert of a payload, mapped. */
export interface MappedAlert {
  /** Its place in the payload's `alerts`, from 0. */
  index: number;
  status: 'firing' | 'resolved';
  /** Alertmanager's fingerprint of the alert (a hash of its sorted labels when it sends none). */
  alertFingerprint: string;
  alertname: string;
  startsAt: string;
  /** 0001-01-01T00:00:00.000Z while it fires (as Alertmanager sends it). */
  endsAt: string;
  labels: Record<string, string>;
  /**
   * Its error.reported: published when the alert starts firing; for a resolved alert, what it reported while it
   * fired (its service, environment and the group's fingerprint name the incident it belongs to).
   */
  report: ErrorReported;
}

export interface AlertmanagerMapping {
  groupKey: string;
  /**
   * What every report of the group carries as its fingerprint: `alertmanager-group:` + a hash of the producer and
   * the groupKey. One alert group is one capture, and one incident, per environment.
   */
  groupFingerprint: string;
  alerts: MappedAlert[];
}

// The first label present names the service. Alerts computed from an exporter's metrics (kube-state-metrics,
// postgres-exporter) carry the exporter's job: give those alert rules a `service` label.
const SERVICE_LABELS = ['service', 'app', 'job', 'container'] as const;
const ENVIRONMENT_LABELS = ['environment', 'env', 'namespace'] as const;
const HOST_LABELS = ['instance', 'pod'] as const;
// Summary and description become the message; every other annotation (runbook_url, dashboard_url...) is kept.
const MESSAGE_ANNOTATIONS = new Set(['summary', 'description']);

const SEVERITY_BY_LABEL: Record<string, Severity> = {
  critical: 'critical',
  page: 'critical',
  high: 'critical',
  error: 'error',
  major: 'error',
  warning: 'warning',
  warn: 'warning',
  minor: 'warning',
  info: 'info',
  none: 'info',
  low: 'info',
  debug: 'debug',
};

/**
 * Map a webhook payload: each alert with the error.reported it stands for. The alerts of one group share the
 * group's fingerprint; each keeps its own in the attribute `alert_fingerprint`. `producer` (who sent it) is part of
 * the group's identity: two Alertmanagers with the same routes still make two groups.
 */
export function mapAlertmanager(payload: AlertmanagerWebhookType, producer = ''): AlertmanagerMapping {
  const groupFingerprint = `alertmanager-group:${createHash('sha256').update(`${producer}\n${payload.groupKey}`).digest('hex').slice(0, 32)}`;
  const alerts = payload.alerts.map((alert, index): MappedAlert => {
    const labels: Record<string, string> = alert.labels;
    const alertFingerprint = alertFingerprintOf(alert.fingerprint, labels);
    return {
      index,
      status: alert.status,
      alertFingerprint,
      alertname: alert.labels.alertname,
      startsAt: toIsoTimestamp(alert.startsAt),
      endsAt: toIsoTimestamp(alert.endsAt),
      labels,
      report: reportAlert(alert, labels, { alertFingerprint, groupFingerprint, payload }),
    };
  });
  return { groupKey: payload.groupKey, groupFingerprint, alerts };
}

function reportAlert(
  alert: AlertmanagerAlert,
  labels: Record<string, string>,
  group: { alertFingerprint: string; groupFingerprint: string; payload: AlertmanagerWebhookType },
): ErrorReported {
  const annotations = alert.annotations ?? {};
  const pick = (names: readonly string[]) => names.map((name) => labels[name]);
  const report: ErrorReported = {
    service: firstName(pick(SERVICE_LABELS), REPORT_BOUNDS.service, UNKNOWN_SERVICE),
    environment: firstName(pick(ENVIRONMENT_LABELS), REPORT_BOUNDS.environment, UNKNOWN_ENVIRONMENT),
    kind: truncate(alert.labels.alertname, REPORT_BOUNDS.kind),
    message: truncate(alertMessage(alert.labels.alertname, annotations), REPORT_BOUNDS.message),
    severity: SEVERITY_BY_LABEL[labels.severity?.trim().toLowerCase() ?? ''] ?? 'error',
    occurred_at: toIsoTimestamp(alert.startsAt),
    fingerprint: group.groupFingerprint,
    origin: 'alertmanager',
  };
  const host = pick(HOST_LABELS).find((value) => value !== undefined && value.trim() !== '');
  if (host !== undefined) report.host = truncate(host, REPORT_BOUNDS.host);
  // The alert's identity first: it is never among the attributes left out.
  const attributes = boundedAttributes([
    ['alert_fingerprint', group.alertFingerprint],
    ['alert_group_key', group.payload.groupKey],
    ['receiver', group.payload.receiver],
    ...(alert.generatorURL ? [['generator_url', alert.generatorURL] as const] : []),
    ...Object.entries(labels).map(([name, value]) => [`label.${name}`, value] as const),
    ...Object.entries(annotations)
      .filter(([name]) => !MESSAGE_ANNOTATIONS.has(name))
      .map(([name, value]) => [`annotation.${name}`, value] as const),
  ]);
  if (attributes) report.attributes = attributes;
  return report;
}

/** The summary, then the description on its own line; the alert's name when it has neither. */
function alertMessage(alertname: string, annotations: Record<string, string>): string {
  const summary = annotations.summary?.trim() ?? '';
  const description = annotations.description?.trim() ?? '';
  if (summary && description && summary !== description) return `${summary}\n${description}`;
  return summary || description || alertname;
}

/**
 * Alertmanager's fingerprint; for an Alertmanager older than 0.19, which sends none, a hash of the sorted label
 * set, so an alert's firing and its resolution still share one fingerprint.
 */
function alertFingerprintOf(fingerprint: string | undefined, labels: Record<string, string>): string {
  if (fingerprint) return fingerprint;
  const sorted = Object.keys(labels)
    .sort()
    .map((name) => [name, labels[name]]);
  return createHash('sha256').update(JSON.stringify(sorted)).digest('hex').slice(0, 16);
}
