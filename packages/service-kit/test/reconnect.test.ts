import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startService, type RunningService } from '../src/index.js';
import { ledgerService, type LedgerDb } from './fixtures/ledger-service.js';
import {
  count,
  createSandbox,
  sampleReported,
  startNatsServer,
  waitFor,
  type OwnNatsServer,
  type Sandbox,
} from './support.js';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';

// This test owns its NATS server, so it can stop and restart it under a running service.
describe('a service whose NATS server restarts', () => {
  let sandbox: Sandbox;
  let service: RunningService<LedgerDb, unknown>;
  let nats: OwnNatsServer;

  const publish = async (n: number, label: string) => {
    const nc = await connect({ servers: nats.url });
    const js = jetstream(nc);
    for (let i = 0; i < n; i++) {
      await js.publish(
        `${sandbox.namespace}.error.reported`,
        JSON.stringify(sampleReported({ message: `${label} ${i}` })),
      );
    }
    await nc.close();
  };

  const capturedOnStream = async () => {
    const nc = await connect({ servers: nats.url });
    try {
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.info(`${sandbox.namespace}_GRACE_ERRORS`, {
        subjects_filter: `${sandbox.namespace}.error.captured`,
      });
      return info.state.subjects?.[`${sandbox.namespace}.error.captured`] ?? 0;
    } finally {
      await nc.close();
    }
  };

  beforeAll(async () => {
    nats = await startNatsServer();
    sandbox = await createSandbox('reconnect');
    service = (await startService(ledgerService, {
      ...sandbox.env,
      NATS_URL: nats.url,
    })) as RunningService<LedgerDb, unknown>;
  });

  afterAll(async () => {
    await service?.stop();
    await nats?.destroy();
    await sandbox.cleanup();
  });

  it('reconnects, resumes pulling, and publishes what it emitted once NATS is back', async () => {
    await publish(10, 'before');
    await waitFor('events before the restart', async () => (await count(sandbox, 'ledger')) === 10);

    await nats.stop();
    const readyWhileDown = await fetch(`http://127.0.0.1:${service.httpPort}/readyz`);
    expect(readyWhileDown.status).toBe(503);
    expect(((await readyWhileDown.json()) as { checks: Record<string, boolean> }).checks.nats).toBe(false);

    await nats.start();
    await publish(10, 'after');
    await waitFor('events after the restart', async () => (await count(sandbox, 'ledger')) === 20, 30_000);
    await waitFor('every emitted event on the stream', async () => (await capturedOnStream()) === 20, 30_000);
    const ready = await fetch(`http://127.0.0.1:${service.httpPort}/readyz`);
    expect(ready.status).toBe(200);
  });
});
