// The Grafana dashboard against a real Prometheus: the seven services as processes and the demo target, driven
// through remediations (one verified, one rolled back then fixed, one held for an approval and granted through the
// gateway) and a few events that exercise the kit's other paths (a redelivered duplicate, a handler failure and
// its dead letter, an action the policy denies). Debian's /usr/bin/prometheus scrapes every service's /metrics
// every second; every panel query of deploy/grafana/grace.json, its template variables substituted, must answer
// with status success and at least one series. promtool checks each /metrics after the traffic too.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createEvent, eventExamples, type QueryReply, type QueryRequest, type QuerySubject } from '@grace/contracts';
import { Naming, request } from '@grace/service-kit';
import {
  checkMetrics,
  createSandbox,
  publishRaw,
  sampleReported,
  startPrometheus,
  waitFor,
  type PrometheusProcess,
  type Sandbox,
} from '@grace/service-kit/testing';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { issueToken } from '../../services/chat-gateway/src/domain/auth.js';
import { startDemoTarget, type FaultName } from '../../services/demo-target/src/demo.js';
import { SERVICES, startSystem, type RunningSystem } from './system.js';

const DASHBOARD = fileURLToPath(new URL('../../deploy/grafana/grace.json', import.meta.url));
const DEMO_CATALOG = fileURLToPath(new URL('../../services/demo-target/playbooks.yaml', import.meta.url));
const SECRET = 'prometheus-test-secret-long-enough-for-hs256';
// Actions on `checkout` (only the test asks for them) are denied; turning the demo's flag off needs one approver.
const POLICY = `
version: 1
rules:
  - name: no-actions-on-checkout
    match: { service: checkout }
    effect: { deny: the end-to-end test refuses every action on checkout }
  - name: flag-changes-need-an-approver
    match: { playbook: toggle_feature_flag }
    effect: { require_approval: { quorum: 1, role: approver, expires_in: 30m } }
`;

/**
 * Grafana's variables as the dashboard's defaults give them: every service (the variable's `allValue`), a rate
 * window of 15 scrapes (Grafana's $__rate_interval is at least four scrape intervals) and the hour of the
 * default time range.
 */
const VARIABLES: Record<string, string> = {
  service: '.*',
  __rate_interval: '15s',
  __interval: '15s',
  __range: '1h',
};

/** Panel targets that may answer with no series in this run, and why (none: the traffic fills every one). */
const NO_DATA_EXPECTED: Record<string, string> = {};

interface Dashboard {
  panels: { type: string; title: string; targets?: { expr: string; refId?: string }[] }[];
}

const asQuery = (expr: string) =>
  expr.replace(/\$\{?(\w+)\}?/g, (whole, name: string) => {
    const value = VARIABLES[name];
    if (value === undefined) throw new Error(`the dashboard uses a variable the test does not know: ${whole}`);
    return value;
  });

const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
const targets = dashboard.panels
  .filter((p) => p.type !== 'row')
  .flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr, query: asQuery(t.expr) })));

describe('a real Prometheus scraping the seven services answers every panel of the Grafana dashboard', () => {
  let sandbox: Sandbox;
  let system: RunningSystem | undefined;
  let demo: ReturnType<typeof startDemoTarget>;
  let prometheus: PrometheusProcess | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'grace-e2e-prom-'));
  const ask = <Q extends QuerySubject>(subject: Q, body: QueryRequest<Q>) =>
    request(subject, body, { nc: sandbox.nc, naming: new Naming(sandbox.namespace), timeoutMs: 5_000 });
  const metricsOf = async (service: string) =>
    (await fetch(`http://127.0.0.1:${system!.ports.get(service as never)}/metrics`)).text();

  /** Break the demo and wait until Grace has resolved the incident of that fault. */
  async function breakAndResolve(fault: FaultName, kind: string, whileOpen?: () => Promise<void>) {
    demo.inject(fault);
    if (whileOpen) await whileOpen();
    return waitFor(
      `the ${kind} incident to be resolved`,
      async () => {
        const { items } = await ask('sentinel.query.incidents', { service: 'demo' });
        return items.find((i) => i.kind === kind && i.status === 'resolved');
      },
      45_000,
    );
  }

  /** Wait until the service's /metrics has a series of `metric` whose labels include `labels`. */
  const seriesIn = (service: string, metric: string, labels: string) =>
    waitFor(`${metric}{${labels}} on ${service}'s /metrics`, async () =>
      (await metricsOf(service)).split('\n').some((l) => l.startsWith(`${metric}{`) && l.includes(labels)),
    );

  beforeAll(async () => {
    writeFileSync(join(dir, 'policies.yaml'), POLICY);
    sandbox = await createSandbox('e2eprom');
    demo = startDemoTarget({ nc: sandbox.nc, namespace: sandbox.namespace, errorIntervalMs: 300 });
    system = await startSystem(sandbox, SERVICES, {
      'trigger-mesh': { EMIT_INTERVAL_MS: '500' },
      // Seed 2 makes the sentinel try warm_cache (the playbook that does not work) first for the cache.
      sentinel: { PLAYBOOKS_FILE: DEMO_CATALOG, THOMPSON_SEED: '2' },
      'action-executor': { POLICY_FILE: join(dir, 'policies.yaml'), WORK_POLL_MS: '50', APPROVAL_SWEEP_MS: '100' },
      verifier: { WORK_POLL_MS: '50', CAPTURE_SETTLE_MS: '1500' },
      'learning-loop': { PUBLISH_INTERVAL_MS: '50' },
      'cube-etl': { ETL_INTERVAL_MS: '3600000' },
      'chat-gateway': { JWT_SECRET: SECRET },
    });
    prometheus = await startPrometheus({
      dir,
      targets: SERVICES.map((s) => `127.0.0.1:${system!.ports.get(s)}`),
      scrapeInterval: '1s',
    });
  }, 120_000);

  afterAll(async () => {
    await prometheus?.stop();
    if (system) {
      expect(await system.stop()).toEqual(Object.fromEntries(SERVICES.map((s) => [s, 0])));
      await system.dropSchemas();
    }
    await demo?.stop();
    await sandbox?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('scrapes every service: each target up', async () => {
    const up = await waitFor(
      'Prometheus to scrape all seven',
      async () => {
        const active = await prometheus!.targets();
        return active.length === SERVICES.length && active.every((t) => t.health === 'up') ? active : undefined;
      },
      30_000,
    ).catch(async (err: Error) => {
      throw new Error(`${err.message}\n${JSON.stringify(await prometheus!.targets(), null, 1)}`);
    });
    expect(up.map((t) => t.scrapeUrl).sort()).toEqual(
      SERVICES.map((s) => `http://127.0.0.1:${system!.ports.get(s)}/metrics`).sort(),
    );
  });

  it('a remediation verified, one rolled back then fixed, one approved through the gateway', async () => {
    await breakAndResolve('pool', 'ConnectionPoolExhausted');
    const cache = await breakAndResolve('cache', 'CacheCorrupted');
    const { trail } = await ask('sentinel.query.incident', { incident_id: cache.incident_id });
    expect(trail.map((d) => [d.playbook, d.outcome])).toEqual([
      ['warm_cache', 'rolled_back'],
      ['clear_cache', 'verified'],
    ]);

    const api = `http://127.0.0.1:${system!.ports.get('chat-gateway')}/api/v1`;
    const as = (subject: string, roles: ('viewer' | 'approver')[]) => ({
      authorization: `Bearer ${issueToken({ secret: SECRET, subject, roles })}`,
      'content-type': 'application/json',
    });
    await breakAndResolve('feature_flag', 'FeatureFlagError', async () => {
      const approval = await waitFor(
        'the approval to be pending',
        async () => {
          const res = await fetch(`${api}/approvals`, { headers: as('vera', ['viewer']) });
          const { items } = (await res.json()) as QueryReply<'executor.query.approvals'>;
          return items.find((a) => a.plan.playbook === 'toggle_feature_flag' && a.status === 'pending');
        },
        30_000,
      );
      const voted = await fetch(`${api}/approvals/${approval.approval_id}/votes`, {
        method: 'POST',
        headers: as('alice', ['approver']),
        body: JSON.stringify({ decision: 'approve', comment: 'checked the flag' }),
      });
      expect(voted.status).toBe(202);
    });
    await seriesIn('action-executor', 'grace_executor_approvals_total', 'outcome="granted"');
    await seriesIn('action-executor', 'grace_executor_rollbacks_total', 'outcome="restored"');
  }, 180_000);

  it("a duplicate, a handler's permanent failure and its dead letter, and a denied action", async () => {
    // The same error report twice (no message id, so JetStream keeps both): the second is a duplicate.
    const report = JSON.stringify(sampleReported({ service: 'checkout' }));
    await publishRaw(sandbox, 'error.reported', report);
    await publishRaw(sandbox, 'error.reported', report);
    await seriesIn('trigger-mesh', 'grace_events_handled_total', 'outcome="duplicate"');

    // A vote on an approval the executor never asked for fails for good: counted and dead-lettered.
    const vote = createEvent(
      'approval.vote.cast',
      { ...eventExamples['approval.vote.cast'], vote_id: randomUUID(), approval_id: randomUUID() },
      { source: 'grace/e2e-test' },
    );
    await publishRaw(sandbox, 'approval.vote.cast', JSON.stringify(vote));
    await seriesIn('action-executor', 'grace_events_failed_total', 'kind="permanent"');
    await seriesIn('action-executor', 'grace_events_dead_lettered_total', 'reason="permanent_failure"');

    // An action on checkout: the policy denies it.
    const actionId = `act-${randomUUID()}`;
    const action = createEvent(
      'action.requested',
      { ...eventExamples['action.requested'], action_id: actionId, idempotency_key: `${actionId}:1` },
      { source: 'grace/e2e-test' },
    );
    await publishRaw(sandbox, 'action.requested', JSON.stringify(action));
    await seriesIn('action-executor', 'grace_executor_actions_denied_total', 'rule="no-actions-on-checkout"');
  }, 60_000);

  it('answers every panel query of the dashboard with at least one series', async () => {
    expect(targets.length).toBeGreaterThan(20);
    const missing = (await Promise.all(targets.map(answerOf))).filter((a) => !a.ok);
    // Give the last scrapes time to land, then report what still has no data.
    let still = missing;
    const deadline = Date.now() + 20_000;
    while (still.length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1_000));
      still = (await Promise.all(still.map(answerOf))).filter((a) => !a.ok);
    }
    expect(still.map(({ panel, expr, status, error, series }) => ({ panel, expr, status, error, series }))).toEqual([]);

    async function answerOf(target: (typeof targets)[number]) {
      const answer = await prometheus!.query(target.query);
      const series = answer.status === 'success' ? answer.data.result.length : 0;
      const excused = NO_DATA_EXPECTED[target.expr] !== undefined;
      return {
        ...target,
        status: answer.status,
        error: answer.error,
        series,
        ok: answer.status === 'success' && (series > 0 || excused),
      };
    }
  }, 60_000);

  it("the dashboard's service variable finds all seven", async () => {
    const answer = await prometheus!.query('count by (service) (grace_outbox_backlog)');
    expect(answer.status).toBe('success');
    expect(answer.data.result.map((r) => r.metric.service).sort()).toEqual([...SERVICES].sort());
  });

  it('promtool finds no problem in any /metrics after the traffic', async () => {
    const problems = [];
    for (const service of SERVICES) {
      const checked = checkMetrics(await metricsOf(service));
      if (checked.code !== 0 || checked.output !== '') problems.push({ service, ...checked });
    }
    expect(problems).toEqual([]);
  });
});
