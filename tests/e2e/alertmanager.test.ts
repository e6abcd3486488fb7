// Alertmanager as it really sends, through trigger-mesh and the sentinel as processes: the real
// prometheus-alertmanager binary, with a webhook receiver on trigger-mesh's ingest (Grace's bearer token,
// send_resolved), notifies a 500-alert group firing, again (repeat_interval), then resolved.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { GraceEvent } from '@grace/contracts';
import {
  createSandbox,
  pushAlerts,
  readStream,
  startAlertmanager,
  waitFor,
  type AlertmanagerProcess,
  type Sandbox,
} from '@grace/service-kit/testing';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { schemaOf, startSystem, type RunningSystem } from './system.js';

const TOKEN = 'alertmanager-e2e-token-0123456789';
const ALERTS = 500;
const STARTS_AT = new Date(Date.now() - 60_000).toISOString();

// No playbook applies to the alert: the routing rule mutes its captures, so its incident waits, with no action.
const CATALOG = `
version: 1
playbooks:
  - name: restart
    applies_to: { kind: [SomethingElse] }
    adapter: nats
    action: restart
    tier: 1
    expected_effect: { target_state: { healthy: true }, error_rate_ceiling: 1 }
    checks:
      - { kind: state, name: healthy }
    timeout_ms: 5000
    cooldown: 0s
`;
const ROUTES = `
version: 1
rules:
  - name: track-queue-alerts
    match: { kind: QueueBacklog }
    actions: { mute_for: 1h }
`;

const alertsOf = (endsAt?: string) =>
  Array.from({ length: ALERTS }, (_, i) => ({
    labels: { alertname: 'QueueBacklog', service: 'orders', environment: 'e2e', instance: `worker-${i}` },
    annotations: { summary: `queue of worker-${i} is backing up`, runbook_url: 'https://runbooks/queue' },
    startsAt: STARTS_AT,
    ...(endsAt ? { endsAt } : {}),
    generatorURL: 'http://prometheus:9090/graph?g0.expr=queue_depth+%3E+1000',
  }));

describe('an Alertmanager group through trigger-mesh and the sentinel (processes, the real Alertmanager)', () => {
  let sandbox: Sandbox;
  let system: RunningSystem | undefined;
  let alertmanager: AlertmanagerProcess | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'grace-e2e-am-'));
  const tm = () => schemaOf(sandbox, 'trigger-mesh');
  const sn = () => schemaOf(sandbox, 'sentinel');
  const one = async <T>(text: string, params: unknown[] = []) => (await sandbox.pool.query(text, params)).rows[0] as T;

  beforeAll(async () => {
    writeFileSync(join(dir, 'playbooks.yaml'), CATALOG);
    writeFileSync(join(dir, 'routes.yaml'), ROUTES);
    writeFileSync(
      join(dir, 'producers.yaml'),
      [
        'producers:',
        '  - name: alertmanager',
        `    bearer_sha256: ${createHash('sha256').update(TOKEN).digest('hex')}`,
      ].join('\n'),
    );
    sandbox = await createSandbox('e2eam');
    system = await startSystem(sandbox, ['trigger-mesh', 'sentinel'], {
      'trigger-mesh': {
        PRODUCERS_FILE: join(dir, 'producers.yaml'),
        ROUTES_FILE: join(dir, 'routes.yaml'),
        EMIT_INTERVAL_MS: '200',
      },
      sentinel: { PLAYBOOKS_FILE: join(dir, 'playbooks.yaml') },
    });
    const port = system.ports.get('trigger-mesh');
    alertmanager = await startAlertmanager({
      dir,
      webhookUrl: `http://127.0.0.1:${port}/ingest/alertmanager`,
      token: TOKEN,
    });
  }, 90_000);

  afterAll(async () => {
    await alertmanager?.stop();
    if (system) {
      expect(Object.values(await system.stop())).toEqual([0, 0]);
      await system.dropSchemas();
    }
    await sandbox?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('opens one incident with 500 members, counts them once, re-notified or not, and resolves it at the source', async () => {
    const am = alertmanager!;
    await pushAlerts(am.url, alertsOf());

    // Firing: one incident for the group, 500 occurrences, its members in trigger-mesh's alert_members.
    const incident = await waitFor(
      'the incident of the group with 500 occurrences',
      async () => {
        const row = await one<{ id: string; fingerprint: string; occurrences: number; status: string } | undefined>(
          `select id, fingerprint, occurrences, status from "${sn()}".incidents where kind = 'QueueBacklog'`,
        );
        return row && row.occurrences === ALERTS ? row : undefined;
      },
      60_000,
    );
    expect(incident.status).toBe('muted');
    expect(incident.fingerprint).toMatch(/^p:alertmanager-group:[0-9a-f]{32}$/);
    const incidents = await one<{ n: number }>(`select count(*)::int as n from "${sn()}".incidents`);
    expect(incidents.n).toBe(1);
    const members = await one<{ n: number; firing: number; alerts: number }>(
      `select count(*)::int as n, count(*) filter (where status = 'firing')::int as firing,
              count(distinct alert_fingerprint)::int as alerts
       from "${tm()}".alert_members where fingerprint = $1 and environment = 'e2e'`,
      [incident.fingerprint],
    );
    expect(members).toEqual({ n: ALERTS, firing: ALERTS, alerts: ALERTS });

    // Re-notified (repeat_interval): every member heard of again, nothing reported or counted again.
    await waitFor(
      'a re-notification of every alert',
      async () =>
        (
          await one<{ n: number }>(
            `select count(*)::int as n from "${tm()}".alert_members where fingerprint = $1 and notifications >= 2`,
            [incident.fingerprint],
          )
        ).n === ALERTS,
      30_000,
    );
    const reports = (await readStream(sandbox, 'GRACE_REPORTS')).filter((m) => m.subject.endsWith('error.reported'));
    expect(reports).toHaveLength(ALERTS);
    const capture = await one<{ total_count: string }>(
      `select total_count from "${tm()}".captures where fingerprint = $1`,
      [incident.fingerprint],
    );
    expect(Number(capture.total_count)).toBe(ALERTS);
    expect(
      (await one<{ occurrences: number }>(`select occurrences from "${sn()}".incidents where id = $1`, [incident.id]))
        .occurrences,
    ).toBe(ALERTS);

    // Resolved: each alert is on the incident's timeline, and the last one resolves it at the source.
    await pushAlerts(am.url, alertsOf(new Date().toISOString()));
    const resolved = await waitFor(
      'incident.resolved by the source',
      async () =>
        (await readStream(sandbox, 'GRACE_INCIDENTS'))
          .map((m) => m.data as GraceEvent<'incident.resolved'>)
          .find((e) => e.type === 'incident.resolved' && e.data.incident_id === incident.id),
      60_000,
    );
    expect(resolved.data).toMatchObject({ resolved_by: 'source', previous_status: 'muted', occurrences: ALERTS });
    expect(resolved.data.reason).toBe(`source resolved: all ${ALERTS} alerts of the group resolved`);
    const row = await waitFor('every resolution on the timeline', async () => {
      const r = await one<{ status: string; timeline: { status: string; reason: string }[] }>(
        `select status, timeline from "${sn()}".incidents where id = $1`,
        [incident.id],
      );
      return r.timeline.filter((t) => /^alert QueueBacklog \([0-9a-f]+\) resolved at /.test(t.reason)).length === ALERTS
        ? r
        : undefined;
    });
    expect(row.status).toBe('resolved');
    expect(row.timeline.filter((t) => t.status === 'resolved' && t.reason.startsWith('source resolved'))).toHaveLength(
      1,
    );
    const resolutions = (await readStream(sandbox, 'GRACE_ERRORS'))
      .map((m) => m.data as GraceEvent<'alert.resolved'>)
      .filter((e) => e.type === 'alert.resolved');
    expect(resolutions).toHaveLength(ALERTS);
    expect(new Set(resolutions.map((e) => e.data.alert_fingerprint)).size).toBe(ALERTS);
    expect(resolutions.filter((e) => e.data.firing === 0)).toHaveLength(1);
    const after = await one<{ firing: number }>(
      `select count(*) filter (where status = 'firing')::int as firing from "${tm()}".alert_members where fingerprint = $1`,
      [incident.fingerprint],
    );
    expect(after.firing).toBe(0);
    expect((await one<{ n: number }>(`select count(*)::int as n from "${sn()}".incidents`)).n).toBe(1);
  }, 180_000);
});
