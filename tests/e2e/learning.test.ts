import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { GraceEvent } from '@grace/contracts';
import { createSandbox, publishRaw, readStream, waitFor, type Sandbox } from '@grace/service-kit/testing';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTarget, type TargetSystem } from '../../services/action-executor/test/support.js';
import { captured } from '../../services/sentinel/test/support.js';
import { startSystem, type RunningSystem } from './system.js';

// Two playbooks for the same errors: alpha's action leaves the target broken, bravo's fixes it.
const CATALOG = `
version: 1
playbooks:
${['alpha', 'bravo']
  .map(
    (name) => `  - name: ${name}
    applies_to: { kind: [PoolExhausted] }
    adapter: nats
    action: ${name}_fix
    tier: 1
    expected_effect: { target_state: { healthy: true }, error_rate_ceiling: 1 }
    checks:
      - { kind: state, name: healthy }
    timeout_ms: 5000
    cooldown: 0s`,
  )
  .join('\n')}
`;

describe('remediation learns (sentinel, executor, verifier and learning loop as processes)', () => {
  let sandbox: Sandbox;
  let system: RunningSystem | undefined;
  let target: TargetSystem;
  const dir = mkdtempSync(join(tmpdir(), 'grace-e2e-'));

  beforeAll(async () => {
    const catalog = join(dir, 'playbooks.yaml');
    writeFileSync(catalog, CATALOG);
    sandbox = await createSandbox('e2elearn');
    target = startTarget(
      sandbox.nc,
      sandbox.namespace,
      'checkout',
      { healthy: false },
      {
        alpha_fix: () => undefined,
        bravo_fix: (state) => {
          state.healthy = true;
        },
      },
    );
    system = await startSystem(sandbox, ['sentinel', 'action-executor', 'verifier', 'learning-loop'], {
      sentinel: { PLAYBOOKS_FILE: catalog, THOMPSON_SEED: '11' },
      'action-executor': { WORK_POLL_MS: '50' },
      verifier: { WORK_POLL_MS: '50' },
      'learning-loop': { PUBLISH_INTERVAL_MS: '50' },
    });
  }, 90_000);

  afterAll(async () => {
    if (system) {
      expect(Object.values(await system.stop())).toEqual([0, 0, 0, 0]);
      await system.dropSchemas();
    }
    await target?.stop();
    await sandbox?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("after alpha fails and bravo succeeds for a signature, the sentinel's first choice is bravo", async () => {
    const firstChoices: string[] = [];
    for (let i = 0; i < 16; i++) {
      target.state.healthy = false;
      const capture = captured({
        fingerprint: `fp-pool-${i}`,
        kind: 'PoolExhausted',
        message: 'no database connection available',
      });
      await publishRaw(sandbox, capture.type, JSON.stringify(capture));
      const resolved = await waitFor(
        `incident ${i} resolved`,
        async () =>
          (await readStream(sandbox, 'GRACE_INCIDENTS'))
            .map((m) => m.data as GraceEvent<'incident.resolved'>)
            .find((e) => e.type === 'incident.resolved' && e.correlationid === capture.correlationid),
        30_000,
      );
      const requests = (await readStream(sandbox, 'GRACE_ACTIONS'))
        .map((m) => m.data as GraceEvent<'action.requested'>)
        .filter((e) => e.type === 'action.requested' && e.data.incident_id === resolved.data.incident_id);
      firstChoices.push(requests.find((r) => r.data.attempt === 1)!.data.playbook);
      // Each incident ends with bravo's fix, whichever came first.
      expect(requests[requests.length - 1]!.data.playbook).toBe('bravo');
    }
    // The learning loop's statistics reached the sentinel: the last choices are bravo's.
    expect(firstChoices.slice(-6)).toEqual(Array(6).fill('bravo'));
    expect(firstChoices).toContain('alpha');
  }, 120_000);
});
