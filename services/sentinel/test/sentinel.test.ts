import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createEvent, eventExamples, type GraceEvent } from '@grace/contracts';
import { startService, type RunningService } from '@grace/service-kit';
import {
  consumerOf,
  count,
  createSandbox,
  handledThrough,
  publishRaw,
  readStream,
  waitFor,
  withLogTap,
  type LogLine,
  type Sandbox,
} from '@grace/service-kit/testing';
import { jetstream } from '@nats-io/jetstream';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sentinel } from '../src/service.js';
import type { Database } from '../src/store.js';
import { captured, executed, rolledBack, stats, TEST_CATALOG, verdict } from './support.js';

describe('sentinel', () => {
  let sandbox: Sandbox;
  const instances: RunningService<Database, unknown>[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'grace-sentinel-'));
  const catalogFile = join(dir, 'playbooks.yaml');
  // What each instance's catalog watcher logs.
  const logs: LogLine[][] = [[], []];

  beforeAll(async () => {
    writeFileSync(catalogFile, TEST_CATALOG);
    sandbox = await createSandbox('sentinel', {
      PLAYBOOKS_FILE: catalogFile,
      FILE_POLL_MS: '50',
      THOMPSON_SEED: '7',
      ROLLBACK_WAIT_MS: '1500',
      ROLLBACK_SWEEP_MS: '100',
    });
    // Two replicas sharing the schema and the durable consumers, as in a deployment.
    for (let i = 0; i < 2; i++)
      instances.push(
        (await startService(withLogTap(sentinel, logs[i]!), sandbox.env)) as RunningService<Database, unknown>,
      );
  });

  afterAll(async () => {
    for (const s of instances) await s.stop();
    await sandbox.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const requests = async (incidentId: string) =>
    (await readStream(sandbox, 'GRACE_ACTIONS'))
      .map((m) => m.data as GraceEvent<'action.requested'>)
      .filter((e) => e.type === 'action.requested' && e.data.incident_id === incidentId);
  const incidentEvents = async (incidentId: string) =>
    (await readStream(sandbox, 'GRACE_INCIDENTS'))
      .map((m) => m.data as GraceEvent<'incident.opened'>)
      .filter((e) => e.data.incident_id === incidentId);
  /** Publish `event` and wait until the sentinel has handled it (and everything before it on its subject). */
  const handled = async (event: GraceEvent) => {
    const { seq } = await publishRaw(sandbox, event.type, JSON.stringify(event));
    await handledThrough(sandbox, consumerOf(instances[0]!, event.type), seq);
  };
  const incidentOf = async (fingerprint: string) =>
    waitFor(`the incident of ${fingerprint}`, async () => {
      const { rows } = await sandbox.pool.query(`select id from "${sandbox.schema}".incidents where fingerprint = $1`, [
        fingerprint,
      ]);
      return (rows[0] as { id: string } | undefined)?.id;
    });

  it('opens one incident and requests one action for a captured error', async () => {
    const capture = captured();
    await publishRaw(sandbox, 'error.captured', JSON.stringify(capture));
    const incidentId = await incidentOf(capture.data.fingerprint);
    const [request] = await waitFor('the action request', async () => {
      const r = await requests(incidentId);
      return r.length ? r : undefined;
    });
    expect(request!.data).toMatchObject({
      incident_id: incidentId,
      fingerprint: capture.data.fingerprint,
      attempt: 1,
      idempotency_key: `${incidentId}:1`,
      adapter: 'nats',
      target: { service: 'checkout', environment: 'production' },
      requested_by: { kind: 'service', id: 'sentinel' },
    });
    expect(request!.correlationid).toBe(capture.correlationid);
    const events = await waitFor('opened and remediating', async () => {
      const e = await incidentEvents(incidentId);
      return e.length >= 2 ? e : undefined;
    });
    expect(events.map((e) => [e.type, e.data.status])).toEqual([
      ['incident.opened', 'triaged'],
      ['incident.updated', 'remediating'],
    ]);
  });

  it('keeps one incident when 50 captures of a fingerprint reach two instances at once', async () => {
    const first = captured();
    const js = jetstream(sandbox.nc);
    const all = Array.from({ length: 50 }, (_, i) =>
      captured({ fingerprint: first.data.fingerprint, count: i + 1, total_count: i + 1, update: i > 0 }),
    );
    await Promise.all(all.map((e) => js.publish(`${sandbox.namespace}.error.captured`, JSON.stringify(e))));
    await waitFor('every capture handled', async () => {
      const infos = await Promise.all(instances.map((s) => s.consumers[0]!.info()));
      return infos.every((i) => i.pending === 0 && i.ackPending === 0);
    });
    expect(await count(sandbox, 'incidents', `fingerprint = '${first.data.fingerprint}'`)).toBe(1);
    const incidentId = await incidentOf(first.data.fingerprint);
    expect(await requests(incidentId)).toHaveLength(1);
    const { rows } = await sandbox.pool.query(`select occurrences from "${sandbox.schema}".incidents where id = $1`, [
      incidentId,
    ]);
    expect(rows).toEqual([{ occurrences: 50 }]);
  });

  it('opens one incident, escalated at once, for a burst of captures no playbook applies to', async () => {
    const first = captured({ kind: 'NoPlaybookFor', service: 'unmatched' });
    const js = jetstream(sandbox.nc);
    const all = Array.from({ length: 20 }, (_, i) =>
      captured({ ...first.data, capture_id: `cap-${i}`, count: i + 1, total_count: i + 1, update: i > 0 }),
    );
    await Promise.all(all.map((e) => js.publish(`${sandbox.namespace}.error.captured`, JSON.stringify(e))));
    await waitFor('every capture handled', async () => {
      const infos = await Promise.all(instances.map((s) => s.consumers[0]!.info()));
      return infos.every((i) => i.pending === 0 && i.ackPending === 0);
    });
    const { rows } = await sandbox.pool.query(
      `select status, occurrences from "${sandbox.schema}".incidents where fingerprint = $1`,
      [first.data.fingerprint],
    );
    expect(rows).toEqual([{ status: 'escalated', occurrences: 20 }]);
  });

  describe('alerts its source resolved (alert.resolved)', () => {
    const resolution = (capture: GraceEvent<'error.captured'>, firing: number) =>
      createEvent(
        'alert.resolved',
        {
          ...eventExamples['alert.resolved'],
          fingerprint: capture.data.fingerprint,
          service: capture.data.service,
          environment: capture.data.environment,
          alert_fingerprint: randomUUID().slice(0, 16),
          ends_at: new Date().toISOString(),
          firing,
          members: 2,
        },
        { source: 'test/trigger-mesh' },
      );
    const incident = async (id: string) =>
      (await instances[0]!.runtime.request('sentinel.query.incident', { incident_id: id })).incident;

    it('resolves an escalated incident once no alert of its group fires, and counts late captures on it', async () => {
      const first = captured({ kind: 'NoPlaybookFor', service: 'unmatched', first_seen: new Date().toISOString() });
      await handled(first);
      const incidentId = await incidentOf(first.data.fingerprint);
      expect((await incident(incidentId)).status).toBe('escalated');

      await handled(resolution(first, 1));
      expect((await incident(incidentId)).status).toBe('escalated');
      await handled(resolution(first, 0));
      const resolved = await waitFor('the resolution', async () =>
        (await incidentEvents(incidentId)).find((e) => e.type === ('incident.resolved' as string)),
      );
      expect((resolved as unknown as GraceEvent<'incident.resolved'>).data).toMatchObject({
        resolved_by: 'source',
        previous_status: 'escalated',
      });
      const reply = await instances[0]!.runtime.request('sentinel.query.incident', { incident_id: incidentId });
      expect(reply.timeline.map((t) => t.status).slice(-1)).toEqual(['resolved']);
      expect(reply.timeline.at(-1)!.reason).toBe('source resolved: all 2 alerts of the group resolved');

      // A count of the same window that arrives after the resolution (its errors were seen before it): counted on
      // the resolved incident, nothing opens.
      await handled({ ...first, id: randomUUID(), data: { ...first.data, count: 3, total_count: 3, update: true } });
      expect((await incident(incidentId)).occurrences).toBe(3);
      expect(await count(sandbox, 'incidents', `fingerprint = '${first.data.fingerprint}'`)).toBe(1);
      // An error seen after the resolution is a new incident.
      await handled(captured({ ...first.data, capture_id: randomUUID(), last_seen: new Date().toISOString() }));
      expect(await count(sandbox, 'incidents', `fingerprint = '${first.data.fingerprint}'`)).toBe(2);
    });

    it('leaves an incident whose action runs to its verdict, with the resolution on its timeline', async () => {
      const capture = captured();
      await handled(capture);
      const incidentId = await incidentOf(capture.data.fingerprint);
      const request = await waitFor('the request', async () => (await requests(incidentId))[0]);
      await handled(resolution(capture, 0));
      const reply = await instances[0]!.runtime.request('sentinel.query.incident', { incident_id: incidentId });
      expect(reply.incident.status).toBe('remediating');
      expect(reply.timeline.at(-1)!.reason).toMatch(/resolved at .*; 0 of 2 alerts of its group still firing/);
      await handled(verdict(request, 'verified', 0.9));
      expect((await incident(incidentId)).status).toBe('resolved');
    });
  });

  it('tries a different playbook after a failed verification, escalates after the attempt limit with the whole trail', async () => {
    const capture = captured();
    await publishRaw(sandbox, 'error.captured', JSON.stringify(capture));
    const incidentId = await incidentOf(capture.data.fingerprint);
    const verdicts = ['failed', 'drift', 'failed'] as const;
    for (const [i, outcome] of verdicts.entries()) {
      const request = await waitFor(`attempt ${i + 1}`, async () =>
        (await requests(incidentId)).find((r) => r.data.attempt === i + 1),
      );
      await publishRaw(sandbox, 'contract.verified', JSON.stringify(verdict(request, outcome)));
    }
    const escalated = await waitFor('the escalation', async () =>
      (await incidentEvents(incidentId)).find((e) => e.type === ('incident.escalated' as string)),
    );
    const trail = (escalated as unknown as GraceEvent<'incident.escalated'>).data.trail;
    expect(trail.map((t) => [t.attempt, t.outcome])).toEqual([
      [1, 'failed'],
      [2, 'drift'],
      [3, 'failed'],
    ]);
    expect(new Set(trail.map((t) => t.playbook)).size).toBe(3);
    expect(escalated.data.reason).toContain('3 of 3 attempts used');
    const playbooks = (await requests(incidentId)).map((r) => r.data.playbook);
    expect(new Set(playbooks).size).toBe(3);
    // The decision trail says what was left out and why.
    expect(trail[2]!.candidates.filter((c) => c.excluded === 'already tried on this incident')).toHaveLength(2);

    // A human owns it now: more of the same error is counted on it, not remediated again.
    const again = captured({ fingerprint: capture.data.fingerprint, count: 7, total_count: 7, update: true });
    await publishRaw(sandbox, 'error.captured', JSON.stringify(again));
    await waitFor('the occurrences counted on the escalated incident', async () => {
      const { rows } = await sandbox.pool.query(`select occurrences from "${sandbox.schema}".incidents where id = $1`, [
        incidentId,
      ]);
      return (rows[0] as { occurrences: number }).occurrences === 7;
    });
    expect(await count(sandbox, 'incidents', `fingerprint = '${capture.data.fingerprint}'`)).toBe(1);
    expect(await requests(incidentId)).toHaveLength(3);
  });

  it('resolves the incident when the verifier says verified, and ignores later news of the same action', async () => {
    const capture = captured();
    await publishRaw(sandbox, 'error.captured', JSON.stringify(capture));
    const incidentId = await incidentOf(capture.data.fingerprint);
    const request = await waitFor('the request', async () => (await requests(incidentId))[0]);
    await publishRaw(sandbox, 'contract.verified', JSON.stringify(verdict(request, 'verified', 0.97)));
    const resolved = await waitFor('the resolution', async () =>
      (await incidentEvents(incidentId)).find((e) => e.type === ('incident.resolved' as string)),
    );
    expect((resolved as unknown as GraceEvent<'incident.resolved'>).data).toMatchObject({
      status: 'resolved',
      playbook: request.data.playbook,
      action_id: request.data.action_id,
      confidence: 0.97,
    });
    await handled(verdict(request, 'failed'));
    expect(await requests(incidentId)).toHaveLength(1);
    const reply = await instances[0]!.runtime.request('sentinel.query.incident', { incident_id: incidentId });
    expect(reply.incident.status).toBe('resolved');
    expect(reply.timeline.map((t) => t.status)).toEqual(['detected', 'triaged', 'remediating', 'resolved']);
    expect(reply.trail).toEqual([expect.objectContaining({ attempt: 1, outcome: 'verified', confidence: 0.97 })]);
  });

  it('moves on to another playbook when the executor denies the action or rolls it back', async () => {
    const capture = captured();
    await publishRaw(sandbox, 'error.captured', JSON.stringify(capture));
    const incidentId = await incidentOf(capture.data.fingerprint);
    const first = await waitFor('attempt 1', async () =>
      (await requests(incidentId)).find((r) => r.data.attempt === 1),
    );
    const r = first.data;
    await publishRaw(
      sandbox,
      'action.denied',
      JSON.stringify(
        createEvent(
          'action.denied',
          {
            action_id: r.action_id,
            incident_id: incidentId,
            playbook: r.playbook,
            adapter: r.adapter,
            action: r.action,
            target: r.target,
            tier: r.tier,
            attempt: 1,
            denied_by: 'policy',
            rule: 'no-changes-on-fridays',
            reason: 'change freeze',
            denied_at: new Date().toISOString(),
          },
          { source: 'test/executor' },
        ),
      ),
    );
    const second = await waitFor('attempt 2', async () =>
      (await requests(incidentId)).find((x) => x.data.attempt === 2),
    );
    expect(second.data.playbook).not.toBe(r.playbook);
    const reply = await instances[0]!.runtime.request('sentinel.query.incident', { incident_id: incidentId });
    expect(reply.trail[0]).toMatchObject({
      outcome: 'denied',
      outcome_reason: expect.stringContaining('no-changes-on-fridays'),
    });
  });

  it('after drift on a tier-2 action, waits for the rollback before the next playbook; escalates when none comes', async () => {
    const capture = captured();
    await publishRaw(sandbox, 'error.captured', JSON.stringify(capture));
    const incidentId = await incidentOf(capture.data.fingerprint);
    const first = await waitFor('attempt 1', async () =>
      (await requests(incidentId)).find((r) => r.data.attempt === 1),
    );
    // The catalog's playbooks are tier 1; the verdict says this one ran as tier 2 (snapshot, rollback).
    const tierTwo = (e: GraceEvent<'contract.verified'>) => ({ ...e, data: { ...e.data, tier: 2 as const } });
    await handled(tierTwo(verdict(first, 'drift')));
    expect(await requests(incidentId)).toHaveLength(1);
    const waiting = await instances[0]!.runtime.request('sentinel.query.incident', { incident_id: incidentId });
    expect(waiting.trail[0]).toMatchObject({
      outcome: 'pending',
      outcome_reason: expect.stringContaining('waiting for the executor to restore the snapshot'),
    });

    // The snapshot is back: now the next playbook runs.
    await publishRaw(sandbox, 'contract.rolled_back', JSON.stringify(rolledBack(first, 'drift')));
    const second = await waitFor('attempt 2', async () =>
      (await requests(incidentId)).find((x) => x.data.attempt === 2),
    );
    expect(second.data.playbook).not.toBe(first.data.playbook);
    const moved = await instances[0]!.runtime.request('sentinel.query.incident', { incident_id: incidentId });
    expect(moved.trail[0]).toMatchObject({ outcome: 'rolled_back' });

    // A failed verdict whose rollback is never confirmed (the restore failed for good): a human takes over.
    await publishRaw(sandbox, 'contract.verified', JSON.stringify(tierTwo(verdict(second, 'failed'))));
    const escalated = await waitFor('the escalation', async () =>
      (await incidentEvents(incidentId)).find((e) => e.type === ('incident.escalated' as string)),
    );
    expect(escalated.data.reason).toContain('no rollback confirmed within 2 s');
    expect(await requests(incidentId)).toHaveLength(2);
  });

  it('moves on at once when the executor carried nothing out (no snapshot), whichever of verdict and report comes first', async () => {
    const capture = captured();
    await publishRaw(sandbox, 'error.captured', JSON.stringify(capture));
    const incidentId = await incidentOf(capture.data.fingerprint);
    const first = await waitFor('attempt 1', async () =>
      (await requests(incidentId)).find((r) => r.data.attempt === 1),
    );
    // What the executor reports when the snapshot of a tier-2 action failed, and the verifier's verdict on it: the
    // verdict first, so the sentinel starts to wait for a rollback that cannot come.
    const tierTwo = (e: GraceEvent<'contract.verified'>) => ({ ...e, data: { ...e.data, tier: 2 as const } });
    await handled(tierTwo(verdict(first, 'failed')));
    expect(await requests(incidentId)).toHaveLength(1);
    const nothingDone = executed(first);
    Object.assign(nothingDone.data, {
      tier: 2,
      result: 'failed',
      carried_out: false,
      actual_state: {},
      error: 'snapshot failed, so nothing was done (no snapshot, no action): connection refused',
    });
    const started = Date.now();
    await publishRaw(sandbox, 'action.executed', JSON.stringify(nothingDone));
    const second = await waitFor('attempt 2', async () =>
      (await requests(incidentId)).find((x) => x.data.attempt === 2),
    );
    // Well inside ROLLBACK_WAIT_MS (1.5 s here, 15 minutes by default): no waiting for a rollback.
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(second.data.playbook).not.toBe(first.data.playbook);
    const reply = await instances[0]!.runtime.request('sentinel.query.incident', { incident_id: incidentId });
    expect(reply.trail[0]).toMatchObject({
      outcome: 'failed',
      outcome_reason: expect.stringContaining('not carried out: snapshot failed'),
    });
    expect(reply.incident.status).toBe('remediating');
  });

  it('keeps a muted error as a muted incident without acting on it', async () => {
    const capture = captured({ muted_until: new Date(Date.now() + 600_000).toISOString() });
    await handled(capture);
    const incidentId = await incidentOf(capture.data.fingerprint);
    const opened = await waitFor('the opened event', async () => (await incidentEvents(incidentId))[0]);
    expect(opened.data.status).toBe('muted');
    expect(await requests(incidentId)).toHaveLength(0);
  });

  it('lists incidents newest first with filters and paging', async () => {
    const page1 = await instances[1]!.runtime.request('sentinel.query.incidents', { limit: 2, service: 'checkout' });
    expect(page1.items).toHaveLength(2);
    const page2 = await instances[1]!.runtime.request('sentinel.query.incidents', {
      limit: 2,
      service: 'checkout',
      cursor: page1.next_cursor!,
    });
    const all = [...page1.items, ...page2.items];
    expect(new Set(all.map((i) => i.incident_id)).size).toBe(4);
    const opened = all.map((i) => Date.parse(i.opened_at));
    expect([...opened].sort((a, b) => b - a)).toEqual(opened);
    const escalated = await instances[1]!.runtime.request('sentinel.query.incidents', { status: ['escalated'] });
    expect(escalated.items.length).toBeGreaterThanOrEqual(1);
    expect(escalated.items.every((i) => i.status === 'escalated')).toBe(true);
    const open = await instances[1]!.runtime.request('sentinel.query.incidents', { open: true, limit: 100 });
    expect(open.items.every((i) => i.status !== 'resolved' && i.status !== 'escalated')).toBe(true);
  });

  it('chooses the playbook its statistics favour most of the time, and still explores the other', async () => {
    const signature = 'application:testfailure';
    await publishRaw(sandbox, 'playbook.stats.updated', JSON.stringify(stats(signature, 'alpha', 7, 7)));
    await publishRaw(sandbox, 'playbook.stats.updated', JSON.stringify(stats(signature, 'bravo', 12, 3)));
    await publishRaw(sandbox, 'playbook.stats.updated', JSON.stringify(stats(signature, 'charlie', 1, 40)));
    await publishRaw(sandbox, 'playbook.stats.updated', JSON.stringify(stats(signature, 'delta', 1, 40)));
    await waitFor(
      'the statistics',
      async () => (await count(sandbox, 'playbook_stats', `signature = '${signature}'`)) === 4,
    );
    const js = jetstream(sandbox.nc);
    const captures = Array.from({ length: 200 }, () => captured());
    await Promise.all(captures.map((e) => js.publish(`${sandbox.namespace}.error.captured`, JSON.stringify(e))));
    const chosen = await waitFor(
      'an attempt for each of 200 incidents',
      async () => {
        const { rows } = await sandbox.pool.query(
          `select trail->0->>'playbook' as playbook from "${sandbox.schema}".incidents
           where fingerprint = any($1) and jsonb_array_length(trail) > 0`,
          [captures.map((c) => c.data.fingerprint)],
        );
        return rows.length === 200 ? (rows as { playbook: string }[]) : undefined;
      },
      60_000,
    );
    const tally = (p: string) => chosen.filter((r) => r.playbook === p).length;
    expect(tally('bravo')).toBeGreaterThan(150);
    expect(tally('alpha')).toBeGreaterThan(0);
  });

  it('refuses a broken catalog with the reason and keeps the last good one; a good change applies', async () => {
    const before = await instances[0]!.runtime.request('sentinel.query.playbooks', {});
    expect(before.playbooks.map((p) => p.name)).toEqual(['alpha', 'bravo', 'charlie', 'delta']);
    const seen = logs.map((lines) => lines.length);
    writeFileSync(catalogFile, TEST_CATALOG.replace('adapter: nats', 'adapter: carrier-pigeon'));
    await waitFor('both instances to reject the broken catalog', async () =>
      logs.every((lines, i) =>
        lines
          .slice(seen[i])
          .some((l) => l.msg === 'playbook catalog rejected; keeping the last good version' && l.level === 'error'),
      ),
    );
    const during = await instances[0]!.runtime.request('sentinel.query.playbooks', {});
    expect(during.catalog_version).toBe(before.catalog_version);
    expect(await count(sandbox, 'file_versions', "file = 'playbook catalog'")).toBe(1);
    writeFileSync(catalogFile, TEST_CATALOG.replace(/ {2}- name: delta[\s\S]*$/, ''));
    const after = await waitFor('the new catalog', async () => {
      const reply = await instances[0]!.runtime.request('sentinel.query.playbooks', {});
      return reply.catalog_version !== before.catalog_version ? reply : undefined;
    });
    expect(after.playbooks.map((p) => p.name)).toEqual(['alpha', 'bravo', 'charlie']);
    expect(after.playbooks.find((p) => p.name === 'bravo')?.statistics).toEqual([
      expect.objectContaining({ signature: 'application:testfailure', successes: 12 }),
    ]);
  });

  it('opens incidents of a muted signature muted, with who and why, and remediates nothing', async () => {
    const mute = await instances[0]!.runtime.request('sentinel.control.mute', {
      signature: 'application:testfailure',
      until: new Date(Date.now() + 3_600_000).toISOString(),
      by: 'alice',
      reason: 'database maintenance',
    });
    expect(mute).toMatchObject({ signature: 'application:testfailure', by: 'alice' });
    const capture = captured({ service: 'muted-svc' });
    await handled(capture);
    const incidentId = await incidentOf(capture.data.fingerprint);
    const [opened] = await waitFor('the muted incident', async () => {
      const e = await incidentEvents(incidentId);
      return e.length ? e : undefined;
    });
    expect(opened!.data).toMatchObject({ status: 'muted' });
    expect(opened!.data.reason).toContain('muted by alice');
    expect(opened!.data.reason).toContain('database maintenance');
    expect(await requests(incidentId)).toEqual([]);
    await expect(
      instances[0]!.runtime.request('sentinel.control.mute', {
        fingerprint: 'fp-x',
        until: new Date(Date.now() - 1000).toISOString(),
        by: 'alice',
        reason: 'too late',
      }),
    ).rejects.toThrow(/in the past/);
  });

  it("fills a playbook's plan for a service, for an operator to run it", async () => {
    const reply = await instances[0]!.runtime.request('sentinel.query.plan', {
      playbook: 'charlie',
      service: 'billing',
      environment: 'staging',
    });
    expect(reply.plan).toMatchObject({
      playbook: 'charlie',
      action: 'charlie_fix',
      target: { service: 'billing', environment: 'staging' },
      params: { reason: 'fix OperatorRequest on billing' },
    });
    await expect(
      instances[0]!.runtime.request('sentinel.query.plan', {
        playbook: 'nope',
        service: 'billing',
        environment: 'staging',
      }),
    ).rejects.toThrow(/no playbook nope/);
  });
});
