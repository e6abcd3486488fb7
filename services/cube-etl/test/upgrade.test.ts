import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { GraceEvent } from '@grace/contracts';
import { createDb, runMigrations } from '@grace/service-kit';
import { count, createSandbox, type Sandbox } from '@grace/service-kit/testing';
import type { Kysely } from 'kysely';
import { randomUUID } from 'node:crypto';
import { resetCube, runEtl } from '../src/etl.js';
import { migrations } from '../src/migrations/index.js';
import type { Database } from '../src/store.js';
import { history } from './history.js';

describe('cube-etl upgrade to landed batches', () => {
  let sandbox: Sandbox;
  let db: Kysely<unknown>;
  let end: () => Promise<void>;

  beforeAll(async () => {
    sandbox = await createSandbox('cubeupgrade');
    const created = createDb<unknown>({
      url: sandbox.env.DATABASE_URL!,
      schema: sandbox.schema,
      poolMax: 1,
      statementTimeoutMs: 30_000,
      applicationName: 'cube-etl-upgrade-test',
    });
    db = created.db;
    end = () => created.pool.end();
  });

  afterAll(async () => {
    await end?.();
    await sandbox?.cleanup();
  });

  it('moves every staged event over, transformed or not, and the ETL goes on from there', async () => {
    const { '0001_init': init, '0002_daily_rollups': rollups } = migrations;
    await runMigrations(db, sandbox.schema, { '0001_init': init!, '0002_daily_rollups': rollups! });
    const events: GraceEvent[] = history();
    const s = `"${sandbox.schema}"`;
    // Staged one row per event as before: the first 15 transformed by two runs, the rest not yet.
    const runs = [randomUUID(), randomUUID()];
    for (const [i, e] of events.entries()) {
      const data = e.data as Record<string, unknown>;
      await sandbox.pool.query(
        `insert into ${s}.staged_events (event_id, type, event_time, event, action_id, incident_id, fingerprint,
                                         staged_at, etl_run_id)
         values ($1, $2, $3, $4, $5, $6, $7, now(), $8)`,
        [
          e.id,
          e.type,
          e.time,
          JSON.stringify(e),
          /^(action|approval|contract)\./.test(e.type) ? data.action_id : null,
          e.type.startsWith('incident.') ? data.incident_id : null,
          e.type === 'error.captured' ? data.fingerprint : null,
          i < 10 ? runs[0] : i < 15 ? runs[1] : null,
        ],
      );
    }
    const pending = events.length - 15;
    expect(pending).toBeGreaterThan(0);

    await runMigrations(db, sandbox.schema, migrations);
    const { rows } = await sandbox.pool.query<{ etl_run_id: string | null; events: number; batches: number }>(
      `select etl_run_id, sum(event_count)::int as events, count(*)::int as batches
       from ${s}.staged_batches group by etl_run_id order by min(id)`,
    );
    expect(rows).toEqual([
      { etl_run_id: runs[0], events: 10, batches: 1 },
      { etl_run_id: runs[1], events: 5, batches: 1 },
      { etl_run_id: null, events: pending, batches: Math.ceil(pending / 64) },
    ]);
    // Every event once, in its order, with the keys it was staged by.
    const staged = await sandbox.pool.query<{ event_id: string; action_id: string | null }>(
      `select event_id, action_id from ${s}.staged_events order by batch_id, position`,
    );
    expect(staged.rows.map((r) => r.event_id)).toEqual(events.map((e) => e.id));
    const keys = await sandbox.pool.query<{ missing: number }>(
      `select count(*)::int as missing from ${s}.staged_events v join ${s}.staged_batches b on b.id = v.batch_id
       where (v.action_id is not null and not v.action_id = any(b.action_ids))
          or (v.incident_id is not null and not v.incident_id = any(b.incident_ids))
          or (v.fingerprint is not null and not v.fingerprint = any(b.fingerprints))`,
    );
    expect(keys.rows[0]!.missing).toBe(0);

    // What was not transformed before the upgrade is transformed now; facts are recomputed from everything moved.
    const run = await runEtl(db as Kysely<Database>, 5_000);
    expect(run).toMatchObject({ status: 'succeeded', rows_read: pending });
    expect(await count(sandbox, 'staged_batches', 'etl_run_id is null')).toBe(0);
    // A replay from the moved events gives the whole scripted cube (cube.test.ts): 7 actions, 4 incidents.
    await resetCube(db as Kysely<Database>);
    expect(await runEtl(db as Kysely<Database>, 5_000)).toMatchObject({
      status: 'succeeded',
      rows_read: events.length,
    });
    expect(await count(sandbox, 'fact_actions')).toBe(7);
    expect(await count(sandbox, 'fact_incidents')).toBe(4);
  });
});
