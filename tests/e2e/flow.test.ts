// The whole system as real processes: all seven services on real NATS and Postgres, and the demo target (real
// state, real errors) in this process. Three paths, one after the other on the same target:
// - the happy path, followed by one correlation id through every service's log, out to a cube row;
// - the failing path: a playbook that does not fix it drifts, is rolled back, and the second one resolves it;
// - the approval path: a quorum of two approvers through the gateway's REST API lets a held action run.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { GraceEvent, QueryReply, QueryRequest, QuerySubject } from '@grace/contracts';
import { Naming, request } from '@grace/service-kit';
import { createSandbox, readStream, waitFor, type Sandbox } from '@grace/service-kit/testing';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { issueToken } from '../../services/chat-gateway/src/domain/auth.js';
import { startDemoTarget, type FaultName } from '../../services/demo-target/src/demo.js';
import { SERVICES, startSystem, type RunningSystem } from './system.js';

const DEMO_CATALOG = fileURLToPath(new URL('../../services/demo-target/playbooks.yaml', import.meta.url));
const SECRET = 'flow-test-secret-long-enough-for-hs256';
// The shipped default rules, plus: turning the demo's feature flag off needs two approvers.
const POLICY = `
version: 1
rules:
  - name: flag-changes-need-two-approvers
    match: { playbook: toggle_feature_flag }
    effect: { require_approval: { quorum: 2, role: approver, expires_in: 30m } }
`;

type Incident = QueryReply<'sentinel.query.incidents'>['items'][number];

describe('the whole system: seven services as processes and the demo target', () => {
  let sandbox: Sandbox;
  let system: RunningSystem | undefined;
  let demo: ReturnType<typeof startDemoTarget>;
  const dir = mkdtempSync(join(tmpdir(), 'grace-flow-'));
  const ask = <Q extends QuerySubject>(subject: Q, body: QueryRequest<Q>) =>
    request(subject, body, { nc: sandbox.nc, naming: new Naming(sandbox.namespace), timeoutMs: 5_000 });

  /** Break the demo and wait until Grace has resolved the incident of that fault. */
  async function breakAndResolve(fault: FaultName, kind: string, whileOpen?: () => Promise<void>): Promise<Incident> {
    demo.inject(fault);
    if (whileOpen) await whileOpen();
    try {
      return await waitFor(
        `the ${kind} incident to be resolved`,
        async () => {
          const { items } = await ask('sentinel.query.incidents', { service: 'demo' });
          return items.find((i) => i.kind === kind && i.status === 'resolved');
        },
        45_000,
      );
    } catch (err) {
      // Say where it stopped: the incident's status and decision trail.
      const { items } = await ask('sentinel.query.incidents', { service: 'demo' });
      const open = items.find((i) => i.kind === kind);
      const detail = open ? await ask('sentinel.query.incident', { incident_id: open.incident_id }) : 'no incident';
      throw new Error(`${(err as Error).message}\n${JSON.stringify(detail, null, 1)}`);
    }
  }

  beforeAll(async () => {
    writeFileSync(join(dir, 'policies.yaml'), POLICY);
    sandbox = await createSandbox('e2eflow');
    demo = startDemoTarget({ nc: sandbox.nc, namespace: sandbox.namespace, errorIntervalMs: 300 });
    system = await startSystem(sandbox, SERVICES, {
      'trigger-mesh': { EMIT_INTERVAL_MS: '500', LOG_LEVEL: 'debug' },
      // Seed 2 makes the sentinel try warm_cache (the playbook that does not work) first for the cache.
      sentinel: { PLAYBOOKS_FILE: DEMO_CATALOG, THOMPSON_SEED: '2', LOG_LEVEL: 'debug' },
      'action-executor': {
        POLICY_FILE: join(dir, 'policies.yaml'),
        WORK_POLL_MS: '50',
        APPROVAL_SWEEP_MS: '100',
        LOG_LEVEL: 'debug',
      },
      verifier: { WORK_POLL_MS: '50', CAPTURE_SETTLE_MS: '1500', LOG_LEVEL: 'debug' },
      'learning-loop': { PUBLISH_INTERVAL_MS: '50', LOG_LEVEL: 'debug' },
      'cube-etl': { ETL_INTERVAL_MS: '3600000', LOG_LEVEL: 'debug' },
      'chat-gateway': { JWT_SECRET: SECRET, LOG_LEVEL: 'debug' },
    });
  }, 120_000);

  afterAll(async () => {
    if (system) {
      expect(await system.stop()).toEqual(Object.fromEntries(SERVICES.map((s) => [s, 0])));
      await system.dropSchemas();
    }
    await demo?.stop();
    await sandbox?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an error becomes an incident, an action, a verified contract, an outcome, a statistic and a cube row, under one correlation id in all seven logs', async () => {
    const incident = await breakAndResolve('pool', 'ConnectionPoolExhausted');
    expect(demo.state.pool.healthy).toBe(true);

    const { trail } = await ask('sentinel.query.incident', { incident_id: incident.incident_id });
    expect(trail.map((d) => [d.playbook, d.outcome])).toEqual([['reconnect_database', 'verified']]);
    const actionId = trail[0]!.action_id;

    // The chain of events, each carrying the correlation id of the error report that opened the incident.
    const events = [
      ...(await readStream(sandbox, 'GRACE_ERRORS')),
      ...(await readStream(sandbox, 'GRACE_INCIDENTS')),
      ...(await readStream(sandbox, 'GRACE_ACTIONS')),
    ].map((m) => m.data as GraceEvent);
    const opened = events.find(
      (e) => e.type === 'incident.opened' && (e.data as { incident_id: string }).incident_id === incident.incident_id,
    )!;
    const correlationid = opened.correlationid!;
    const reported = (await readStream(sandbox, 'GRACE_REPORTS')).map((m) => m.data as GraceEvent);
    expect(reported.find((e) => e.id === correlationid)?.type).toBe('error.reported');
    const chain = events.filter((e) => e.correlationid === correlationid).map((e) => e.type);
    for (const type of [
      'error.captured',
      'incident.opened',
      'action.requested',
      'action.executed',
      'contract.verified',
      'incident.resolved',
    ])
      expect(chain).toContain(type);
    const verified = events.find(
      (e) => e.type === 'contract.verified' && (e.data as { action_id: string }).action_id === actionId,
    );
    expect((verified?.data as { verdict: string }).verdict).toBe('verified');

    // The learning loop recorded the outcome and counts the success.
    const outcomes = await waitFor('the outcome', async () => {
      const { items } = await ask('learning.query.outcomes', { playbook: 'reconnect_database' });
      return items.length ? items : undefined;
    });
    expect(outcomes.map((o) => o.verdict)).toEqual(['verified']);
    const stats = await ask('learning.query.stats', { playbook: 'reconnect_database' });
    expect(stats.items.some((s) => s.successes === 1 && s.executions === 1)).toBe(true);

    // The cube, after an ETL run, counts the executed and verified action.
    await ask('cube.etl.run', {});
    const from = new Date(Date.now() - 3_600_000).toISOString();
    const to = new Date(Date.now() + 3_600_000).toISOString();
    const cube = await ask('cube.query.success_rate', { from, to, bucket: 'day', service: 'demo' });
    expect(cube.rows.find((r) => r.group === 'reconnect_database')).toMatchObject({ executed: 1, verified: 1 });

    // Every one of the seven services logged work under that correlation id.
    for (const service of SERVICES) {
      const lines = system!.processes
        .get(service)!
        .output()
        .split('\n')
        .filter((l) => l.includes(`"correlationid":"${correlationid}"`));
      expect({ service, logged: lines.length > 0 }).toEqual({ service, logged: true });
    }
  }, 90_000);

  it('a playbook that does not fix it drifts, is rolled back to its snapshot, and the second playbook resolves it', async () => {
    const incident = await breakAndResolve('cache', 'CacheCorrupted');
    const { trail } = await ask('sentinel.query.incident', { incident_id: incident.incident_id });
    expect(trail.map((d) => [d.playbook, d.outcome])).toEqual([
      ['warm_cache', 'rolled_back'],
      ['clear_cache', 'verified'],
    ]);
    expect(incident.attempts).toBe(2);

    // warm_cache's contract: drift judged, the snapshot restored.
    const first = await ask('executor.query.contract', { action_id: trail[0]!.action_id });
    expect(first.contract.status).toBe('rolled_back');
    expect(first.snapshot).toBeDefined();
    const verification = await ask('verifier.query.verification', { contract_id: first.contract.contract_id });
    expect(verification.verification.verdict).toBe('drift');
    // clear_cache fixed it: the cache is healthy and was emptied (it refills from the database).
    expect(demo.state.cache).toEqual({ healthy: true, entries: 0 });

    const stats = await waitFor('warm_cache to count a rollback', async () => {
      const { items } = await ask('learning.query.stats', { playbook: 'warm_cache' });
      return items.find((s) => s.rollbacks === 1);
    });
    expect(stats.successes).toBe(0);
  }, 90_000);

  it('an action the policy holds for two approvers waits for their votes through the gateway API, then runs and resolves', async () => {
    const api = `http://127.0.0.1:${system!.ports.get('chat-gateway')}/api/v1`;
    const as = (subject: string, roles: ('viewer' | 'operator' | 'approver' | 'admin')[]) => ({
      authorization: `Bearer ${issueToken({ secret: SECRET, subject, roles })}`,
      'content-type': 'application/json',
    });
    const vote = (approvalId: string, who: Record<string, string>) =>
      fetch(`${api}/approvals/${approvalId}/votes`, {
        method: 'POST',
        headers: who,
        body: JSON.stringify({ decision: 'approve', comment: 'checked the flag' }),
      });

    const incident = await breakAndResolve('feature_flag', 'FeatureFlagError', async () => {
      const approval = await waitFor(
        'the approval to be pending',
        async () => {
          const res = await fetch(`${api}/approvals`, { headers: as('vera', ['viewer']) });
          const { items } = (await res.json()) as QueryReply<'executor.query.approvals'>;
          return items.find((a) => a.plan.playbook === 'toggle_feature_flag');
        },
        30_000,
      );
      expect(approval.quorum).toEqual({ required: 2, role: 'approver' });
      // A viewer may not vote; the first approver's vote counts but is not enough.
      expect((await vote(approval.approval_id, as('vera', ['viewer']))).status).toBe(403);
      expect((await vote(approval.approval_id, as('alice', ['approver']))).status).toBe(202);
      await waitFor('the first vote to be recorded', async () => {
        const res = await fetch(`${api}/approvals`, { headers: as('vera', ['viewer']) });
        const { items } = (await res.json()) as QueryReply<'executor.query.approvals'>;
        return items.find((a) => a.approval_id === approval.approval_id)?.votes.length === 1;
      });
      expect(demo.state.feature_flag.enabled).toBe(true);
      expect((await vote(approval.approval_id, as('bob', ['approver']))).status).toBe(202);
    });

    expect(demo.state.feature_flag.enabled).toBe(false);
    const { trail } = await ask('sentinel.query.incident', { incident_id: incident.incident_id });
    expect(trail.map((d) => [d.playbook, d.outcome])).toEqual([['toggle_feature_flag', 'verified']]);
    // The contract as the console shows it, looked up by the action id from the trail.
    const res = await fetch(`${api}/contracts/${trail[0]!.action_id}`, { headers: as('vera', ['viewer']) });
    expect(res.status).toBe(200);
    const { contract, verification } = (await res.json()) as {
      contract: QueryReply<'executor.query.contract'>;
      verification?: { verdict: string };
    };
    expect(contract.approval?.status).toBe('granted');
    expect(contract.approval?.votes.filter((v) => v.counted).map((v) => v.voter_id)).toEqual(['alice', 'bob']);
    expect(verification?.verdict).toBe('verified');
  }, 90_000);
});
