import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startService, type RunningService } from '../src/index.js';
import { ledgerService, type LedgerDb } from './fixtures/ledger-service.js';
import { createSandbox, publishRaw, sampleReported, waitFor, type Sandbox } from './support.js';

describe('side server', () => {
  let sandbox: Sandbox;
  let service: RunningService<LedgerDb, unknown>;
  let base: string;

  beforeAll(async () => {
    sandbox = await createSandbox('http');
    service = (await startService(
      {
        ...ledgerService,
        setup: async (runtime) => ({
          ...(await ledgerService.setup!(runtime)),
          routes: (req, res) => {
            res.writeHead(200, { 'content-type': 'text/plain' });
            res.end(`own route ${req.url}`);
          },
        }),
      },
      sandbox.env,
    )) as RunningService<LedgerDb, unknown>;
    base = `http://127.0.0.1:${service.httpPort}`;
  });

  afterAll(async () => {
    await service?.stop();
    await sandbox.cleanup();
  });

  it('reports alive on /healthz and ready on /readyz with each check', async () => {
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: 'ready',
      checks: { accepting: true, migrations: true, nats: true, postgres: true },
    });
  });

  it('exports Prometheus metrics with consumer lag and outbox backlog', async () => {
    await publishRaw(sandbox, 'error.reported', JSON.stringify(sampleReported()));
    const res = await waitFor('the handled event in the metrics', async () => {
      const r = await fetch(`${base}/metrics`);
      const body = await r.text();
      return /grace_events_handled_total\{[^}]*outcome="ok"[^}]*\} 1/.test(body) ? { r, body } : undefined;
    });
    expect(res.r.status).toBe(200);
    expect(res.r.headers.get('content-type')).toContain('text/plain');
    const text = res.body;
    expect(text).toContain('grace_consumer_pending_messages{consumer="ledger__error_reported"');
    expect(text).toMatch(/grace_outbox_backlog\{service="ledger"\} \d+/);
    expect(text).toContain('process_resident_memory_bytes');
  });

  it("hands other paths to the service's own routes", async () => {
    const res = await fetch(`${base}/ingest/events`);
    expect(await res.text()).toBe('own route /ingest/events');
  });

  it('closes what it opened when a service fails to start, and says why', async () => {
    await expect(
      startService(
        {
          name: 'broken-start',
          migrations: {},
          setup: () => {
            throw new Error('the catalog is broken');
          },
        },
        { ...sandbox.env, DB_SCHEMA: `${sandbox.schema}_b` },
      ),
    ).rejects.toThrow('the catalog is broken');
    // Its connections are gone (the server ends a backend shortly after the client leaves).
    await waitFor(
      'the connections to close',
      async () => {
        const { rows } = await sandbox.pool.query(
          "select count(*)::int as n from pg_stat_activity where application_name like 'broken-start:%'",
        );
        return (rows[0] as { n: number }).n === 0;
      },
      5_000,
    );
    await sandbox.pool.query(`drop schema if exists "${sandbox.schema}_b" cascade`);
  });
});
