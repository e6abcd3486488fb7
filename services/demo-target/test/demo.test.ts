import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { GraceEvent } from '@grace/contracts';
import { startService, type RunningService, type ServiceDefinition } from '@grace/service-kit';
import { createSandbox, readStream, waitFor, type Sandbox } from '@grace/service-kit/testing';
import { actionExecutor } from '../../action-executor/src/service.js';
import { sentinel } from '../../sentinel/src/service.js';
import { triggerMesh } from '../../trigger-mesh/src/service.js';
import { verifier } from '../../verifier/src/service.js';
import { startDemoTarget } from '../src/demo.js';

describe('the demo target', () => {
  let sandbox: Sandbox;
  let demo: ReturnType<typeof startDemoTarget>;
  const running: RunningService<unknown, unknown>[] = [];
  const services: ServiceDefinition<never, never>[] = [
    triggerMesh as never,
    sentinel as never,
    actionExecutor as never,
    verifier as never,
  ];

  beforeAll(async () => {
    sandbox = await createSandbox('demo', { WORK_POLL_MS: '50' });
    demo = startDemoTarget({ nc: sandbox.nc, namespace: sandbox.namespace, errorIntervalMs: 200 });
  });

  afterAll(async () => {
    await demo?.stop();
    for (const s of running) await s.stop();
    for (const def of services)
      await sandbox.pool.query(`drop schema if exists "${sandbox.schema}_${def.name.replace(/-/g, '_')}" cascade`);
    await sandbox?.cleanup();
  });

  it('answers the remediation protocol: status, snapshot, an action once per key, restore', async () => {
    const ask = async (operation: string, body: object) =>
      (await sandbox.nc.request(`${sandbox.namespace}.remediation.demo.${operation}`, JSON.stringify(body))).json<
        Record<string, unknown>
      >();
    demo.inject('cache');
    const taken = await ask('snapshot', {});
    expect(taken.state).toMatchObject({ cache: { healthy: false } });
    const fixed = await ask('clear_cache', { idempotency_key: 'k1' });
    expect(fixed).toMatchObject({ status: 'succeeded', actual_state: { cache: { healthy: true, entries: 0 } } });
    demo.inject('cache');
    // The same key again: the earlier answer, no second act.
    expect(await ask('clear_cache', { idempotency_key: 'k1' })).toEqual(fixed);
    expect(demo.state.cache.healthy).toBe(false);
    expect(await ask('restore', { state: { ...demo.state, cache: { healthy: true, entries: 7 } } })).toMatchObject({
      status: 'restored',
      actual_state: { cache: { entries: 7 } },
    });
    expect(await ask('status', {})).toMatchObject({ state: { cache: { healthy: true } } });
    expect(await ask('drop_tables', { idempotency_key: 'k2' })).toMatchObject({ status: 'failed' });
  });

  it('is fixed by Grace with the shipped catalog and policy: error -> incident -> action, verification due', async () => {
    for (const def of services)
      running.push(
        (await startService(def, {
          ...sandbox.env,
          DB_SCHEMA: `${sandbox.schema}_${def.name.replace(/-/g, '_')}`,
        })) as unknown as RunningService<unknown, unknown>,
      );
    demo.inject('pool');
    await waitFor('Grace to fix the pool', async () => demo.healthy(), 30_000).catch(async (err: unknown) => {
      const trail = [...(await readStream(sandbox, 'GRACE_INCIDENTS')), ...(await readStream(sandbox, 'GRACE_ACTIONS'))]
        .map((m) => m.data as GraceEvent)
        .map((e) => `${e.type} ${JSON.stringify(e.data).slice(0, 300)}`);
      throw new Error(`${String(err)}\n${trail.join('\n')}`);
    });
    const executed = await waitFor('the action executed', async () =>
      (await readStream(sandbox, 'GRACE_ACTIONS'))
        .map((m) => m.data as GraceEvent<'action.executed'>)
        .find((e) => e.type === 'action.executed' && e.data.target.service === 'demo'),
    );
    expect(executed.data).toMatchObject({
      playbook: 'reconnect_database',
      result: 'succeeded',
      actual_state: { pool: { healthy: true } },
    });
    expect(executed.data.snapshot_id).toBeDefined();
    // The shipped playbook's error-rate check watches 2 minutes after the action before the verifier judges it.
    const { rows } = await sandbox.pool.query(
      `select status, due_at > now() as later from "${sandbox.schema}_verifier".verifications where action_id = $1`,
      [executed.data.action_id],
    );
    expect(rows).toEqual([{ status: 'pending', later: true }]);
    expect(demo.reported()).toBeGreaterThan(0);
  }, 60_000);
});
