import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { GraceEvent, QueryReply } from '@grace/contracts';
import { startService, type RunningService } from '@grace/service-kit';
import { count, createSandbox, publishRaw, waitFor, type Sandbox } from '@grace/service-kit/testing';
import { cubeEtl } from '../src/service.js';
import type { Database } from '../src/store.js';
import { actionEvents, at, DAY, history, incident } from './history.js';

describe('cube-etl', () => {
  let sandbox: Sandbox;
  let service: RunningService<Database, unknown> | undefined;
  const events = history();

  beforeAll(async () => {
    // The interval ETL stays out of the way: the tests run it on demand.
    sandbox = await createSandbox('cube', { ETL_INTERVAL_MS: '3600000', ETL_BATCH_SIZE: '7', STAGING_BATCH: '4' });
    service = (await startService(cubeEtl, sandbox.env)) as RunningService<Database, unknown>;
  });

  afterAll(async () => {
    await service?.stop();
    await sandbox?.cleanup();
  });

  const ask = async <T>(subject: string, body: unknown): Promise<T> => {
    const msg = await sandbox.nc.request(`${sandbox.namespace}.${subject}`, JSON.stringify(body), { timeout: 10_000 });
    const response = msg.json<{ ok: boolean; data: T; error?: unknown }>();
    if (!response.ok) throw new Error(JSON.stringify(response.error));
    return response.data;
  };
  const land = async (list: GraceEvent[], total: number) => {
    for (const e of list) await publishRaw(sandbox, e.type, JSON.stringify(e), `${e.id}-${Math.random()}`);
    await waitFor(`${total} staged events`, async () => (await count(sandbox, 'staged_events')) === total);
  };
  const etl = (rebuild = false) => ask<QueryReply<'cube.etl.run'>>('cube.etl.run', rebuild ? { rebuild: true } : {});
  const day = { from: at('00:00'), to: `2026-11-21T00:00:00.000Z` };
  const hours = { from: at('10:00'), to: at('12:00'), bucket: 'hour' as const };

  /** Every number the four queries give for the scripted day. */
  async function cubeNumbers() {
    return {
      successByPlaybook: await ask<QueryReply<'cube.query.success_rate'>>('cube.query.success_rate', {
        ...day,
        bucket: 'day',
      }),
      successByHour: await ask<QueryReply<'cube.query.success_rate'>>('cube.query.success_rate', {
        ...hours,
        playbook: 'restart_service',
      }),
      mttr: await ask<QueryReply<'cube.query.mttr'>>('cube.query.mttr', hours),
      trends: await ask<QueryReply<'cube.query.error_trends'>>('cube.query.error_trends', hours),
      rollbackDrift: await ask<QueryReply<'cube.query.rollback_drift'>>('cube.query.rollback_drift', {
        ...day,
        bucket: 'day',
      }),
    };
  }

  it('lands every event once and turns a scripted history into exact numbers', async () => {
    await land(events, events.length);
    // Redelivered copies (new message ids, same event ids) land nothing new.
    await land(events.slice(0, 5), events.length);
    const run = await etl();
    expect(run).toMatchObject({ status: 'succeeded', rows_read: events.length, watermark_from: 0 });
    // Small batches (whole landed batches of up to 4 events, up to 7 events per run): an action touched by several
    // batches is recomputed by each, and stored once.
    expect(run.rows_written.fact_actions).toBeGreaterThanOrEqual(7);
    expect(await count(sandbox, 'fact_actions')).toBe(7);
    expect(await count(sandbox, 'fact_incidents')).toBe(4);
    const runs = await sandbox.pool.query<{ runs: number; most: number; read: number }>(
      `select count(*)::int as runs, max(rows_read) as most, sum(rows_read)::int as read
       from "${sandbox.schema}".etl_runs`,
    );
    expect(runs.rows[0]!.runs).toBeGreaterThanOrEqual(Math.ceil(events.length / 7));
    expect(runs.rows[0]!.most).toBeLessThanOrEqual(7);
    expect(runs.rows[0]!.read).toBe(events.length);

    const n = await cubeNumbers();
    const dayStart = `${DAY}T00:00:00.000Z`;
    expect(n.successByPlaybook.rows).toEqual([
      { bucket_start: dayStart, group: 'clear_cache', executed: 1, verified: 0, success_rate: 0 },
      { bucket_start: dayStart, group: 'restart_service', executed: 3, verified: 2, success_rate: 2 / 3 },
      { bucket_start: dayStart, group: 'rollback_image', executed: 1, verified: 1, success_rate: 1 },
    ]);
    expect(n.successByHour.rows).toEqual([
      { bucket_start: at('10:00'), group: 'restart_service', executed: 2, verified: 1, success_rate: 0.5 },
      { bucket_start: at('11:00'), group: 'restart_service', executed: 1, verified: 1, success_rate: 1 },
    ]);
    expect(n.mttr.rows).toEqual([
      {
        bucket_start: at('10:00'),
        service: 'checkout',
        environment: 'production',
        resolved: 2,
        mean_ms: 900_000,
        p50_ms: 900_000,
        p90_ms: 1_140_000,
      },
      {
        bucket_start: at('11:00'),
        service: 'checkout',
        environment: 'production',
        resolved: 1,
        mean_ms: 1_800_000,
        p50_ms: 1_800_000,
        p90_ms: 1_800_000,
      },
    ]);
    expect(n.trends.rows).toEqual([
      {
        bucket_start: at('10:00'),
        fingerprint: 'fp-cache',
        kind: 'CacheMiss',
        category: 'cache',
        occurrences: 3,
        previous_week_occurrences: 0,
      },
      {
        bucket_start: at('10:00'),
        fingerprint: 'fp-db',
        kind: 'ConnectionRefused',
        category: 'database',
        occurrences: 12,
        previous_week_occurrences: 6,
        week_over_week_change: 1,
      },
      {
        bucket_start: at('11:00'),
        fingerprint: 'fp-db',
        kind: 'ConnectionRefused',
        category: 'database',
        occurrences: 8,
        previous_week_occurrences: 0,
      },
    ]);
    expect(n.rollbackDrift.rows).toEqual([
      {
        bucket_start: dayStart,
        tier: 1,
        adapter: 'nats',
        executed: 1,
        rolled_back: 0,
        drifted: 0,
        rollback_rate: 0,
        drift_rate: 0,
      },
      {
        bucket_start: dayStart,
        tier: 2,
        adapter: 'kubernetes',
        executed: 3,
        rolled_back: 1,
        drifted: 1,
        rollback_rate: 1 / 3,
        drift_rate: 1 / 3,
      },
      {
        bucket_start: dayStart,
        tier: 3,
        adapter: 'kubernetes',
        executed: 1,
        rolled_back: 0,
        drifted: 0,
        rollback_rate: 0,
        drift_rate: 0,
      },
    ]);
    expect(n.rollbackDrift.worst_playbooks.map((p) => p.playbook)).toEqual([
      'restart_service',
      'clear_cache',
      'rollback_image',
    ]);
    const approved = await sandbox.pool.query(
      `select approvals_needed, approvals_received, approval_wait_ms::int from "${sandbox.schema}".fact_actions
       where approvals_needed > 0`,
    );
    expect(approved.rows).toEqual([{ approvals_needed: 2, approvals_received: 2, approval_wait_ms: 300_000 }]);
  });

  it('folds late and out-of-order events in on the next run', async () => {
    // A restart in hour 10 whose verdict arrives before its request and execution, all after the run.
    const late = actionEvents({
      key: '8',
      playbook: 'restart_service',
      adapter: 'kubernetes',
      tier: 2,
      service: 'checkout',
      environment: 'production',
      requestedAt: at('10:20'),
      executed: { startedAt: at('10:20'), finishedAt: at('10:21'), result: 'succeeded' },
      verdict: { verdict: 'verified', at: at('10:22'), confidence: 1 },
    });
    const verdictFirst = [late[2]!, late[0]!, late[1]!];
    const restartsInHour10 = async () =>
      (
        await ask<QueryReply<'cube.query.success_rate'>>('cube.query.success_rate', {
          ...hours,
          playbook: 'restart_service',
        })
      ).rows[0];
    expect(await restartsInHour10()).toMatchObject({ executed: 2, verified: 1 });
    // The verdict lands first (it names the plan and what the executor reported): the numbers change at once.
    await land(verdictFirst.slice(0, 1), events.length + 1);
    expect((await etl()).status).toBe('succeeded');
    expect(await restartsInHour10()).toMatchObject({ executed: 3, verified: 2 });
    // The request and the execution land later: the action's row is completed, counted once.
    await land(verdictFirst.slice(1), events.length + 3);
    await etl();
    expect(await restartsInHour10()).toMatchObject({ bucket_start: at('10:00'), executed: 3, verified: 2 });
    const { rows } = await sandbox.pool.query(
      `select requested_at, executed_at, minute from "${sandbox.schema}".fact_actions where action_id = $1`,
      [(late[0] as GraceEvent<'action.requested'>).data.action_id],
    );
    expect(rows[0]).toEqual({
      requested_at: new Date(at('10:20')),
      executed_at: new Date(at('10:21')),
      minute: new Date(at('10:21')),
    });
  });

  it('gives the same cube when the whole history is replayed', async () => {
    const before = await cubeNumbers();
    // Published again: every event is already staged, nothing changes.
    await land(events, events.length + 3);
    await etl();
    expect(await cubeNumbers()).toEqual(before);
    // Rebuilt from scratch from everything staged.
    const rebuilt = await etl(true);
    expect(rebuilt.rows_read).toBe(events.length + 3);
    expect(await cubeNumbers()).toEqual(before);
    const { rows } = await sandbox.pool.query(
      `select count(*)::int as runs, count(*) filter (where status = 'succeeded')::int as ok
       from "${sandbox.schema}".etl_runs`,
    );
    expect(rows[0]).toEqual({ runs: expect.any(Number), ok: (rows[0] as { runs: number }).runs });
  });

  it('refuses a range it cannot answer, with the reason', async () => {
    await expect(ask('cube.query.mttr', { from: at('12:00'), to: at('10:00'), bucket: 'hour' })).rejects.toThrow(
      /invalid_request/,
    );
    await expect(ask('cube.query.error_trends', { ...hours, bucket: 'minute' })).rejects.toThrow(/invalid_request/);
  });

  it('tells incidents their source resolved from remediated ones, an escalation its source ended later too', async () => {
    // The next day: an Alertmanager group's incident, escalated at 10:10 and resolved by its source at 10:30.
    const next = '2026-11-21';
    const where = {
      service: 'queue',
      environment: 'production',
      fingerprint: 'alertmanager-group:q',
      kind: 'QueueBacklog',
      category: 'capacity',
    };
    const opened = at('10:00', next);
    const script = [
      incident('i9', 'incident.opened', { opened, changed: opened }, where),
      incident('i9', 'incident.escalated', { opened, changed: at('10:10', next) }, where),
      incident('i9', 'incident.resolved', { opened, changed: at('10:30', next) }, where, {
        previous_status: 'escalated',
        resolved_by: 'source',
      }),
    ];
    await land(script, (await count(sandbox, 'staged_events')) + script.length);
    expect((await etl()).status).toBe('succeeded');
    const { rows } = await sandbox.pool.query(
      `select status, resolved_by, escalated, closed_at, time_to_resolve_ms from "${sandbox.schema}".fact_incidents
       where incident_id = $1`,
      [(script[0] as GraceEvent<'incident.opened'>).data.incident_id],
    );
    expect(rows).toEqual([
      {
        status: 'resolved',
        resolved_by: 'source',
        escalated: true,
        closed_at: new Date(at('10:30', next)),
        time_to_resolve_ms: '1800000',
      },
    ]);
    const mttr = (resolvedBy?: 'contract' | 'source') =>
      ask<QueryReply<'cube.query.mttr'>>('cube.query.mttr', {
        from: `${DAY}T00:00:00.000Z`,
        to: `${next}T23:59:00.000Z`,
        bucket: 'day',
        ...(resolvedBy ? { resolved_by: resolvedBy } : {}),
      });
    expect((await mttr('source')).rows).toEqual([
      expect.objectContaining({ bucket_start: `${next}T00:00:00.000Z`, service: 'queue', resolved: 1 }),
    ]);
    const remediated = (await mttr('contract')).rows;
    expect(remediated.length).toBeGreaterThan(0);
    expect(remediated.some((r) => r.service === 'queue')).toBe(false);
    expect((await mttr()).rows).toHaveLength(remediated.length + 1);
  });
});
