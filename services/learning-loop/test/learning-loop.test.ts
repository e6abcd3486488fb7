import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createEvent, type EventData, type GraceEvent, type QueryReply } from '@grace/contracts';
import { createDb, startService, type RunningService } from '@grace/service-kit';
import {
  count,
  createSandbox,
  DATABASE_URL,
  publishRaw,
  readStream,
  waitFor,
  type Sandbox,
} from '@grace/service-kit/testing';
import type { Kysely } from 'kysely';
import { randomUUID } from 'node:crypto';
import { learningLoop } from '../src/service.js';
import { recountStatistics, type Database } from '../src/store.js';

const PLAYBOOKS = ['restart_service', 'clear_cache', 'scale_up', 'reconnect_database'];
const SIGNATURES = ['database:connectionrefused', 'memory:outofmemory'];
const VERDICTS = ['verified', 'verified', 'failed', 'drift', 'verified'] as const;

function verification(i: number): GraceEvent<'contract.verified'> {
  const now = new Date(Date.UTC(2026, 10, 26, 10, 0, i)).toISOString();
  return createEvent(
    'contract.verified',
    {
      verification_id: randomUUID(),
      contract_id: randomUUID(),
      action_id: `action-${i}`,
      incident_id: randomUUID(),
      // Every tenth action was asked for by an operator outside any incident: no signature.
      ...(i % 10 === 9 ? {} : { signature: SIGNATURES[i % 2]! }),
      playbook: PLAYBOOKS[i % 4]!,
      adapter: 'nats',
      action: PLAYBOOKS[i % 4]!,
      target: { service: `svc-${i % 3}`, environment: 'production' },
      tier: 2,
      attempt: 1,
      verdict: VERDICTS[i % 5]!,
      confidence: VERDICTS[i % 5] === 'verified' ? 1 : (i % 7) / 10,
      execution_result: i === 50 ? 'dry_run' : 'succeeded',
      reason: 'test',
      checks: [],
      execution_ms: 100 + i,
      executed_at: now,
      verified_at: now,
      time_to_verify_ms: 10 * i,
    },
    { source: 'test/verifier' },
  );
}

function rolledBack(v: GraceEvent<'contract.verified'>): GraceEvent<'contract.rolled_back'> {
  const d = v.data;
  return createEvent(
    'contract.rolled_back',
    {
      contract_id: d.contract_id,
      action_id: d.action_id,
      ...(d.signature ? { signature: d.signature } : {}),
      playbook: d.playbook,
      adapter: d.adapter,
      action: d.action,
      target: d.target,
      tier: d.tier,
      attempt: d.attempt,
      snapshot_id: randomUUID(),
      trigger: d.verdict === 'drift' ? 'drift' : 'failed',
      reason: 'test',
      restored_state: {},
      duration_ms: 5,
      rolled_back_at: d.verified_at,
    },
    { source: 'test/executor' },
  );
}

function denied(i: number): GraceEvent<'action.denied'> {
  return createEvent(
    'action.denied',
    {
      action_id: `denied-${i}`,
      signature: SIGNATURES[0]!,
      playbook: PLAYBOOKS[0]!,
      adapter: 'kubernetes',
      action: 'rollout_restart',
      target: { service: 'svc-0', environment: 'production' },
      tier: 2,
      attempt: 1,
      denied_by: 'constitution',
      rule: 'action-budget',
      reason: 'test',
      denied_at: new Date().toISOString(),
    },
    { source: 'test/executor' },
  );
}

describe('learning-loop', () => {
  let sandbox: Sandbox;
  let db: Kysely<Database>;
  const instances: RunningService<Database, unknown>[] = [];

  beforeAll(async () => {
    sandbox = await createSandbox('learning', { PUBLISH_INTERVAL_MS: '50' });
    for (let i = 0; i < 2; i++)
      instances.push((await startService(learningLoop, sandbox.env)) as RunningService<Database, unknown>);
    db = createDb<Database>({
      url: DATABASE_URL,
      schema: sandbox.schema,
      poolMax: 1,
      statementTimeoutMs: 10_000,
      applicationName: 'learning-loop-test',
    }).db;
  });

  afterAll(async () => {
    for (const s of instances) await s.stop();
    await db?.destroy();
    await sandbox?.cleanup();
  });

  const ask = async <T>(subject: string, body: unknown): Promise<T> => {
    const msg = await sandbox.nc.request(`${sandbox.namespace}.${subject}`, JSON.stringify(body), { timeout: 5_000 });
    const response = msg.json<{ ok: boolean; data: T; error?: unknown }>();
    if (!response.ok) throw new Error(JSON.stringify(response.error));
    return response.data;
  };

  it('keeps exactly 100 outcomes for 100 verdicts redelivered twice, with statistics equal to a recount', async () => {
    const verdicts = Array.from({ length: 100 }, (_, i) => verification(i));
    const rollbacks = verdicts.filter((v) => v.data.verdict !== 'verified').map(rolledBack);
    const denials = Array.from({ length: 5 }, (_, i) => denied(i));
    const everything: GraceEvent[] = [...verdicts, ...rollbacks, ...denials];
    // Each event three times: once, then twice more as redeliveries past JetStream's duplicate window (new message
    // ids); and every verdict once more as a re-emission with a new event id.
    for (let copy = 0; copy < 3; copy++) {
      await Promise.all(
        everything.map((e) => publishRaw(sandbox, e.type, JSON.stringify(e), copy === 0 ? e.id : `${e.id}-${copy}`)),
      );
    }
    await Promise.all(
      verdicts.map((v) => publishRaw(sandbox, v.type, JSON.stringify({ ...v, id: `${v.id}-re-emitted` }))),
    );
    await waitFor(
      'every event handled',
      async () =>
        (await count(sandbox, 'inbox cross join unnest(event_ids) as e', "consumer like '%contract_verified'")) ===
          200 &&
        (await count(sandbox, 'inbox cross join unnest(event_ids) as e', "consumer like '%rolled_back'")) ===
          rollbacks.length &&
        (await count(sandbox, 'inbox cross join unnest(event_ids) as e', "consumer like '%denied'")) === 5,
      30_000,
    );
    expect(await count(sandbox, 'outcomes', 'verdict is not null')).toBe(100);
    expect(await count(sandbox, 'outcomes')).toBe(105);

    const recount = await recountStatistics(db);
    const stored = await db
      .selectFrom('statistics')
      .select(['signature', 'playbook', 'executions', 'successes', 'failures', 'rollbacks', 'denials', 'alpha', 'beta'])
      .orderBy('playbook')
      .orderBy('signature')
      .execute();
    expect(stored.map(({ alpha: _a, beta: _b, ...counts }) => counts)).toEqual(recount);
    for (const row of stored) {
      expect(row.alpha).toBe(1 + row.successes);
      expect(row.beta).toBe(1 + row.failures);
    }
    const overall = stored.filter((s) => s.signature === '');
    // 100 verdicts less the dry run.
    expect(overall.reduce((n, s) => n + s.executions, 0)).toBe(99);
    expect(overall.reduce((n, s) => n + s.rollbacks, 0)).toBe(rollbacks.length);
  });

  it('publishes the changed statistics coalesced, the last event per key equal to the stored statistics', async () => {
    const events = await waitFor('every key published in its final state', async () => {
      const published = (await readStream(sandbox, 'GRACE_LEARNING')).map(
        (m) => (m.data as GraceEvent<'playbook.stats.updated'>).data,
      );
      const latest = new Map<string, EventData<'playbook.stats.updated'>>();
      for (const s of published) latest.set(`${s.signature ?? ''}|${s.playbook}`, s);
      const reply = await ask<QueryReply<'learning.query.stats'>>('learning.query.stats', { limit: 100 });
      const settled = reply.items.every(
        (s) => latest.get(`${s.signature ?? ''}|${s.playbook}`)?.executions === s.executions,
      );
      return settled && (await count(sandbox, 'statistics', 'dirty')) === 0 ? { published, reply } : undefined;
    });
    // 100 verdicts, their rollbacks and 5 denials changed 2 keys each (1 without a signature): far fewer events.
    expect(events.published.length).toBeLessThan(200);
    expect(events.reply.items).toHaveLength(8);
    const restart = events.reply.items.find((s) => s.playbook === 'restart_service' && !s.signature);
    expect(restart).toMatchObject({ denials: 5 });
    expect(restart?.mean_confidence).toBeGreaterThan(0);
  });

  it('ranks playbooks and pages outcomes newest first', async () => {
    const best = await ask<QueryReply<'learning.query.top'>>('learning.query.top', { order: 'best', limit: 2 });
    const worst = await ask<QueryReply<'learning.query.top'>>('learning.query.top', { order: 'worst', limit: 4 });
    expect(best.items.map((r) => r.rank)).toEqual([1, 2]);
    expect(best.items[0]!.posterior_mean).toBeGreaterThanOrEqual(worst.items[0]!.posterior_mean);
    expect(worst.items[0]!.posterior_mean).toBeLessThanOrEqual(worst.items[3]!.posterior_mean);
    expect(best.items.every((r) => r.statistics.signature === undefined)).toBe(true);

    const seen = new Set<string>();
    let cursor: string | undefined;
    do {
      const page: QueryReply<'learning.query.outcomes'> = await ask('learning.query.outcomes', {
        limit: 40,
        ...(cursor ? { cursor } : {}),
      });
      for (const o of page.items) seen.add(o.action_id);
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen.size).toBe(105);
    const drifts = await ask<QueryReply<'learning.query.outcomes'>>('learning.query.outcomes', {
      verdict: 'drift',
      limit: 100,
    });
    expect(drifts.items).toHaveLength(20);
    expect(drifts.items.every((o) => o.rolled_back)).toBe(true);
  });
});

describe('learning-loop cost', () => {
  let sandbox: Sandbox;
  let service: RunningService<Database, unknown>;

  beforeAll(async () => {
    // No publishing during the test: what is counted is recording the burst.
    sandbox = await createSandbox('learncost', { PUBLISH_INTERVAL_MS: '600000' });
    service = (await startService(learningLoop, sandbox.env)) as RunningService<Database, unknown>;
  });

  afterAll(async () => {
    await service?.stop();
    await sandbox?.cleanup();
  });

  const statements = async () => (await service.runtime.metrics.dbStatements.get()).values[0]?.value ?? 0;

  it('records a burst of verdicts a batch at a time: a few statements per batch, not several per verdict', async () => {
    const burst = Array.from({ length: 64 }, (_, i) => verification(i));
    const before = await statements();
    await Promise.all(burst.map((e) => publishRaw(sandbox, e.type, JSON.stringify(e), e.id)));
    await waitFor('the burst recorded', async () => (await count(sandbox, 'outcomes')) === 64, 30_000);
    await waitFor(
      'its batches committed',
      async () => (await count(sandbox, 'inbox cross join unnest(event_ids) as e')) === 64,
      10_000,
    );
    const perVerdict = ((await statements()) - before) / burst.length;
    // Recorded one verdict at a time this took 11 statements per verdict (the outcome locked and inserted, two
    // statistics keys each created, locked and updated, the inbox, the transaction); 1.84-1.91 by batches.
    expect(perVerdict).toBeLessThan(2.5);
    expect(await count(sandbox, 'statistics')).toBeGreaterThan(0);
  });
});
