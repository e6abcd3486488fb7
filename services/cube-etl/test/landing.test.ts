import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { GraceEvent, QueryReply } from '@grace/contracts';
import { startService, type RunningService } from '@grace/service-kit';
import { count, createSandbox, publishRaw, waitFor, type Sandbox } from '@grace/service-kit/testing';
import { cubeEtl } from '../src/service.js';
import type { Database } from '../src/store.js';
import { actionEvents, at, capture } from './history.js';

const REMEDIATIONS = 50;

/** 200 events: per remediation an error captured, its action requested and executed, and the verdict. */
function remediations(): GraceEvent[] {
  const events: GraceEvent[] = [];
  for (let i = 0; i < REMEDIATIONS; i++) {
    const minute = String(i).padStart(2, '0');
    events.push(
      capture(
        `fp-land-${i}`,
        'checkout',
        'production',
        'Timeout',
        'network',
        at(`10:${minute}`),
        at(`10:${minute}`),
        1,
      ),
      ...actionEvents({
        key: `9${String(i).padStart(3, '0')}`,
        playbook: 'restart_service',
        adapter: 'kubernetes',
        tier: 2,
        service: 'checkout',
        environment: 'production',
        requestedAt: at(`11:${minute}`),
        executed: { startedAt: at(`11:${minute}`), finishedAt: at(`11:${minute}`), result: 'succeeded' },
        verdict: { verdict: 'verified', at: at(`11:${minute}`), confidence: 1 },
      }),
    );
  }
  return events;
}

describe('cube-etl landing', () => {
  let sandbox: Sandbox;
  let service: RunningService<Database, unknown> | undefined;
  const events = remediations();

  beforeAll(async () => {
    sandbox = await createSandbox('cubeland', { ETL_INTERVAL_MS: '3600000' });
    service = (await startService(cubeEtl, sandbox.env)) as RunningService<Database, unknown>;
  });

  afterAll(async () => {
    await service?.stop();
    await sandbox?.cleanup();
  });

  const publish = (list: GraceEvent[]) =>
    Promise.all(list.map((e) => publishRaw(sandbox, e.type, JSON.stringify(e), `${e.id}-${Math.random()}`)));
  const landed = async () => {
    const { rows } = await sandbox.pool.query<{ n: number }>(
      `select coalesce(sum(event_count), 0)::int as n from "${sandbox.schema}".staged_batches`,
    );
    return rows[0]!.n;
  };
  const etl = async () => {
    const msg = await sandbox.nc.request(`${sandbox.namespace}.cube.etl.run`, '{}', { timeout: 30_000 });
    return msg.json<{ ok: boolean; data: QueryReply<'cube.etl.run'> }>().data;
  };
  /** Every fact the 200 events make, and what they add up to. */
  const cube = async () => {
    const { rows } = await sandbox.pool.query(
      `select (select count(*)::int from "${sandbox.schema}".fact_errors) as error_rows,
              (select sum(occurrences)::int from "${sandbox.schema}".fact_errors) as occurrences,
              (select count(*)::int from "${sandbox.schema}".fact_actions) as actions,
              (select count(*)::int from "${sandbox.schema}".fact_actions where verified_at is not null) as verified,
              (select sum(executed)::int from "${sandbox.schema}".agg_actions_daily) as executed,
              (select sum(occurrences)::int from "${sandbox.schema}".agg_errors_daily) as daily_occurrences`,
    );
    return rows[0] as Record<string, number>;
  };
  /** Rows in a table of the schema, and in its TOAST table (a value too large for its row is kept in chunks). */
  const rows = async (table: string) => {
    const { rows: found } = await sandbox.pool.query<{ toast: string }>(
      `select reltoastrelid::regclass::text as toast from pg_class where oid = $1::regclass`,
      [`"${sandbox.schema}".${table}`],
    );
    const toast = await sandbox.pool.query<{ n: number }>(`select count(*)::int as n from ${found[0]!.toast}`);
    return { rows: await count(sandbox, table), toast: toast.rows[0]!.n };
  };

  it('lands 200 events published together in a few rows, and counts each once however often it comes', async () => {
    const expected = {
      error_rows: 50,
      occurrences: 50,
      actions: 50,
      verified: 50,
      executed: 50,
      daily_occurrences: 50,
    };
    await publish(events);
    await waitFor('200 events landed', async () => (await landed()) === events.length);
    // Landing only inserts: one staged row and one inbox row per handled batch, nothing in TOAST.
    const staged = await rows('staged_batches');
    const inbox = await rows('inbox');
    expect([staged.toast, inbox.toast]).toEqual([0, 0]);
    const total = staged.rows + inbox.rows;
    expect(staged.rows).toBe(inbox.rows);
    expect(total).toBeLessThanOrEqual(events.length / 10);
    expect(await count(sandbox, 'staged_events')).toBe(events.length);

    const run = await etl();
    expect(run).toMatchObject({ status: 'succeeded', rows_read: events.length });
    expect(await cube()).toEqual(expected);
    // Marking what was transformed: one row per landed batch.
    expect(await count(sandbox, 'staged_batches', 'etl_run_id is null')).toBe(0);

    // Published again (new message ids, same event ids): the inbox drops them, nothing lands.
    await publish(events.slice(0, 60));
    await publish(events.slice(100, 140));
    await waitFor('the re-published events acknowledged', async () => (await unacknowledged()) === 0);
    expect(await landed()).toBe(events.length);
    expect(await count(sandbox, 'inbox')).toBe(inbox.rows);

    // Once the inbox has forgotten them (pruned after its retention), a re-publish lands again: the ETL still
    // reads each event id once, so the cube does not change.
    await sandbox.pool.query(`delete from "${sandbox.schema}".inbox`);
    await publish(events.slice(0, 40));
    await waitFor('the late re-publish landed', async () => (await landed()) === events.length + 40);
    expect(await count(sandbox, 'staged_events')).toBe(events.length);
    await etl();
    expect(await cube()).toEqual(expected);
  }, 60_000);

  /** Messages the landing consumers have not acknowledged yet (delivered or not). */
  async function unacknowledged(): Promise<number> {
    let n = 0;
    for (const runner of service!.consumers) {
      const info = await runner.info();
      n += info.pending + info.ackPending;
    }
    return n;
  }
});
