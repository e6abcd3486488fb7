// 0004 moves the transitions and attempts of a schema at 0003 into their incidents' rows: the queries answer as
// before, and a pending attempt waiting for its rollback goes on where it stood.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createEvent, type GraceEvent } from '@grace/contracts';
import { createDb, runMigrations, startService, type RunningService } from '@grace/service-kit';
import { createSandbox, DATABASE_URL, publishRaw, readStream, waitFor, type Sandbox } from '@grace/service-kit/testing';
import { sql, type Kysely } from 'kysely';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrations } from '../src/migrations/index.js';
import { sentinel } from '../src/service.js';
import type { Database } from '../src/store.js';
import { TEST_CATALOG } from './support.js';

const RESOLVED = '00000000-0000-4000-8000-000000000001';
const WAITING = '00000000-0000-4000-8000-000000000002';

describe('sentinel migration 0004 (timeline and trail in the incident row)', () => {
  let sandbox: Sandbox;
  let db: Kysely<unknown>;
  let pool: ReturnType<typeof createDb>['pool'];
  let service: RunningService<Database, unknown> | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'grace-sentinel-migration-'));

  beforeAll(async () => {
    const file = join(dir, 'playbooks.yaml');
    writeFileSync(file, TEST_CATALOG);
    sandbox = await createSandbox('snmigrate', { PLAYBOOKS_FILE: file, ROLLBACK_WAIT_MS: '600000' });
    ({ db, pool } = createDb<unknown>({
      url: DATABASE_URL,
      schema: sandbox.schema,
      poolMax: 1,
      statementTimeoutMs: 10_000,
      applicationName: 'sentinel-migration-test',
    }));
  });

  afterAll(async () => {
    await service?.stop();
    await db?.destroy();
    await sandbox?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('moves every transition and attempt over and drops their tables', async () => {
    const before = Object.fromEntries(Object.entries(migrations).filter(([name]) => name < '0004'));
    await runMigrations(db, sandbox.schema, before);
    const incident = (id: string, status: string, attempts: number, actionId: string) => sql`
      insert into incidents (id, fingerprint, environment, signature, service, kind, message, severity, category,
        blast_radius, status, reason, attempts, occurrences, capture_id, playbook, action_id, opened_at, triaged_at,
        changed_at, closed_at)
      values (${id}, ${`fp-${id}`}, 'production', 'application:testfailure', 'checkout', 'TestFailure', 'unhealthy',
        'error', 'application', 'low', ${status}, 'as it was', ${attempts}, 3, 'cap-1', 'alpha', ${actionId},
        '2024-05-01T10:00:00Z', '2024-05-01T10:00:00Z', '2024-05-01T10:05:00Z',
        ${status === 'resolved' ? '2024-05-01T10:05:00Z' : null})`;
    await incident(RESOLVED, 'resolved', 1, 'act-r1').execute(db);
    await incident(WAITING, 'verifying', 2, 'act-w2').execute(db);
    await sql`insert into transitions (incident_id, status, previous_status, reason, at) values
      (${RESOLVED}, 'detected', null, 'captured', '2024-05-01T10:00:00Z'),
      (${RESOLVED}, 'triaged', 'detected', 'triaged', '2024-05-01T10:00:00Z'),
      (${RESOLVED}, 'remediating', 'triaged', 'attempt 1', '2024-05-01T10:00:01Z'),
      (${RESOLVED}, 'resolved', 'remediating', 'verified', '2024-05-01T10:05:00.250Z'),
      (${WAITING}, 'detected', null, 'captured', '2024-05-01T10:00:00Z')`.execute(db);
    await sql`insert into attempts (incident_id, attempt, playbook, action_id, service, environment, reason, candidates,
        decided_at, outcome, outcome_reason, confidence, awaiting_rollback_since) values
      (${RESOLVED}, 1, 'alpha', 'act-r1', 'checkout', 'production', 'attempt 1', '[{"playbook":"alpha","score":0.5}]',
        '2024-05-01T10:00:01Z', 'verified', 'ok', 0.97, null),
      (${WAITING}, 1, 'alpha', 'act-w1', 'checkout', 'production', 'attempt 1', '[]',
        '2024-05-01T10:00:01Z', 'failed', 'no', null, null),
      (${WAITING}, 2, 'bravo', 'act-w2', 'checkout', 'production', 'attempt 2', '[]',
        '2024-05-01T10:02:00Z', 'pending', 'drift; waiting for the executor to restore the snapshot', null,
        '2024-05-01T10:04:00Z')`.execute(db);

    await runMigrations(db, sandbox.schema, migrations);
    const { rows: tables } = await pool.query<{ table_name: string }>(
      `select table_name from information_schema.tables where table_schema = $1 and table_name in ('transitions', 'attempts')`,
      [sandbox.schema],
    );
    expect(tables).toEqual([]);

    service = (await startService(sentinel, sandbox.env)) as RunningService<Database, unknown>;
    const resolved = await service.runtime.request('sentinel.query.incident', { incident_id: RESOLVED });
    expect(resolved.timeline).toEqual([
      { status: 'detected', reason: 'captured', at: '2024-05-01T10:00:00.000Z' },
      { status: 'triaged', previous_status: 'detected', reason: 'triaged', at: '2024-05-01T10:00:00.000Z' },
      { status: 'remediating', previous_status: 'triaged', reason: 'attempt 1', at: '2024-05-01T10:00:01.000Z' },
      { status: 'resolved', previous_status: 'remediating', reason: 'verified', at: '2024-05-01T10:05:00.250Z' },
    ]);
    expect(resolved.trail).toEqual([
      {
        attempt: 1,
        playbook: 'alpha',
        action_id: 'act-r1',
        reason: 'attempt 1',
        candidates: [{ playbook: 'alpha', score: 0.5 }],
        decided_at: '2024-05-01T10:00:01.000Z',
        outcome: 'verified',
        outcome_reason: 'ok',
        confidence: 0.97,
      },
    ]);
    const waiting = await service.runtime.request('sentinel.query.incident', { incident_id: WAITING });
    expect(waiting.trail.map((t) => [t.attempt, t.outcome])).toEqual([
      [1, 'failed'],
      [2, 'pending'],
    ]);
    const { rows } = await pool.query(
      `select awaiting_rollback_since from "${sandbox.schema}".incidents where id = $1`,
      [WAITING],
    );
    expect(new Date((rows[0] as { awaiting_rollback_since: Date }).awaiting_rollback_since).toISOString()).toBe(
      '2024-05-01T10:04:00.000Z',
    );

    // The executor confirms the rollback of attempt 2: attempt 3 runs a playbook neither attempt tried.
    const rollback = createEvent(
      'contract.rolled_back',
      {
        contract_id: 'con-w2',
        action_id: 'act-w2',
        incident_id: WAITING,
        playbook: 'bravo',
        adapter: 'nats',
        action: 'bravo_fix',
        target: { service: 'checkout', environment: 'production' },
        tier: 2,
        attempt: 2,
        snapshot_id: 'snap-w2',
        trigger: 'drift',
        reason: 'restored',
        restored_state: { healthy: false },
        duration_ms: 3,
        rolled_back_at: new Date().toISOString(),
      },
      { source: 'test/executor' },
    );
    await publishRaw(sandbox, rollback.type, JSON.stringify(rollback));
    const third = await waitFor('attempt 3', async () =>
      (await readStream(sandbox, 'GRACE_ACTIONS'))
        .map((m) => m.data as GraceEvent<'action.requested'>)
        .find((e) => e.type === 'action.requested' && e.data.incident_id === WAITING),
    );
    expect(third.data.attempt).toBe(3);
    expect(['charlie', 'delta']).toContain(third.data.playbook);
  });
});
