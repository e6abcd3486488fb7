import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startService, type RunningService } from '../src/index.js';
import { ledgerService, type LedgerDb } from './fixtures/ledger-service.js';
import { count, createSandbox, exited, sampleReported, waitFor, type Sandbox } from './support.js';
import { connect } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

// This test owns its NATS server, so it can stop and restart it under a running service.
describe('a service whose NATS server restarts', () => {
  let sandbox: Sandbox;
  let service: RunningService<LedgerDb, unknown>;
  let nats: ChildProcess;
  let port: number;
  const storeDir = mkdtempSync(join(tmpdir(), 'grace-nats-'));

  const startNats = async () => {
    nats = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir], { stdio: 'ignore' });
    await waitFor('nats-server to accept connections', async () => {
      const nc = await connect({ servers: `nats://127.0.0.1:${port}`, timeout: 500 });
      await nc.close();
      return true;
    });
  };

  const publish = async (n: number, label: string) => {
    const nc = await connect({ servers: `nats://127.0.0.1:${port}` });
    const js = jetstream(nc);
    for (let i = 0; i < n; i++) {
      await js.publish(
        `${sandbox.namespace}.error.reported`,
        JSON.stringify(sampleReported({ message: `${label} ${i}` })),
      );
    }
    await nc.close();
  };

  beforeAll(async () => {
    port = await freePort();
    await startNats();
    sandbox = await createSandbox('reconnect');
    service = (await startService(ledgerService, {
      ...sandbox.env,
      NATS_URL: `nats://127.0.0.1:${port}`,
    })) as RunningService<LedgerDb, unknown>;
  });

  afterAll(async () => {
    await service?.stop();
    nats?.kill('SIGKILL');
    await sandbox.cleanup();
    rmSync(storeDir, { recursive: true, force: true });
  });

  it('reconnects, resumes pulling, and flushes its outbox once NATS is back', async () => {
    await publish(10, 'before');
    await waitFor('events before the restart', async () => (await count(sandbox, 'ledger')) === 10);

    nats.kill('SIGTERM');
    await exited(nats);
    const readyWhileDown = await fetch(`http://127.0.0.1:${service.httpPort}/readyz`);
    expect(readyWhileDown.status).toBe(503);
    expect(((await readyWhileDown.json()) as { checks: Record<string, boolean> }).checks.nats).toBe(false);

    await startNats();
    await publish(10, 'after');
    await waitFor('events after the restart', async () => (await count(sandbox, 'ledger')) === 20, 30_000);
    await waitFor(
      'the outbox to drain',
      async () => (await count(sandbox, 'outbox', "status = 'pending'")) === 0,
      30_000,
    );
    expect(await count(sandbox, 'outbox')).toBe(20);
    const ready = await fetch(`http://127.0.0.1:${service.httpPort}/readyz`);
    expect(ready.status).toBe(200);
  });
});
