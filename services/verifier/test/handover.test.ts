// A verification that needs nothing outside the process (state checks only, or an action that did not succeed)
// is queued leased to the verifier that took its action.executed and judged by it at once: no claim, so two
// writes of its row (queued, judged) instead of three; one with a network check still goes through the claim.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startService, type RunningService } from '@grace/service-kit';
import { count, createSandbox, publishRaw, tableWrites, waitFor, type Sandbox } from '@grace/service-kit/testing';
import { verifier } from '../src/service.js';
import type { Database } from '../src/store.js';
import { executed } from './events.js';

describe('verifier hand-over', () => {
  let sandbox: Sandbox;
  let service: RunningService<Database, unknown> | undefined;

  beforeAll(async () => {
    // An idle poll this slow cannot be what finds the work.
    sandbox = await createSandbox('vhandover', { WORK_POLL_MS: '600000' });
    service = (await startService(verifier, sandbox.env)) as RunningService<Database, unknown>;
  });

  afterAll(async () => {
    await service?.stop();
    await sandbox?.cleanup();
  });

  it('judges a local verification without claiming it, and claims one that needs the network', async () => {
    const local = [
      ...Array.from({ length: 8 }, () => executed()),
      executed({ result: 'failed', error: 'the target refused' }),
      executed({ checks: [] }),
    ];
    // An http check on a port nothing listens on: judged (an error), but not locally.
    const remote = executed({
      checks: [{ kind: 'http', name: 'health', url: 'http://127.0.0.1:9/health', expect_status: 200 }],
    });
    for (const e of [...local, remote]) await publishRaw(sandbox, e.type, JSON.stringify(e), e.id);
    await waitFor(
      'every verdict',
      async () => (await count(sandbox, 'verifications', `status = 'done'`)) === 11,
      20_000,
    );
    await service!.stop();
    service = undefined;
    const writes = await waitFor(
      'the table counters',
      async () => {
        const all = await tableWrites(sandbox);
        // 10 local: inserted and completed; 1 remote: inserted, claimed and completed.
        return all.verifications === 2 * local.length + 3 ? all : undefined;
      },
      20_000,
    );
    expect(writes.verifications).toBe(23);
    const verdicts = await sandbox.pool.query<{ verdict: string; n: number }>(
      `select verdict, count(*)::int as n from "${sandbox.schema}".verifications group by verdict order by verdict`,
    );
    expect(verdicts.rows).toEqual([
      { verdict: 'failed', n: 2 },
      { verdict: 'verified', n: 9 },
    ]);
  });
});
