// The sentinel's cost (issue 16): rows written for N new errors, each remediated end to end (error.captured ->
// action.requested, action.executed -> verifying, contract.verified verified -> resolved), measured from Postgres's
// own counters (pg_stat_user_tables of the test's schema), so the cost cannot creep back.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { GraceEvent } from '@grace/contracts';
import { startService, type RunningService } from '@grace/service-kit';
import {
  createSandbox,
  publishRaw,
  readStream,
  tableWrites,
  waitFor,
  waitUntilSettled,
  type Sandbox,
} from '@grace/service-kit/testing';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sentinel } from '../src/service.js';
import type { Database } from '../src/store.js';
import { captured, executed, TEST_CATALOG, verdict } from './support.js';

/** Errors and remediations measured. */
const N = 10;

/**
 * Rows the sentinel writes in its own tables (not the kit's inbox) per new-fingerprint error: the incident, opened
 * with its first attempt and its timeline in the one row. Issue 16 aims at about 1.5.
 */
const OWN_ROWS_PER_ERROR = 1;
/**
 * Rows in its own tables per tier-1 remediation, the error's included: the insert, then one update per outcome
 * (verifying, resolved). Issue 16 aims at about 4 (and 30 for the whole system).
 */
const OWN_ROWS_PER_REMEDIATION = 3;
/** Every row written in the schema per remediation, the kit's inbox included (one row per handled batch). */
const ALL_ROWS_PER_REMEDIATION = 6;

/**
 * Statements sent per new-fingerprint error (grace_db_statements_total, BEGIN and COMMIT included): the batch's
 * begin, inbox claim, inbox row and commit, and the triage's lock and reads, the playbook choice's read and the
 * incident's insert. 8.2 while the fingerprint's lock (with the mute) and the incidents it meets were two reads;
 * 7.2 with the one `lock_triage`.
 */
const STATEMENTS_PER_ERROR = 7.5;

const OWN_TABLES = ['incidents', 'transitions', 'attempts', 'playbook_stats', 'mutes'];

describe('sentinel cost per new error and per tier-1 remediation', () => {
  let sandbox: Sandbox;
  let instance: RunningService<Database, unknown> | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'grace-sentinel-cost-'));

  beforeAll(async () => {
    const file = join(dir, 'playbooks.yaml');
    writeFileSync(file, TEST_CATALOG);
    sandbox = await createSandbox('sncost', {
      PLAYBOOKS_FILE: file,
      THOMPSON_SEED: '11',
      // No sweeps during the measurement.
      ROLLBACK_SWEEP_MS: '600000',
      OUTBOX_POLL_MS: '600000',
    });
  });

  afterAll(async () => {
    await instance?.stop();
    await sandbox?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const tableCounts = () => tableWrites(sandbox);
  const perItem = (before: Record<string, number>, after: Record<string, number>) =>
    Object.fromEntries(
      Object.keys(after)
        .map((t) => [t, ((after[t] ?? 0) - (before[t] ?? 0)) / N] as const)
        .filter(([, n]) => n > 0),
    );
  const sum = (rows: Record<string, number>, tables?: string[]) =>
    Object.entries(rows)
      .filter(([t]) => !tables || tables.includes(t))
      .reduce((a, [, n]) => a + n, 0);
  const statementsOf = async (service: RunningService<Database, unknown>) => {
    const text = await (await fetch(`http://127.0.0.1:${service.httpPort}/metrics`)).text();
    return Number(/^grace_db_statements_total(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1] ?? NaN);
  };
  // Every event acknowledged and every outbox row published, then the stop closes the connections, which flushes
  // their counts. `statements`: those sent for `what` (after the start's own).
  const run = async (what: () => Promise<void>) => {
    instance = (await startService(sentinel, sandbox.env)) as RunningService<Database, unknown>;
    const before = await statementsOf(instance);
    await what();
    await waitUntilSettled([instance]);
    const statements = (await statementsOf(instance)) - before;
    await instance.stop();
    instance = undefined;
    return { ...(await tableCounts()), statements };
  };

  it('writes at most its budget of rows per new error and per remediation', async () => {
    // A first start migrates and loads the catalog.
    const start = await run(async () => undefined);

    const requests: GraceEvent<'action.requested'>[] = [];
    const afterErrors = await run(async () => {
      for (let i = 0; i < N; i++) {
        const capture = captured({ service: `cost-${i}` });
        await publishRaw(sandbox, capture.type, JSON.stringify(capture));
        requests.push(
          await waitFor('action.requested', async () =>
            (await readStream(sandbox, 'GRACE_ACTIONS'))
              .map((m) => m.data as GraceEvent<'action.requested'>)
              .find((e) => e.type === 'action.requested' && e.data.fingerprint === capture.data.fingerprint),
          ),
        );
      }
    });

    const afterOutcomes = await run(async () => {
      for (const request of requests) {
        const done = executed(request);
        await publishRaw(sandbox, done.type, JSON.stringify(done));
        await waitFor('verifying', async () =>
          (await readStream(sandbox, 'GRACE_INCIDENTS')).find(
            (m) =>
              (m.data as GraceEvent<'incident.updated'>).data.incident_id === request.data.incident_id &&
              (m.data as GraceEvent<'incident.updated'>).data.status === 'verifying',
          ),
        );
        const judged = verdict(request, 'verified');
        await publishRaw(sandbox, judged.type, JSON.stringify(judged));
        await waitFor('resolved', async () =>
          (await readStream(sandbox, 'GRACE_INCIDENTS')).find(
            (m) =>
              (m.data as GraceEvent<'incident.resolved'>).type === 'incident.resolved' &&
              (m.data as GraceEvent<'incident.resolved'>).data.incident_id === request.data.incident_id,
          ),
        );
      }
    });

    const statementsPerError = afterErrors.statements / N;
    delete (start as Record<string, number>).statements;
    delete (afterErrors as Record<string, number>).statements;
    delete (afterOutcomes as Record<string, number>).statements;
    const perError = perItem(start, afterErrors);
    const perOutcomes = perItem(afterErrors, afterOutcomes);
    const perRemediation = perItem(start, afterOutcomes);
    const report = {
      n: N,
      per_error: perError,
      per_outcomes: perOutcomes,
      own_per_error: sum(perError, OWN_TABLES),
      own_per_remediation: sum(perRemediation, OWN_TABLES),
      all_per_remediation: sum(perRemediation),
      statements_per_error: statementsPerError,
    };
    // Shown on every run: the figures of issue 16.
    console.log(JSON.stringify(report));
    expect(report.own_per_error).toBeLessThanOrEqual(OWN_ROWS_PER_ERROR);
    expect(report.own_per_remediation).toBeLessThanOrEqual(OWN_ROWS_PER_REMEDIATION);
    expect(report.all_per_remediation).toBeLessThanOrEqual(ALL_ROWS_PER_REMEDIATION);
    expect(report.statements_per_error).toBeLessThanOrEqual(STATEMENTS_PER_ERROR);
  }, 120_000);
});
