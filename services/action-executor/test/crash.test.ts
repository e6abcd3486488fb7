import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { GraceEvent, QueryReply } from '@grace/contracts';
import { startService, type RunningService } from '@grace/service-kit';
import {
  createSandbox,
  exited,
  publishRaw,
  readStream,
  spawnTs,
  waitFor,
  type Sandbox,
} from '@grace/service-kit/testing';
import { fileURLToPath } from 'node:url';
import { actionExecutor } from '../src/service.js';
import type { Database } from '../src/store.js';
import { CUT_SHORT_AND_ROLLED_BACK, requested, startTarget, type TargetSystem } from './support.js';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));

describe('action-executor after a crash', () => {
  let sandbox: Sandbox;
  let survivor: RunningService<Database, unknown> | undefined;
  let target: TargetSystem;

  beforeAll(async () => {
    sandbox = await createSandbox('executorcrash', { LEASE_MARGIN_MS: '1000', WORK_POLL_MS: '50' });
  });

  afterAll(async () => {
    await survivor?.stop();
    await target?.stop();
    await sandbox?.cleanup();
  });

  it('takes over a contract whose executor was killed mid-action: recorded as interrupted, rolled back, never re-run', async () => {
    target = startTarget(sandbox.nc, sandbox.namespace, 'payments', { replicas: 3 }, { resize: 'hang' });
    const child = spawnTs(main, [], sandbox.env);
    try {
      // Staging: the shipped policy lets tier 2 run there at any hour.
      const request = requested('payments', {
        action: 'resize',
        playbook: 'resize',
        timeout_ms: 2_000,
        target: { service: 'payments', environment: 'staging' },
      });
      await publishRaw(sandbox, request.type, JSON.stringify(request));
      await waitFor('the action reaching the target', async () => target.calls.some((c) => c.operation === 'resize'));
      child.kill('SIGKILL');
      await exited(child);
      target.state.replicas = 0; // what the half-done action left behind

      survivor = (await startService(actionExecutor, sandbox.env)) as RunningService<Database, unknown>;
      const events = await waitFor('the rollback by the surviving instance', async () => {
        const all = (await readStream(sandbox, 'GRACE_ACTIONS')).map((m) => m.data as GraceEvent);
        return all.some((e) => e.type === 'contract.rolled_back') ? all : undefined;
      });
      const executed = events.find((e) => e.type === 'action.executed') as GraceEvent<'action.executed'>;
      expect(executed.data.result).toBe('failed');
      expect(executed.data.error).toContain('interrupted');
      const rolledBack = events.find((e) => e.type === 'contract.rolled_back') as GraceEvent<'contract.rolled_back'>;
      expect(rolledBack.data).toMatchObject({ trigger: 'failed', restored_state: { replicas: 3 } });
      expect(target.state).toEqual({ replicas: 3 });
      expect(target.calls.filter((c) => c.operation === 'resize')).toHaveLength(1);

      const msg = await sandbox.nc.request(
        `${sandbox.namespace}.executor.query.contract`,
        JSON.stringify({ action_id: request.data.action_id }),
        // The default 1 s is too short on a loaded 2-core CI machine (a restarted executor answering its first query).
        { timeout: 10_000 },
      );
      const reply = msg.json<{ data: QueryReply<'executor.query.contract'> }>().data;
      expect(reply.contract.status).toBe('rolled_back');
      expect(reply.audit.map((e) => e.step)).toEqual(CUT_SHORT_AND_ROLLED_BACK);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
