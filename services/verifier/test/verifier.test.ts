import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createEvent, remediationSubject, type GraceEvent, type QueryReply } from '@grace/contracts';
import { startService, type RunningService } from '@grace/service-kit';
import {
  consumerOf,
  count,
  createSandbox,
  handledThrough,
  publishRaw,
  readStream,
  waitFor,
  waitUntilSettled,
  type Sandbox,
} from '@grace/service-kit/testing';
import type { Subscription } from '@nats-io/nats-core';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifier } from '../src/service.js';
import type { Database } from '../src/store.js';
import { executed } from './events.js';

/** A real HTTP target: /health answers with the status and delay the test sets. */
function startHealthTarget() {
  const health = { status: 200, delayMs: 0 };
  const server: Server = createServer((req, res) => {
    setTimeout(() => {
      res.writeHead(health.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: health.status === 200, pool: { healthy: health.status === 200 } }));
    }, health.delayMs);
  });
  return new Promise<{ url: string; health: typeof health; stop: () => Promise<void> }>((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`,
        health,
        stop: () => new Promise<void>((done) => server.close(() => done())),
      }),
    ),
  );
}

describe('verifier', () => {
  let sandbox: Sandbox;
  let target: Awaited<ReturnType<typeof startHealthTarget>>;
  let status: Subscription;
  const instances: RunningService<Database, unknown>[] = [];

  beforeAll(async () => {
    sandbox = await createSandbox('verifier', { CAPTURE_SETTLE_MS: '300', WORK_POLL_MS: '50' });
    target = await startHealthTarget();
    // The target system's status on the bus, for nats checks.
    status = sandbox.nc.subscribe(`${sandbox.namespace}.${remediationSubject('orders', 'status')}`, {
      callback: (_err, msg) => {
        msg.respond(JSON.stringify({ state: { pool: { healthy: target.health.status === 200 } } }));
      },
    });
    for (let i = 0; i < 2; i++)
      instances.push((await startService(verifier, sandbox.env)) as RunningService<Database, unknown>);
  });

  afterAll(async () => {
    for (const s of instances) await s.stop();
    status?.unsubscribe();
    await target?.stop();
    await sandbox?.cleanup();
  });

  const send = (event: GraceEvent) => publishRaw(sandbox, event.type, JSON.stringify(event));
  const verdictOf = (actionId: string) =>
    waitFor(`the verdict on ${actionId}`, async () => {
      const all = (await readStream(sandbox, 'GRACE_ACTIONS')).map((m) => m.data as GraceEvent<'contract.verified'>);
      return all.find((e) => e.type === 'contract.verified' && e.data.action_id === actionId);
    });
  const healthCheck = () => ({ kind: 'http' as const, name: 'health', url: target.url, expect_status: 200 });

  it('verifies with confidence 1 an action after which the target satisfies every check', async () => {
    target.health.status = 200;
    const action = executed({
      checks: [
        healthCheck(),
        { kind: 'state', name: 'pool-healthy' },
        {
          kind: 'nats',
          name: 'pool-status',
          subject: 'remediation.orders.status',
          expect_fields: { 'pool.healthy': true },
        },
      ],
    });
    await send(action);
    const verdict = await verdictOf(action.data.action_id);
    expect(verdict.data).toMatchObject({ verdict: 'verified', confidence: 1, execution_result: 'succeeded' });
    expect(verdict.data.checks.map((c) => [c.name, c.status])).toEqual([
      ['health', 'passed'],
      ['pool-healthy', 'passed'],
      ['pool-status', 'passed'],
    ]);
    expect(verdict.correlationid).toBe(action.correlationid);
    expect(verdict.data.time_to_verify_ms).toBeGreaterThanOrEqual(0);
  });

  it('fails an action after which the health endpoint stays bad', async () => {
    target.health.status = 503;
    const action = executed({ checks: [healthCheck(), { kind: 'state', name: 'pool-healthy' }] });
    await send(action);
    const verdict = await verdictOf(action.data.action_id);
    target.health.status = 200;
    expect(verdict.data.verdict).toBe('failed');
    expect(verdict.data.confidence).toBeLessThan(1);
    expect(verdict.data.checks[0]).toMatchObject({ name: 'health', status: 'failed', observed: { status: 503 } });
  });

  it('calls it drift when the state the adapter reports differs from the expected target state', async () => {
    const action = executed({
      actual_state: { pool: { healthy: false, size: 0 } },
      checks: [healthCheck(), { kind: 'state', name: 'pool-healthy' }],
    });
    await send(action);
    const verdict = await verdictOf(action.data.action_id);
    expect(verdict.data.verdict).toBe('drift');
    expect(verdict.data.drift?.fields).toEqual([
      { field: 'pool.healthy', expected: true, actual: false, matched: false },
    ]);
  });

  it('reports a check that cannot run as an error and never verifies on it', async () => {
    const action = executed({
      checks: [{ kind: 'http', name: 'health', url: 'http://127.0.0.1:9/health', expect_status: 200 }],
    });
    await send(action);
    const verdict = await verdictOf(action.data.action_id);
    expect(verdict.data.verdict).toBe('failed');
    expect(verdict.data.checks[0]!.status).toBe('error');
    expect(verdict.data.reason).toContain('could not');
  });

  it('fails an action that timed out without running its checks, and records a dry run as nothing verified', async () => {
    const timedOut = executed({ result: 'timed_out', error: 'no answer within 30000 ms', actual_state: {} });
    const dryRun = executed({ result: 'dry_run', actual_state: {} });
    await send(timedOut);
    await send(dryRun);
    const [a, b] = await Promise.all([verdictOf(timedOut.data.action_id), verdictOf(dryRun.data.action_id)]);
    expect(a.data).toMatchObject({ verdict: 'failed', confidence: 0, execution_result: 'timed_out' });
    expect(a.data.checks.every((c) => c.status === 'skipped')).toBe(true);
    expect(b.data).toMatchObject({ verdict: 'failed', execution_result: 'dry_run' });
    expect(b.data.reason).toContain('dry run');
  });

  describe('error-rate checks, from its own count of captured errors', () => {
    const windowMs = 2_000;
    // The action ran 5 s ago, so its window after has passed; captures are placed around it.
    const capture = (fingerprint: string, firstSeen: Date, lastSeen: Date, n: number, update: boolean) =>
      createEvent(
        'error.captured',
        {
          capture_id: randomUUID(),
          fingerprint,
          service: 'payments',
          environment: 'production',
          kind: 'PoolExhausted',
          message: 'no connection available',
          severity: 'error',
          first_seen: firstSeen.toISOString(),
          last_seen: lastSeen.toISOString(),
          count: n,
          total_count: n,
          update,
          storm: false,
          reported_event_id: randomUUID(),
          security_flags: [],
        },
        { source: 'test/trigger-mesh' },
      );

    // An alert of the group its source (Alertmanager, through trigger-mesh) reported resolved at endsAt.
    const resolution = (fingerprint: string, endsAt: Date, firing: number) =>
      createEvent(
        'alert.resolved',
        {
          fingerprint,
          service: 'payments',
          environment: 'production',
          alert_fingerprint: randomUUID().slice(0, 16),
          alertname: 'PoolExhausted',
          group_key: '{}:{alertname="PoolExhausted"}',
          starts_at: new Date(endsAt.getTime() - 60_000).toISOString(),
          ends_at: endsAt.toISOString(),
          firing,
          members: 3,
          producer: 'alertmanager',
        },
        { source: 'test/trigger-mesh' },
      );

    /** The firing counts each resolution reported, in the order they resolved (none: no alert.resolved). */
    async function runWith(errorsAfter: boolean, resolutions: number[] = []) {
      const fingerprint = `fp-${randomUUID()}`;
      const finished = new Date(Date.now() - 5_000);
      const started = new Date(finished.getTime() - 100);
      const ms = (offset: number) => new Date(started.getTime() + offset);
      // 30 errors in the window before; then either nothing, or 20 more (one window, cumulative counts).
      const captures = [capture(fingerprint, ms(-1_500), ms(-1_000), 30, false)];
      if (errorsAfter)
        captures.push(
          capture(fingerprint, ms(-1_500), ms(600), 40, true),
          capture(fingerprint, ms(-1_500), ms(1_500), 50, true),
        );
      for (const c of captures) await send(c);
      // Sent last first: the latest resolution (by ends_at) is the one that says how many still fire.
      const resolved = resolutions.map((firing, i) => resolution(fingerprint, ms(1_600 + i * 100), firing));
      for (const r of [...resolved].reverse()) await send(r);
      await waitFor(
        'the captures and resolutions stored',
        async () =>
          (await count(sandbox, 'captures', `fingerprint = '${fingerprint}'`)) === captures.length &&
          (await count(sandbox, 'source_resolutions', `fingerprint = '${fingerprint}'`)) === resolved.length,
      );
      const action = executed({
        fingerprint,
        target: { service: 'payments', environment: 'production' },
        started_at: started.toISOString(),
        finished_at: finished.toISOString(),
        checks: [{ kind: 'error_rate', name: 'errors-stop', scope: 'fingerprint', window_ms: windowMs }],
      });
      await send(action);
      return verdictOf(action.data.action_id);
    }

    it('passes when the errors stop after the action', async () => {
      const verdict = await runWith(false);
      expect(verdict.data.verdict).toBe('verified');
      expect(verdict.data.checks[0]).toMatchObject({
        status: 'passed',
        observed: { before_per_minute: 900, after_per_minute: 0, ceiling_per_minute: 1 },
      });
    });

    it('fails when the errors go on above the ceiling', async () => {
      const verdict = await runWith(true);
      expect(verdict.data.verdict).toBe('failed');
      expect(verdict.data.checks[0]).toMatchObject({ status: 'failed', observed: { after_per_minute: 600 } });
    });

    it('passes alerts that fired after the action once the source reports the whole group resolved', async () => {
      const verdict = await runWith(true, [1, 0]);
      expect(verdict.data.verdict).toBe('verified');
      expect(verdict.data.checks[0]).toMatchObject({
        status: 'passed',
        observed: { after_per_minute: 600, alerts_resolved: 2, alerts_still_firing: 0 },
      });
      expect(verdict.data.checks[0]!.reason).toContain('but the source reports all alerts of the group resolved');
    });

    it('keeps the failure while some alerts of the group still fire, and records the resolutions it saw', async () => {
      const verdict = await runWith(true, [2, 1]);
      expect(verdict.data.verdict).toBe('failed');
      expect(verdict.data.checks[0]).toMatchObject({
        status: 'failed',
        observed: { alerts_resolved: 2, alerts_still_firing: 1 },
      });
      expect(verdict.data.checks[0]!.reason).toContain('2 alerts resolved at the source, 1 still firing');
    });

    it('records resolutions beside a pass on counts', async () => {
      const verdict = await runWith(false, [0]);
      expect(verdict.data.verdict).toBe('verified');
      expect(verdict.data.checks[0]).toMatchObject({ status: 'passed', observed: { alerts_resolved: 1 } });
    });
  });

  it('learns a latency baseline from verified runs and calls a run far beyond it drift', async () => {
    target.health.status = 200;
    target.health.delayMs = 0;
    const service = `baseline-${randomUUID().slice(0, 8)}`;
    const run = async () => {
      const action = executed({
        target: { service, environment: 'production' },
        checks: [{ ...healthCheck(), max_latency_ms: 5_000 }],
      });
      await send(action);
      return verdictOf(action.data.action_id);
    };
    for (let i = 0; i < 5; i++) expect((await run()).data.verdict).toBe('verified');
    const baselines = await (async () => {
      const msg = await sandbox.nc.request(
        `${sandbox.namespace}.verifier.query.baselines`,
        JSON.stringify({ service }),
      );
      return msg.json<{ data: QueryReply<'verifier.query.baselines'> }>().data.items;
    })();
    expect(baselines).toEqual([expect.objectContaining({ check: 'health', metric: 'latency_ms', samples: 5 })]);

    target.health.delayMs = 400;
    const slow = await run();
    target.health.delayMs = 0;
    expect(slow.data.verdict).toBe('drift');
    expect(slow.data.checks[0]!.status).toBe('passed');
    expect(slow.data.drift?.baselines).toEqual([
      expect.objectContaining({ check: 'health', metric: 'latency_ms', baseline: baselines[0]!.value }),
    ]);
  });

  it('verifies a re-sent action.executed once, and answers for it by action id', async () => {
    const action = executed();
    await send(action);
    const { seq } = await publishRaw(sandbox, action.type, JSON.stringify({ ...action, id: randomUUID() }));
    const verdict = await verdictOf(action.data.action_id);
    // Both copies handled, the verification done (no worker can claim it again), every verdict committed published.
    await handledThrough(sandbox, consumerOf(instances[0]!, action.type), seq);
    await waitFor(
      'the verification done',
      async () =>
        (await count(sandbox, 'verifications', `action_id = '${action.data.action_id}' and status = 'done'`)) === 1,
    );
    await waitUntilSettled(instances);
    const all = (await readStream(sandbox, 'GRACE_ACTIONS')).filter(
      (m) =>
        (m.data as GraceEvent).type === 'contract.verified' &&
        (m.data as GraceEvent<'contract.verified'>).data.action_id === action.data.action_id,
    );
    expect(all).toHaveLength(1);
    expect(await count(sandbox, 'verifications', `action_id = '${action.data.action_id}'`)).toBe(1);
    const msg = await sandbox.nc.request(
      `${sandbox.namespace}.verifier.query.verification`,
      JSON.stringify({ action_id: action.data.action_id }),
    );
    expect(msg.json<{ data: QueryReply<'verifier.query.verification'> }>().data.verification).toEqual(verdict.data);
  });
});
