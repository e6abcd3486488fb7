import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createEvent, type GraceEvent } from '@grace/contracts';
import { startService, type RunningService } from '@grace/service-kit';
import { count, createSandbox, exited, spawnTs, waitFor, type Sandbox } from '@grace/service-kit/testing';
import { jetstream } from '@nats-io/jetstream';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { cubeEtl } from '../src/service.js';
import type { Database } from '../src/store.js';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const ERRORS = 6_000;

function capture(i: number): GraceEvent<'error.captured'> {
  const at = new Date(Date.UTC(2026, 10, 20, 10, i % 60)).toISOString();
  return createEvent(
    'error.captured',
    {
      capture_id: randomUUID(),
      fingerprint: `fp-${i}`,
      service: `svc-${i % 20}`,
      environment: 'production',
      kind: 'Timeout',
      message: 'upstream timed out',
      severity: 'error',
      first_seen: at,
      last_seen: at,
      count: 1 + (i % 5),
      total_count: 1 + (i % 5),
      update: false,
      storm: false,
      reported_event_id: randomUUID(),
      security_flags: [],
    },
    { source: 'test/trigger-mesh' },
  );
}

describe('cube-etl killed mid-batch', () => {
  let sandbox: Sandbox;
  let survivor: RunningService<Database, unknown> | undefined;

  beforeAll(async () => {
    // One batch for everything, so the kill lands inside it.
    sandbox = await createSandbox('cubecrash', { ETL_INTERVAL_MS: '3600000', ETL_BATCH_SIZE: '100000' });
  });

  afterAll(async () => {
    await survivor?.stop();
    await sandbox?.cleanup();
  });

  it('leaves the previous state intact, and the next run completes the batch', async () => {
    const appName = `cube-etl:${sandbox.schema}`;
    const events = Array.from({ length: ERRORS }, (_, i) => capture(i));
    const child = spawnTs(main, [], { ...sandbox.env, LOG_LEVEL: 'info' });
    try {
      await waitFor('cube-etl to start', async () => child.output().includes('"msg":"cube-etl started"'), 60_000);
      const js = jetstream(sandbox.nc);
      for (let i = 0; i < events.length; i += 500)
        await Promise.all(
          events
            .slice(i, i + 500)
            .map((e) => js.publish(`${sandbox.namespace}.error.captured`, JSON.stringify(e), { msgID: e.id })),
        );
      await waitFor('everything staged', async () => (await count(sandbox, 'staged_events')) === ERRORS, 60_000);

      // Ask for a run and kill the process while its batch transaction is open.
      sandbox.nc.request(`${sandbox.namespace}.cube.etl.run`, '{}', { timeout: 60_000 }).catch(() => undefined);
      await waitFor(
        'the ETL batch in flight',
        async () => {
          const { rows } = await sandbox.pool.query(
            `select 1 from pg_locks l join pg_stat_activity a on a.pid = l.pid
             where l.locktype = 'advisory' and a.application_name = $1 and a.backend_xid is not null`,
            [appName],
          );
          return rows.length > 0;
        },
        30_000,
      );
      child.kill('SIGKILL');
      await exited(child);
    } finally {
      child.kill('SIGKILL');
    }
    await waitFor('the killed backend gone', async () => {
      const { rows } = await sandbox.pool.query(
        `select 1 from pg_stat_activity where application_name = $1 and backend_xid is not null`,
        [appName],
      );
      return rows.length === 0;
    });
    expect(await count(sandbox, 'fact_errors')).toBe(0);
    expect(await count(sandbox, 'etl_runs')).toBe(0);
    expect(await count(sandbox, 'staged_events', 'etl_run_id is null')).toBe(ERRORS);

    survivor = (await startService(cubeEtl, sandbox.env)) as RunningService<Database, unknown>;
    const msg = await sandbox.nc.request(`${sandbox.namespace}.cube.etl.run`, '{}', { timeout: 60_000 });
    const run = msg.json<{ ok: boolean; data: { status: string; rows_read: number } }>();
    expect(run.data).toMatchObject({ status: 'succeeded', rows_read: ERRORS });
    expect(await count(sandbox, 'fact_errors')).toBe(ERRORS);
    const { rows } = await sandbox.pool.query(`select sum(occurrences)::int as n from "${sandbox.schema}".fact_errors`);
    expect((rows[0] as { n: number }).n).toBe(events.reduce((n, e) => n + e.data.count, 0));
  }, 120_000);
});
