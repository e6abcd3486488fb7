import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { GraceEvent, QueryReply } from '@grace/contracts';
import { startService, type RunningService } from '@grace/service-kit';
import {
  consumerOf,
  createSandbox,
  metricSum,
  publishRaw,
  readStream,
  waitFor,
  withLogTap,
  type LogLine,
  type Sandbox,
} from '@grace/service-kit/testing';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { actionExecutor } from '../src/service.js';
import type { Database } from '../src/store.js';
import { startFakeKubernetes, type FakeKubernetes } from './fake-kubernetes.js';
import {
  CUT_SHORT_AND_ROLLED_BACK,
  requested,
  startTarget,
  TEST_POLICY,
  verdictOn,
  vote,
  type TargetSystem,
} from './support.js';

describe('action-executor', () => {
  let sandbox: Sandbox;
  const instances: RunningService<Database, unknown>[] = [];
  const targets: TargetSystem[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'grace-executor-'));
  const policyFile = join(dir, 'policies.yaml');
  let kubernetes: FakeKubernetes;
  // What each instance's policy watcher logs.
  const logs: LogLine[][] = [[], []];

  beforeAll(async () => {
    writeFileSync(policyFile, TEST_POLICY);
    kubernetes = await startFakeKubernetes();
    sandbox = await createSandbox('executor', {
      KUBECONFIG: kubernetes.writeKubeconfig(dir),
      POLICY_FILE: policyFile,
      FILE_POLL_MS: '50',
      WORKERS: '2',
      WORK_POLL_MS: '50',
      APPROVAL_SWEEP_MS: '50',
      RESTORE_RETRY_MS: '50',
      // Retries every 200 ms at most (the sandbox's RETRY_MAX_MS): 40 deliveries give a request about 8 s.
      MAX_ATTEMPTS: '40',
    });
    // Two replicas sharing the schema and the durable consumers, as in a deployment.
    for (let i = 0; i < 2; i++)
      instances.push(
        (await startService(withLogTap(actionExecutor, logs[i]!), sandbox.env)) as RunningService<Database, unknown>,
      );
  });

  afterAll(async () => {
    for (const s of instances) await s.stop();
    for (const t of targets) await t.stop();
    await sandbox?.cleanup();
    await kubernetes?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const target = (...args: Parameters<typeof startTarget> extends [unknown, unknown, ...infer R] ? R : never) => {
    const t = startTarget(sandbox.nc, sandbox.namespace, ...args);
    targets.push(t);
    return t;
  };
  const send = (event: GraceEvent) => publishRaw(sandbox, event.type, JSON.stringify(event));
  const eventsFor = async <T extends GraceEvent>(type: T['type'], actionId: string): Promise<T[]> =>
    (await readStream(sandbox, 'GRACE_ACTIONS'))
      .map((m) => m.data as T)
      .filter((e) => e.type === type && (e.data as { action_id?: string }).action_id === actionId);
  const eventFor = <T extends GraceEvent>(type: T['type'], actionId: string) =>
    waitFor(`${type} of ${actionId}`, async () => (await eventsFor<T>(type, actionId))[0]);
  const ask = async <T>(subject: string, body: unknown): Promise<T> => {
    const msg = await sandbox.nc.request(`${sandbox.namespace}.${subject}`, JSON.stringify(body), { timeout: 5_000 });
    const response = msg.json<{ ok: boolean; data: T; error?: unknown }>();
    if (!response.ok) throw new Error(JSON.stringify(response.error));
    return response.data;
  };
  const contractOf = (actionId: string) =>
    ask<QueryReply<'executor.query.contract'>>('executor.query.contract', { action_id: actionId });
  const statusIs = (actionId: string, status: string) =>
    waitFor(`contract of ${actionId} ${status}`, async () => {
      const reply = await contractOf(actionId).catch(() => undefined);
      return reply?.contract.status === status ? reply : undefined;
    });

  it('rolls a tier-2 action back to its snapshot when the target reports a bad state after it', async () => {
    const orders = target(
      'orders',
      { pool: { size: 10, healthy: false } },
      {
        restart_pool: (state) => {
          state.pool = { size: 0, healthy: false };
        },
      },
    );
    const request = requested('orders');
    await send(request);
    const executed = await eventFor<GraceEvent<'action.executed'>>('action.executed', request.data.action_id);
    expect(executed.data).toMatchObject({ result: 'succeeded', actual_state: { pool: { size: 0, healthy: false } } });
    expect(executed.data.snapshot_id).toBeDefined();
    expect(executed.correlationid).toBe(request.correlationid);
    expect(orders.state).toEqual({ pool: { size: 0, healthy: false } });

    await send(verdictOn(executed, 'drift'));
    const rolledBack = await eventFor<GraceEvent<'contract.rolled_back'>>(
      'contract.rolled_back',
      request.data.action_id,
    );
    expect(rolledBack.data).toMatchObject({
      trigger: 'drift',
      snapshot_id: executed.data.snapshot_id,
      restored_state: { pool: { size: 10, healthy: false } },
    });
    expect(orders.state).toEqual({ pool: { size: 10, healthy: false } });
    const reply = await statusIs(request.data.action_id, 'rolled_back');
    expect(reply.snapshot).toMatchObject({ state: { pool: { size: 10, healthy: false } } });
    expect(reply.snapshot?.restored_at).toBeDefined();
    expect(reply.audit.map((e) => e.step)).toEqual([
      'contract.created',
      'policy.checked',
      'snapshot.taken',
      'execution.started',
      'execution.finished',
      'verdict.received',
      'rollback.finished',
    ]);
  });

  it('reports a tier-2 action whose snapshot failed as not carried out, and does nothing else', async () => {
    // No target answers on the bus for this service: the snapshot request finds no responder.
    const request = requested('nobody-answers');
    await send(request);
    const executed = await eventFor<GraceEvent<'action.executed'>>('action.executed', request.data.action_id);
    expect(executed.data).toMatchObject({ result: 'failed', carried_out: false, actual_state: {} });
    expect(executed.data.error).toMatch(/^snapshot failed, so nothing was done/);
    expect(executed.data.snapshot_id).toBeUndefined();
    const reply = await statusIs(request.data.action_id, 'failed');
    expect(reply.audit.map((e) => e.step)).toEqual(['contract.created', 'policy.checked', 'execution.finished']);
  });

  it('scales a Deployment through the Kubernetes API and scales it back when the verdict is drift', async () => {
    kubernetes.addDeployment('shop', 'cart', { replicas: 2, image: 'cart:1.4.0' });
    const request = requested('cart', {
      adapter: 'kubernetes',
      action: 'scale',
      playbook: 'scale_up',
      target: { service: 'cart', environment: 'production', namespace: 'shop', deployment: 'cart' },
      params: { delta: 2, max_replicas: 10 },
      expected_effect: { target_state: { ready: true }, error_rate_ceiling: 1 },
    });
    await send(request);
    const executed = await eventFor<GraceEvent<'action.executed'>>('action.executed', request.data.action_id);
    expect(executed.data).toMatchObject({ result: 'succeeded', actual_state: { replicas: 4, ready: true } });
    expect(kubernetes.deployment('shop', 'cart')).toMatchObject({ spec: { replicas: 4 } });

    await send(verdictOn(executed, 'drift'));
    const rolledBack = await eventFor<GraceEvent<'contract.rolled_back'>>(
      'contract.rolled_back',
      request.data.action_id,
    );
    expect(rolledBack.data.restored_state).toMatchObject({ replicas: 2 });
    expect(kubernetes.deployment('shop', 'cart')).toMatchObject({ spec: { replicas: 2 } });
    const snapshot = (await contractOf(request.data.action_id)).snapshot;
    expect(snapshot?.state).toMatchObject({ replicas: 2, containers: [{ name: 'cart', image: 'cart:1.4.0' }] });
  });

  it('ends a verified tier-1 action without a snapshot or a rollback', async () => {
    const cache = target(
      'catalog',
      { cache: { healthy: false } },
      {
        clear_cache: (state) => {
          state.cache = { healthy: true };
        },
      },
    );
    const request = requested('catalog', { tier: 1, playbook: 'clear_cache', action: 'clear_cache' });
    await send(request);
    const executed = await eventFor<GraceEvent<'action.executed'>>('action.executed', request.data.action_id);
    expect(executed.data.snapshot_id).toBeUndefined();
    expect(cache.calls.map((c) => c.operation)).toEqual(['clear_cache']);
    await send(verdictOn(executed, 'verified'));
    const reply = await statusIs(request.data.action_id, 'verified');
    expect(reply.contract).toMatchObject({ verdict: 'verified', result: 'succeeded', tier: 1 });
  });

  it('executes the same request once, delivered twice and re-sent with a new event id to two instances', async () => {
    const billing = target(
      'billing',
      { workers: 1 },
      {
        restart_pool: (state) => {
          state.workers = Number(state.workers) + 1;
        },
      },
    );
    const request = requested('billing', { tier: 1 });
    const again = { ...request, id: `${request.id}-resent` };
    await Promise.all([
      send(request),
      publishRaw(sandbox, request.type, JSON.stringify(request), `${request.id}-second-copy`),
      send(again),
    ]);
    await eventFor('action.executed', request.data.action_id);
    // Give the other instance every chance to act too: a later request on another target passes through both.
    const probe = requested('billing-probe', { tier: 1 });
    target('billing-probe', {}, { restart_pool: () => undefined });
    await send(probe);
    await eventFor('action.executed', probe.data.action_id);
    expect([...billing.executions.values()]).toEqual([1]);
    expect(billing.state.workers).toBe(2);
    expect(await eventsFor('action.executed', request.data.action_id)).toHaveLength(1);
  });

  it('waits for two distinct approvers on a tier-3 action; the requester and a non-approver do not count', async () => {
    const ledger = target(
      'ledger',
      { image: 'v2' },
      {
        rollback_release: (state) => {
          state.image = 'v1';
        },
      },
    );
    const request = requested('ledger', {
      tier: 3,
      action: 'rollback_release',
      playbook: 'rollback_release',
      requested_by: { kind: 'user', id: 'alice' },
    });
    await send(request);
    const asked = await eventFor<GraceEvent<'approval.requested'>>('approval.requested', request.data.action_id);
    expect(asked.data.quorum).toEqual({ required: 2, role: 'approver' });
    expect(asked.data.reason).toContain('tier-3-needs-approval');
    const approvalId = asked.data.approval_id;

    const votes: [string, ('approver' | 'operator')[]][] = [
      ['alice', ['approver']],
      ['bob', ['operator']],
      ['carol', ['approver']],
      ['carol', ['approver']],
    ];
    let pending: QueryReply<'executor.query.contract'> | undefined;
    for (const [index, [voter, roles]] of votes.entries()) {
      await send(vote(approvalId, voter, roles));
      pending = await waitFor(`vote ${index + 1} recorded`, async () => {
        const reply = await contractOf(request.data.action_id);
        return reply.approval?.votes.length === index + 1 ? reply : undefined;
      });
    }
    expect(pending?.contract.status).toBe('pending');
    expect(pending?.approval?.votes.map((v) => [v.voter_id, v.counted, v.not_counted_reason])).toEqual([
      ['alice', false, 'the requester of the action does not count'],
      ['bob', false, 'not an approver (roles: operator)'],
      ['carol', true, undefined],
      ['carol', false, 'this person already voted'],
    ]);
    expect(ledger.calls).toEqual([]);

    await send(vote(approvalId, 'dave', ['approver', 'operator']));
    const granted = await eventFor<GraceEvent<'approval.granted'>>('approval.granted', request.data.action_id);
    expect(granted.data.votes.filter((v) => v.counted).map((v) => v.voter_id)).toEqual(['carol', 'dave']);
    await eventFor('action.executed', request.data.action_id);
    expect(ledger.state.image).toBe('v1');
  });

  it('never runs an action whose approval expired, nor one an approver rejected', async () => {
    const vault = target(
      'vault',
      { sealed: true },
      {
        rotate: (state) => {
          state.sealed = false;
        },
      },
    );
    const expiring = requested('vault', { tier: 3, action: 'rotate', playbook: 'rotate' });
    await send(expiring);
    const asked = await eventFor<GraceEvent<'approval.requested'>>('approval.requested', expiring.data.action_id);
    await send(vote(asked.data.approval_id, 'erin', ['approver']));
    await waitFor('the vote', async () => (await contractOf(expiring.data.action_id)).approval?.votes.length === 1);
    // Time passes: the approval's expiry is moved into the past.
    await sandbox.pool.query(
      `update "${sandbox.schema}".approvals set expires_at = now() - interval '1 second' where id = $1`,
      [asked.data.approval_id],
    );
    const expired = await eventFor<GraceEvent<'approval.expired'>>('approval.expired', expiring.data.action_id);
    expect(expired.data.votes).toHaveLength(1);
    const denied = await eventFor<GraceEvent<'action.denied'>>('action.denied', expiring.data.action_id);
    expect(denied.data.rule).toBe('approval-expired');
    await statusIs(expiring.data.action_id, 'expired');
    // A late vote is recorded but changes nothing.
    await send(vote(asked.data.approval_id, 'frank', ['approver']));
    await send(vote(asked.data.approval_id, 'grace', ['approver']));
    await waitFor(
      'the late votes',
      async () => (await contractOf(expiring.data.action_id)).approval?.votes.length === 3,
    );

    const rejected = requested('vault', { tier: 3, action: 'rotate', playbook: 'rotate' });
    await send(rejected);
    const second = await eventFor<GraceEvent<'approval.requested'>>('approval.requested', rejected.data.action_id);
    await send(vote(second.data.approval_id, 'heidi', ['approver'], 'reject'));
    const no = await eventFor<GraceEvent<'approval.rejected'>>('approval.rejected', rejected.data.action_id);
    expect(no.data.rejected_by).toBe('heidi');
    await statusIs(rejected.data.action_id, 'denied');
    expect(vault.calls).toEqual([]);
    expect(vault.state.sealed).toBe(true);
  });

  it('cuts a hanging adapter at its timeout, rolls the contract back and frees the worker', async () => {
    const search = target('search', { replicas: 3 }, { reindex: 'hang', restart_pool: () => undefined });
    const hanging = requested('search', { action: 'reindex', playbook: 'reindex', timeout_ms: 300 });
    await send(hanging);
    const executed = await eventFor<GraceEvent<'action.executed'>>('action.executed', hanging.data.action_id);
    expect(executed.data.result).toBe('timed_out');
    const rolledBack = await eventFor<GraceEvent<'contract.rolled_back'>>(
      'contract.rolled_back',
      hanging.data.action_id,
    );
    expect(rolledBack.data.trigger).toBe('timed_out');
    await statusIs(hanging.data.action_id, 'rolled_back');
    expect(search.state).toEqual({ replicas: 3 });
    // The worker that waited on it is free again on every instance.
    for (const instance of instances) {
      const metrics = await (await fetch(`http://127.0.0.1:${instance.httpPort}/metrics`)).text();
      expect(metrics).toMatch(/^grace_executor_workers_busy\{[^}]*\} 0$/m);
    }

    // The verifier's later verdict on it changes nothing, and the next action on the target runs.
    await send(verdictOn(executed, 'failed'));
    const next = requested('search', { tier: 1 });
    await send(next);
    await eventFor('action.executed', next.data.action_id);
    expect((await contractOf(hanging.data.action_id)).contract).toMatchObject({
      status: 'rolled_back',
      verdict: 'failed',
    });
  });

  it('finishes a step whose contract was changed by someone else since its worker last wrote it', async () => {
    // Each step's update is guarded by the row as its worker last wrote it; a row changed meanwhile (here: written
    // while the adapter hangs, the lease still held) fails that guard and the step reads it under its lock instead.
    const guarded = target('guarded-writes', { replicas: 2 }, { reindex: 'hang' });
    const request = requested('guarded-writes', { action: 'reindex', playbook: 'reindex', timeout_ms: 3_000 });
    await send(request);
    await statusIs(request.data.action_id, 'executing');
    const { rowCount } = await sandbox.pool.query(
      `update "${sandbox.schema}".contracts set rollback_reason = 'set by another writer', updated_at = now()
        where action_id = $1 and status = 'executing' and lease_owner is not null`,
      [request.data.action_id],
    );
    expect(rowCount).toBe(1);
    const executed = await eventFor<GraceEvent<'action.executed'>>('action.executed', request.data.action_id);
    expect(executed.data.result).toBe('timed_out');
    const reply = await statusIs(request.data.action_id, 'rolled_back');
    expect(guarded.state).toEqual({ replicas: 2 });
    expect(reply.audit.map((e) => e.step)).toEqual(CUT_SHORT_AND_ROLLED_BACK);
    const audit = await ask<QueryReply<'executor.query.audit'>>('executor.query.audit', { verify: true, limit: 1 });
    expect(audit.verification).toMatchObject({ ok: true });
  });

  it('denies an action by policy without touching the adapter, naming the rule', async () => {
    const warehouse = target('warehouse', { tables: 12 }, { drop_database: (state) => (state.tables = 0) });
    const request = requested('warehouse', { action: 'drop_database', playbook: 'drop_database', tier: 1 });
    await send(request);
    const denied = await eventFor<GraceEvent<'action.denied'>>('action.denied', request.data.action_id);
    expect(denied.data).toMatchObject({
      denied_by: 'policy',
      rule: 'no-automatic-database-drops',
      reason: 'dropping a database is never automatic',
    });
    expect(denied.data.policy_version).toMatch(/^v\d+-[0-9a-f]{12}$/);
    await statusIs(request.data.action_id, 'denied');
    expect(warehouse.calls).toEqual([]);
  });

  it('records a dry run (plan, snapshot, contract) and executes nothing', async () => {
    const rehearsal = target('payments-rehearsal', { queue: 'stuck' }, { restart_pool: (s) => (s.queue = 'flowing') });
    const request = requested('payments-rehearsal');
    await send(request);
    const executed = await eventFor<GraceEvent<'action.executed'>>('action.executed', request.data.action_id);
    expect(executed.data.result).toBe('dry_run');
    expect(rehearsal.calls.map((c) => c.operation)).toEqual(['snapshot']);
    const reply = await contractOf(request.data.action_id);
    expect(reply.contract).toMatchObject({ dry_run: true, status: 'executed' });
    expect(reply.snapshot?.state).toEqual({ queue: 'stuck' });
  });

  it('refuses a fourth tier-2 action on a service inside the hour, and a second open one at any time', async () => {
    target('inventory', { restarts: 0 }, { restart_pool: (s) => (s.restarts = Number(s.restarts) + 1) });
    for (let i = 0; i < 3; i++) {
      const request = requested('inventory');
      await send(request);
      const executed = await eventFor<GraceEvent<'action.executed'>>('action.executed', request.data.action_id);
      if (i === 0) {
        // While the first is open (awaiting its verdict), another action on the target is refused.
        const concurrent = requested('inventory');
        await send(concurrent);
        const denied = await eventFor<GraceEvent<'action.denied'>>('action.denied', concurrent.data.action_id);
        expect(denied.data).toMatchObject({ denied_by: 'constitution', rule: 'one-open-contract-per-target' });
      }
      await send(verdictOn(executed, 'verified'));
      await statusIs(request.data.action_id, 'verified');
    }
    const fourth = requested('inventory');
    await send(fourth);
    const denied = await eventFor<GraceEvent<'action.denied'>>('action.denied', fourth.data.action_id);
    expect(denied.data).toMatchObject({ denied_by: 'constitution', rule: 'action-budget' });
    expect(denied.data.reason).toContain('the budget is 3');
    // Tier 1 is outside the budget.
    const gentle = requested('inventory', { tier: 1 });
    await send(gentle);
    await eventFor('action.executed', gentle.data.action_id);
  });

  it("admits an incident's next attempt once the previous attempt's late verdict arrives, instead of denying it", async () => {
    target('payroll', { healthy: false }, { restart_pool: () => undefined });
    const first = requested('payroll', { tier: 1 });
    await send(first);
    const executed = await eventFor<GraceEvent<'action.executed'>>('action.executed', first.data.action_id);
    // The sentinel asks again only after the verdict; here the verdict reaches the executor after the request.
    const incidentId = first.data.incident_id!;
    // Requests the executor turned away to be retried (on either instance).
    const turnedAway = () =>
      metricSum(instances, 'grace_events_failed_total', {
        consumer: consumerOf(instances[0]!, 'action.requested').durable,
        kind: 'transient',
      });
    const turnedAwayBefore = await turnedAway();
    const next = requested('payroll', {
      tier: 1,
      incident_id: incidentId,
      attempt: 2,
      idempotency_key: `${incidentId}:2`,
    });
    await send(next);
    // Delivered and put back five times (the backoff makes that about 550 ms), and never denied.
    await waitFor('the next attempt retried five times', async () => (await turnedAway()) - turnedAwayBefore >= 5);
    expect(await eventsFor('action.denied', next.data.action_id)).toEqual([]);
    await send(verdictOn(executed, 'failed'));
    await statusIs(first.data.action_id, 'failed');
    await eventFor('action.executed', next.data.action_id);
    expect(await eventsFor('action.denied', next.data.action_id)).toEqual([]);
    // Another incident's request on the same target is still refused at once while one is open.
    const other = requested('payroll', { tier: 1 });
    await send(other);
    const denied = await eventFor<GraceEvent<'action.denied'>>('action.denied', other.data.action_id);
    expect(denied.data).toMatchObject({ denied_by: 'constitution', rule: 'one-open-contract-per-target' });
  });

  it('holds every new action while paused and runs the held ones after resume', async () => {
    const shipping = target('shipping', { flag: 'off' }, { toggle: (s) => (s.flag = 'on') });
    const paused = await ask<QueryReply<'executor.control.pause'>>('executor.control.pause', {
      by: 'root',
      reason: 'change freeze',
    });
    expect(paused).toMatchObject({ paused: true, paused_by: 'root', reason: 'change freeze' });
    const held = [requested('shipping', { action: 'toggle', tier: 1 }), requested('shipping-eu', { tier: 1 })];
    target('shipping-eu', {}, { restart_pool: () => undefined });
    for (const r of held) await send(r);
    await waitFor('two held actions', async () => {
      const status = await ask<QueryReply<'executor.control.status'>>('executor.control.status', {});
      return status.held_actions === 2;
    });
    // Absence over a window, the subject of the test: nothing marks a housekeeping tick or a worker poll (each every
    // 50 ms on both instances) that found the switch on, so it gives them 300 ms (about six chances each) to run one.
    await new Promise((r) => setTimeout(r, 300));
    expect(shipping.calls).toEqual([]);

    const resumed = await ask<QueryReply<'executor.control.resume'>>('executor.control.resume', { by: 'root' });
    expect(resumed.paused).toBe(false);
    for (const r of held) await eventFor('action.executed', r.data.action_id);
    expect(shipping.state.flag).toBe('on');
    const audit = (await contractOf(held[0]!.data.action_id)).audit.map((e) => e.step);
    expect(audit.slice(0, 3)).toEqual(['contract.created', 'constitution.held', 'policy.checked']);
  });

  it('applies a changed policy file at once and keeps the last good one when the new one is broken', async () => {
    writeFileSync(
      policyFile,
      `${TEST_POLICY}
  - name: reports-frozen
    match: { service: 'reports-*' }
    effect: { deny: reports are frozen for the audit }
`,
    );
    // Until both instances have read the new file, a request may still run: each try uses its own target.
    let tries = 0;
    const denied = await waitFor('the new rule', async () => {
      const service = `reports-${(tries += 1)}`;
      target(service, {}, { restart_pool: () => undefined });
      const request = requested(service, { tier: 1 });
      await send(request);
      const outcome = await waitFor('an outcome', async () => {
        const reply = await contractOf(request.data.action_id).catch(() => undefined);
        return reply && !['pending', 'approved', 'executing'].includes(reply.contract.status) ? reply : undefined;
      });
      return outcome.contract.status === 'denied' ? outcome : undefined;
    });
    expect(denied.contract.error).toContain('reports-frozen');

    const seen = logs.map((lines) => lines.length);
    writeFileSync(policyFile, 'version: 1\nrules:\n  - name: Broken Name\n    effect: {}\n');
    await waitFor('both instances to reject the broken policy file', async () =>
      logs.every((lines, i) =>
        lines
          .slice(seen[i])
          .some((l) => l.msg === 'policies rejected; keeping the last good version' && l.level === 'error'),
      ),
    );
    const still = requested('reports-after-break', { tier: 1 });
    await send(still);
    const refused = await eventFor<GraceEvent<'action.denied'>>('action.denied', still.data.action_id);
    expect(refused.data.rule).toBe('reports-frozen');
    writeFileSync(policyFile, TEST_POLICY);
  });

  it('reports the first altered row of the audit chain', async () => {
    const before = await ask<QueryReply<'executor.query.audit'>>('executor.query.audit', { verify: true, limit: 1 });
    expect(before.verification).toMatchObject({ ok: true });
    expect(before.verification!.checked).toBeGreaterThan(20);
    const { rows } = await sandbox.pool.query(
      `select seq from "${sandbox.schema}".audit_entries where step = 'policy.checked' order by seq limit 1 offset 2`,
    );
    const seq = Number((rows[0] as { seq: string }).seq);
    await sandbox.pool.query(
      `update "${sandbox.schema}".audit_entries set detail = jsonb_set(detail, '{tier}', '99') where seq = $1`,
      [seq],
    );
    const after = await ask<QueryReply<'executor.query.audit'>>('executor.query.audit', { verify: true, limit: 1 });
    expect(after.verification).toMatchObject({ ok: false, first_broken_seq: seq });
    expect(after.verification!.reason).toContain('altered');
  });
});
