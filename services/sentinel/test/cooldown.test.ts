import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { GraceEvent } from '@grace/contracts';
import { startService, type RunningService } from '@grace/service-kit';
import { createSandbox, publishRaw, readStream, waitFor, type Sandbox } from '@grace/service-kit/testing';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sentinel } from '../src/service.js';
import type { Database } from '../src/store.js';
import { captured, TEST_CATALOG } from './support.js';

// Two playbooks for TestFailure, each cooling down for an hour on the target it ran on.
const COOLING_CATALOG = TEST_CATALOG.replace(/ {2}- name: charlie[\s\S]*$/, '').replaceAll(
  'cooldown: 0s',
  'cooldown: 1h',
);

describe('sentinel cooldowns', () => {
  let sandbox: Sandbox;
  let service: RunningService<Database, unknown>;
  const dir = mkdtempSync(join(tmpdir(), 'grace-cooldown-'));

  beforeAll(async () => {
    const file = join(dir, 'playbooks.yaml');
    writeFileSync(file, COOLING_CATALOG);
    sandbox = await createSandbox('sncool', { PLAYBOOKS_FILE: file });
    service = (await startService(sentinel, sandbox.env)) as RunningService<Database, unknown>;
  });

  afterAll(async () => {
    await service?.stop();
    await sandbox.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const incidentEvents = async () =>
    (await readStream(sandbox, 'GRACE_INCIDENTS')).map((m) => m.data as GraceEvent<'incident.escalated'>);

  it('does not run a playbook again on a target inside its cooldown, and escalates when every one is cooling down', async () => {
    const chosen: string[] = [];
    for (let i = 0; i < 2; i++) {
      const capture = captured({ service: 'billing' });
      await publishRaw(sandbox, 'error.captured', JSON.stringify(capture));
      const request = await waitFor(`incident ${i + 1}'s request`, async () =>
        (await readStream(sandbox, 'GRACE_ACTIONS'))
          .map((m) => m.data as GraceEvent<'action.requested'>)
          .find((e) => e.data.fingerprint === capture.data.fingerprint),
      );
      chosen.push(request.data.playbook);
    }
    expect([...chosen].sort()).toEqual(['alpha', 'bravo']);

    const third = captured({ service: 'billing' });
    await publishRaw(sandbox, 'error.captured', JSON.stringify(third));
    const escalated = await waitFor('the escalation', async () =>
      (await incidentEvents()).find(
        (e) => e.type === 'incident.escalated' && e.data.fingerprint === third.data.fingerprint,
      ),
    );
    expect(escalated.data.reason).toContain('every applicable playbook was tried or is cooling down');
    // Another service is another target: its cooldowns are its own.
    const elsewhere = captured({ service: 'shipping' });
    await publishRaw(sandbox, 'error.captured', JSON.stringify(elsewhere));
    await waitFor('a request for the other service', async () =>
      (await readStream(sandbox, 'GRACE_ACTIONS')).find(
        (m) => (m.data as GraceEvent<'action.requested'>).data.fingerprint === elsewhere.data.fingerprint,
      ),
    );
  });
});
