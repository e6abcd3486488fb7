// Tests of the Alertmanager webhook schema and its mapping to error.reported.
import { readFileSync } from 'node:fs';
import { validateData, validateSchema } from '@grace/contracts';
import { describe, expect, it } from '@jest/globals';
import { AlertmanagerWebhook, mapAlertmanager, type AlertmanagerWebhookType } from './alertmanager.js';

const sample: unknown = JSON.parse(
  readFileSync(new URL('../../test/samples/alertmanager-v4.json', import.meta.url), 'utf8'),
);

type Alert = AlertmanagerWebhookType['alerts'][number];

function webhook(...alerts: Alert[]): AlertmanagerWebhookType {
  return {
    version: '4',
    groupKey: '{}:{alertname="Test"}',
    truncatedAlerts: 0,
    status: alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
    receiver: 'grace',
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://alertmanager:9093',
    alerts,
  };
}

function alert(labels: Record<string, string>, annotations: Record<string, string> = {}): Alert {
  return {
    status: 'firing',
    labels: { alertname: 'DiskFull', ...labels },
    annotations,
    startsAt: '2024-05-14T09:00:00Z',
    endsAt: '0001-01-01T00:00:00Z',
    generatorURL: '',
    fingerprint: '0123456789abcdef',
  };
}

/** The single report of one firing alert. */
function reportOf(firing: Alert) {
  const [mapped] = mapAlertmanager(webhook(firing)).alerts;
  if (!mapped) throw new Error('no report');
  return mapped.report;
}

const GROUP_FINGERPRINT = /^alertmanager-group:[0-9a-f]{32}$/;

describe('the sample webhook (test/samples/alertmanager-v4.json)', () => {
  it('is a valid version 4 payload', () => {
    expect(validateSchema(AlertmanagerWebhook, sample)).toEqual({ ok: true, value: sample });
  });

  it('maps its alerts to reports that share the group fingerprint, each keeping its own fingerprint', () => {
    const mapping = mapAlertmanager(sample as AlertmanagerWebhookType, 'alertmanager');
    expect(mapping.groupFingerprint).toMatch(GROUP_FINGERPRINT);
    expect(mapping.alerts.map((a) => [a.index, a.status, a.alertFingerprint, a.alertname])).toEqual([
      [0, 'firing', '3f8a1c9d2b7e4a60', 'CheckoutHighErrorRate'],
      [1, 'firing', 'b1d07e55c2a94f18', 'PostgresTooManyConnections'],
      [2, 'resolved', '7c2e9a04d6f1b385', 'KubePodCrashLooping'],
    ]);
    expect(mapping.alerts[0]!.report).toEqual({
      service: 'checkout',
      environment: 'production',
      kind: 'CheckoutHighErrorRate',
      message:
        'Checkout is failing for 5.2% of requests\n' +
        '5.2% of POST /api/checkout requests failed with a 5xx status over the last 5 minutes (threshold 2%).',
      severity: 'critical',
      occurred_at: '2024-05-14T09:31:12.482Z',
      fingerprint: mapping.groupFingerprint,
      origin: 'alertmanager',
      attributes: {
        alert_fingerprint: '3f8a1c9d2b7e4a60',
        alert_group_key: (sample as AlertmanagerWebhookType).groupKey,
        receiver: 'grace-trigger-mesh',
        generator_url:
          'http://prometheus-k8s-0:9090/graph?g0.expr=sum+by+%28service%2C+route%29+%28rate%28http_requests_total%7Bstatus%3D~%225..%22%7D%5B5m%5D%29%29+%2F+sum+by+%28service%2C+route%29+%28rate%28http_requests_total%5B5m%5D%29%29+%3E+0.02&g0.tab=1',
        'label.alertname': 'CheckoutHighErrorRate',
        'label.cluster': 'eu-west-1-prod',
        'label.environment': 'production',
        'label.namespace': 'shop',
        'label.prometheus': 'monitoring/k8s',
        'label.route': '/api/checkout',
        'label.service': 'checkout',
        'label.severity': 'page',
        'label.team': 'payments',
        'annotation.runbook_url': 'https://runbooks.example.com/checkout/high-error-rate',
      },
    });
    expect(mapping.alerts[1]!.report).toMatchObject({
      service: 'orders-db',
      environment: 'production',
      kind: 'PostgresTooManyConnections',
      severity: 'warning',
      occurred_at: '2024-05-14T09:28:45.100Z',
      fingerprint: mapping.groupFingerprint,
      host: '10.42.3.17:9187',
    });
    expect(mapping.alerts[2]).toMatchObject({
      status: 'resolved',
      labels: {
        alertname: 'KubePodCrashLooping',
        cluster: 'eu-west-1-prod',
        container: 'payments',
        environment: 'production',
        job: 'kube-state-metrics',
        namespace: 'shop',
        pod: 'payments-6c9f7b8d54-q2x7k',
        prometheus: 'monitoring/k8s',
        severity: 'warning',
      },
      startsAt: '2024-05-14T09:12:03.500Z',
      endsAt: '2024-05-14T09:34:33.500Z',
      report: { service: 'kube-state-metrics', environment: 'production', fingerprint: mapping.groupFingerprint },
    });
    for (const { report } of mapping.alerts) expect(validateData('error.reported', report).ok).toBe(true);
  });
});

describe('alert groups', () => {
  it('gives one group one fingerprint, another group or another producer another', () => {
    const one = mapAlertmanager(webhook(alert({ instance: 'a' }), alert({ instance: 'b' })), 'am');
    expect(new Set(one.alerts.map((a) => a.report.fingerprint))).toEqual(new Set([one.groupFingerprint]));
    const other = mapAlertmanager({ ...webhook(alert({})), groupKey: '{}:{alertname="Other"}' }, 'am');
    expect(other.groupFingerprint).not.toBe(one.groupFingerprint);
    expect(mapAlertmanager(webhook(alert({})), 'am-eu').groupFingerprint).not.toBe(one.groupFingerprint);
    expect(mapAlertmanager(webhook(alert({})), 'am').groupFingerprint).toBe(one.groupFingerprint);
  });

  it('keeps the alert fingerprint and group key first among the attributes, even when labels overflow them', () => {
    const labels = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`l${i}`, 'v']));
    const attributes = reportOf(alert(labels)).attributes ?? {};
    expect(attributes.alert_fingerprint).toBe('0123456789abcdef');
    expect(attributes.alert_group_key).toBe('{}:{alertname="Test"}');
  });
});

describe('mapping', () => {
  it('grades severity from the severity label, error when it is missing or unknown', () => {
    const graded = (severity?: string) => reportOf(alert(severity === undefined ? {} : { severity })).severity;
    expect(['critical', 'page', 'high', 'CRITICAL'].map(graded)).toEqual(Array(4).fill('critical'));
    expect(['error', 'major'].map(graded)).toEqual(['error', 'error']);
    expect(['warning', 'warn', 'minor', ' Warning '].map(graded)).toEqual(Array(4).fill('warning'));
    expect(['info', 'none', 'low'].map(graded)).toEqual(['info', 'info', 'info']);
    expect(graded('debug')).toBe('debug');
    expect([undefined, 'p1', ''].map(graded)).toEqual(['error', 'error', 'error']);
  });

  it('names the service by the first of service, app, job, container, else unknown', () => {
    const service = (labels: Record<string, string>) => reportOf(alert(labels)).service;
    expect(service({ container: 'api', job: 'node', app: 'shop', service: 'orders' })).toBe('orders');
    expect(service({ container: 'api', job: 'node', app: 'shop' })).toBe('shop');
    expect(service({ container: 'api', job: 'node' })).toBe('node');
    expect(service({ container: 'api' })).toBe('api');
    expect(service({})).toBe('unknown');
    expect(service({ service: '  ', app: 'shop' })).toBe('shop');
    // A service name is letters, digits, dots, dashes and underscores.
    expect(service({ service: 'Order Service/v2' })).toBe('Order-Service-v2');
  });

  it('names the environment by environment, env or namespace, else unknown (never a guess of production)', () => {
    const environment = (labels: Record<string, string>) => reportOf(alert(labels)).environment;
    expect(environment({ namespace: 'shop', env: 'staging', environment: 'prod' })).toBe('prod');
    expect(environment({ namespace: 'shop', env: 'staging' })).toBe('staging');
    expect(environment({ namespace: 'shop' })).toBe('shop');
    expect(environment({})).toBe('unknown');
    expect(environment({ environment: '_' })).toBe('unknown');
  });

  it('writes the summary, the description, or the alert name as the message', () => {
    const message = (annotations: Record<string, string>) => reportOf(alert({}, annotations)).message;
    expect(message({ summary: 'Disk almost full', description: 'Only 3% left on /data' })).toBe(
      'Disk almost full\nOnly 3% left on /data',
    );
    expect(message({ summary: 'Disk almost full' })).toBe('Disk almost full');
    expect(message({ description: 'Only 3% left on /data' })).toBe('Only 3% left on /data');
    expect(message({ summary: 'Same', description: 'Same' })).toBe('Same');
    expect(message({ summary: '  ' })).toBe('DiskFull');
    expect(message({})).toBe('DiskFull');
  });

  it('keeps annotations other than summary and description, and takes the host from instance or pod', () => {
    const report = reportOf(
      alert(
        { pod: 'db-0' },
        { summary: 's', description: 'd', runbook_url: 'https://runbooks/disk', dashboard: 'https://grafana/d/1' },
      ),
    );
    expect(report.host).toBe('db-0');
    expect(report.attributes).toEqual({
      alert_fingerprint: '0123456789abcdef',
      alert_group_key: '{}:{alertname="Test"}',
      receiver: 'grace',
      'label.alertname': 'DiskFull',
      'label.pod': 'db-0',
      'annotation.runbook_url': 'https://runbooks/disk',
      'annotation.dashboard': 'https://grafana/d/1',
    });
    expect(reportOf(alert({ instance: 'node-3:9100', pod: 'db-0' })).host).toBe('node-3:9100');
    expect(reportOf(alert({})).host).toBeUndefined();
  });

  it('gives an alert without an Alertmanager fingerprint one from its labels, the same firing and resolved', () => {
    const { fingerprint: _omitted, ...firing } = alert({ instance: 'a', severity: 'warning' });
    const reordered: Alert = {
      ...firing,
      status: 'resolved',
      labels: { severity: 'warning', instance: 'a', alertname: 'DiskFull' },
      endsAt: '2024-05-14T10:00:00Z',
    };
    const [fired, resolved] = mapAlertmanager(webhook(firing, reordered)).alerts;
    expect(fired?.alertFingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(resolved?.alertFingerprint).toBe(fired?.alertFingerprint);
    const other = mapAlertmanager(webhook({ ...firing, labels: { alertname: 'DiskFull', instance: 'b' } })).alerts[0];
    expect(other?.alertFingerprint).not.toBe(fired?.alertFingerprint);
  });

  it('maps a resolved alert with its times and the report it made while firing', () => {
    const resolved: Alert = { ...alert({}), status: 'resolved', endsAt: '2024-05-14T09:30:00+02:00' };
    const mapping = mapAlertmanager(webhook(resolved));
    expect(mapping.alerts).toEqual([
      {
        index: 0,
        status: 'resolved',
        alertFingerprint: '0123456789abcdef',
        alertname: 'DiskFull',
        labels: { alertname: 'DiskFull' },
        startsAt: '2024-05-14T09:00:00.000Z',
        endsAt: '2024-05-14T07:30:00.000Z',
        report: expect.objectContaining({ fingerprint: mapping.groupFingerprint, kind: 'DiskFull' }),
      },
    ]);
  });
});

describe('bounds of error.reported', () => {
  it('keeps 63 attributes and counts the rest when an alert has more labels than the contract allows', () => {
    const labels = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`l${String(i).padStart(3, '0')}`, 'v']));
    const report = reportOf(alert(labels));
    const attributes = report.attributes ?? {};
    expect(Object.keys(attributes)).toHaveLength(64);
    // 104 in all: alert_fingerprint, alert_group_key, receiver, label.alertname, then the first 59 of the 100
    // labels are kept; 41 are left out.
    expect(attributes['label.l058']).toBe('v');
    expect(attributes['label.l059']).toBeUndefined();
    expect(attributes.attributes_dropped).toBe(41);
    expect(validateData('error.reported', report).ok).toBe(true);
  });

  it('cuts long names, messages, hosts, keys and values to the contract, marking the cut', () => {
    const report = reportOf({
      ...alert(
        {
          service: 's'.repeat(300),
          environment: 'e'.repeat(300),
          instance: 'i'.repeat(300),
          [`k${'e'.repeat(300)}`]: 'x',
        },
        { summary: 'm'.repeat(20_000), runbook_url: 'u'.repeat(5_000) },
      ),
    });
    report.kind = reportOf(alert({ alertname: 'A'.repeat(400) })).kind;
    expect(report.kind).toHaveLength(256);
    expect(report.kind.endsWith('…')).toBe(true);
    expect(report.service).toHaveLength(128);
    expect(report.environment).toHaveLength(64);
    expect(report.host).toHaveLength(256);
    expect(report.message).toHaveLength(16384);
    expect(report.attributes?.['annotation.runbook_url']).toHaveLength(4096);
    expect(Object.keys(report.attributes ?? {}).every((key) => key.length <= 128)).toBe(true);
    expect(validateData('error.reported', report).ok).toBe(true);
  });
});

describe('the schema', () => {
  const valid = () =>
    JSON.parse(JSON.stringify(sample)) as Record<string, unknown> & { alerts: Record<string, unknown>[] };

  it('accepts fields Alertmanager versions and forks add', () => {
    const payload = valid();
    payload.orgId = 1;
    payload.alerts[0]!.silenceURL = 'https://grafana/silence';
    payload.alerts[0]!.values = { B: 44.2 };
    expect(validateSchema(AlertmanagerWebhook, payload).ok).toBe(true);
  });

  it('refuses another version, a missing core field and an alert without a name', () => {
    const payload = valid();
    payload.version = '3';
    delete payload.receiver;
    delete payload.alerts[0]!.startsAt;
    payload.alerts[1]!.status = 'pending';
    delete (payload.alerts[2]!.labels as Record<string, unknown>).alertname;
    const checked = validateSchema(AlertmanagerWebhook, payload);
    expect(checked.ok ? [] : checked.errors).toEqual([
      { path: 'receiver', message: 'is required' },
      { path: 'version', message: 'must be "4"' },
      { path: 'alerts.0.startsAt', message: 'is required' },
      { path: 'alerts.1.status', message: 'must be one of: "firing", "resolved"' },
      { path: 'alerts.2.labels.alertname', message: 'is required' },
    ]);
  });

  it('accepts a group of 1,000 alerts, refuses more than 10,000 and timestamps that are not RFC 3339', () => {
    const payload = valid();
    payload.alerts = Array.from({ length: 1000 }, () => payload.alerts[0]!);
    expect(validateSchema(AlertmanagerWebhook, payload).ok).toBe(true);
    payload.alerts[0] = { ...payload.alerts[0]!, startsAt: 'yesterday' };
    payload.alerts = Array.from({ length: 10_001 }, (_, i) => payload.alerts[i % 1000]!);
    const checked = validateSchema(AlertmanagerWebhook, payload);
    expect(checked.ok ? [] : checked.errors).toContainEqual({
      path: 'alerts',
      message: 'must NOT have more than 10000 items',
    });
    expect(checked.ok ? [] : checked.errors).toContainEqual({
      path: 'alerts.0.startsAt',
      message: 'must match format "date-time"',
    });
  });
});
