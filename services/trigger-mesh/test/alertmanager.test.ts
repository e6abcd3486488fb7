// trigger-mesh's Alertmanager ingest driven by the real prometheus-alertmanager binary (a webhook receiver on the
// ingest with Grace's bearer token, send_resolved): a group of 1,001 alerts (1,000 ordinary, one over the per-event
// limit) is accepted in one notification, re-notifications report nothing, and resolved alerts are published as
// alert.resolved saying how many of the group still fire.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { GraceEvent } from '@grace/contracts';
import type { RunningService } from '@grace/service-kit';
import {
  metricSum,
  pushAlerts,
  readStream,
  startAlertmanager,
  waitFor,
  type AlertmanagerProcess,
  type LogLine,
  type Sandbox,
} from '@grace/service-kit/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pruneAlertMembers, type Database } from '../src/store.js';
import { sha256, startIngest, type IngestService } from './support.js';

const TOKEN = 'alertmanager-ingest-token-0123456789';
const ORDINARY = 1000;
const STARTS_AT = new Date(Date.now() - 60_000).toISOString();

/** An alert of ordinary size (~550 B in the webhook), of the one group `HighLatency`. */
const ordinary = (i: number, endsAt?: string) => ({
  labels: {
    alertname: 'HighLatency',
    service: 'api',
    environment: 'staging',
    instance: `api-${i}:9100`,
    severity: 'warning',
  },
  annotations: {
    summary: `p99 latency of api-${i} is over 2 s`,
    description: `api-${i} answered 1% of its requests in more than 2 s over the last 5 minutes.`,
    runbook_url: 'https://runbooks.example.com/api/high-latency',
  },
  startsAt: STARTS_AT,
  ...(endsAt ? { endsAt } : {}),
  generatorURL: 'http://prometheus:9090/graph?g0.expr=histogram_quantile%280.99%29+%3E+2',
});

// 20 labels of 4,000 characters: its error.reported (attributes keep up to 4,096 characters each) is over 64 KiB.
const oversized = {
  ...ordinary(ORDINARY),
  labels: {
    ...ordinary(ORDINARY).labels,
    instance: 'huge-0',
    ...Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`extra_${i}`, 'x'.repeat(4000)])),
  },
};

describe('Alertmanager webhook ingest (the real Alertmanager)', () => {
  let ingest: IngestService;
  let sandbox: Sandbox;
  let service: RunningService<Database, unknown>;
  let alertmanager: AlertmanagerProcess;
  const logs: LogLine[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'grace-am-'));
  const members = async (where = 'true') =>
    (
      await sandbox.pool.query<{ n: number }>(
        `select count(*)::int as n from "${sandbox.schema}".alert_members where ${where}`,
      )
    ).rows[0]!.n;
  const reports = async () =>
    (await readStream(sandbox, 'GRACE_REPORTS'))
      .map((m) => m.data as GraceEvent<'error.reported'>)
      .filter((e) => e.type === 'error.reported');

  beforeAll(async () => {
    ingest = await startIngest('tmam', ['  - name: alertmanager', `    bearer_sha256: ${sha256(TOKEN)}`], { logs });
    ({ sandbox, service } = ingest);
    alertmanager = await startAlertmanager({
      dir,
      webhookUrl: `${ingest.base}/ingest/alertmanager`,
      token: TOKEN,
    });
  }, 60_000);

  afterAll(async () => {
    await alertmanager?.stop();
    await ingest?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('accepts a group of 1,000 ordinary alerts in one notification and names the one over the per-event limit', async () => {
    await pushAlerts(alertmanager.url, [...Array.from({ length: ORDINARY }, (_, i) => ordinary(i)), oversized]);
    await waitFor('1,000 alerts of the group recorded', async () => (await members()) === ORDINARY, 30_000);
    const skipped = await waitFor('the oversized alert reported as skipped', async () =>
      logs.find((l) => l.msg === 'alerts over the per-event limit'),
    );
    expect(JSON.stringify(skipped.skipped)).toMatch(
      /alert \d+ \(HighLatency, fingerprint [0-9a-f]+\): its error.reported is \d+ bytes, over the per-event limit of 65536/,
    );
    // Counted each time a notification carries it (it is never recorded, so every re-notification names it again).
    expect(
      await metricSum([service], 'grace_trigger_mesh_alertmanager_alerts_skipped_total', { reason: 'too_large' }),
    ).toBeGreaterThanOrEqual(1);
    const reported = await reports();
    expect(reported).toHaveLength(ORDINARY);
    // One group, one fingerprint; each report keeps its alert's own.
    expect(new Set(reported.map((e) => e.data.fingerprint)).size).toBe(1);
    expect(reported[0]!.data.fingerprint).toMatch(/^alertmanager-group:[0-9a-f]{32}$/);
    expect(new Set(reported.map((e) => e.data.attributes?.alert_fingerprint)).size).toBe(ORDINARY);
    expect(reported.some((e) => e.data.host === 'huge-0')).toBe(false);
  }, 60_000);

  it('reports nothing again when Alertmanager re-notifies the firing group', async () => {
    await waitFor(
      'a re-notification of every alert',
      async () => (await members('notifications >= 2')) === ORDINARY,
      30_000,
    );
    expect(await reports()).toHaveLength(ORDINARY);
    const { rows } = await sandbox.pool.query<{ total_count: string }>(
      `select total_count from "${sandbox.schema}".captures where kind = 'HighLatency'`,
    );
    expect(rows.map((r) => Number(r.total_count))).toEqual([ORDINARY]);
  }, 60_000);

  it('publishes each resolved alert once as alert.resolved, with how many of the group still fire', async () => {
    const half = ORDINARY / 2;
    await pushAlerts(
      alertmanager.url,
      Array.from({ length: half }, (_, i) => ordinary(i, new Date().toISOString())),
    );
    const resolutions = await waitFor('500 alert.resolved', async () => {
      const found = (await readStream(sandbox, 'GRACE_ERRORS'))
        .map((m) => m.data as GraceEvent<'alert.resolved'>)
        .filter((e) => e.type === 'alert.resolved');
      return found.length >= half ? found : undefined;
    });
    // A later notification of the group (its firing half, re-notified) publishes no resolution again.
    const notified = async (what: 'min' | 'max') =>
      (
        await sandbox.pool.query<{ n: number }>(
          `select ${what}(notifications)::int as n from "${sandbox.schema}".alert_members where status = 'firing'`,
        )
      ).rows[0]!.n;
    const seen = await notified('max');
    await waitFor('a later notification of the firing half', async () => (await notified('min')) > seen);
    expect(
      (await readStream(sandbox, 'GRACE_ERRORS')).filter((m) => m.subject.endsWith('alert.resolved')),
    ).toHaveLength(half);
    expect(await members("status = 'resolved'")).toBe(half);
    // Every one says the other half still fires; none says the group is over.
    expect(Math.min(...resolutions.map((e) => e.data.firing))).toBe(half);
    expect(resolutions.every((e) => e.data.members === ORDINARY)).toBe(true);
    expect(resolutions[0]!.data).toMatchObject({ service: 'api', environment: 'staging', alertname: 'HighLatency' });
    expect(resolutions[0]!.data.fingerprint).toBe(`p:${(await reports())[0]!.data.fingerprint}`);
    expect(await reports()).toHaveLength(ORDINARY);
  }, 60_000);

  it('forgets alerts not notified within ALERT_RETENTION_HOURS, resolved or firing, and keeps the rest', async () => {
    // Alertmanager stops (no notification races the ageing), 10 resolved and 5 firing alerts were last notified
    // two days ago.
    await alertmanager.stop();
    await sandbox.pool.query(
      `update "${sandbox.schema}".alert_members set last_notified_at = now() - interval '2 days'
       where alert_fingerprint in (
         (select alert_fingerprint from "${sandbox.schema}".alert_members where status = 'resolved' order by 1 limit 10)
         union all
         (select alert_fingerprint from "${sandbox.schema}".alert_members where status = 'firing' order by 1 limit 5))`,
    );
    const before = await members();
    expect(await pruneAlertMembers(service.runtime.db, 24)).toBe(15);
    expect(await members()).toBe(before - 15);
    expect(await pruneAlertMembers(service.runtime.db, 24)).toBe(0);
  }, 30_000);
});
