import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startService, type RunningService } from '@grace/service-kit';
import { createSandbox, startNatsServer, type OwnNatsServer, type Sandbox } from '@grace/service-kit/testing';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { triggerMesh } from '../src/service.js';
import type { Database } from '../src/store.js';

const TOKEN = 'outage-test-token-0123456789';

// This test owns its NATS server so it can take it away from a running trigger-mesh.
describe('trigger-mesh HTTP ingest while NATS is down', () => {
  let nats: OwnNatsServer;
  let sandbox: Sandbox;
  let service: RunningService<Database, unknown>;
  const dir = mkdtempSync(join(tmpdir(), 'grace-outage-'));

  beforeAll(async () => {
    nats = await startNatsServer();
    const producers = join(dir, 'producers.yaml');
    writeFileSync(
      producers,
      `producers:\n  - name: app\n    bearer_sha256: ${createHash('sha256').update(TOKEN).digest('hex')}\n`,
    );
    sandbox = await createSandbox('tmoutage', { PRODUCERS_FILE: producers, REQUEST_TIMEOUT_MS: '1000' });
    service = (await startService(triggerMesh, { ...sandbox.env, NATS_URL: nats.url })) as RunningService<
      Database,
      unknown
    >;
  });

  afterAll(async () => {
    await service?.stop();
    await nats?.destroy();
    await sandbox.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = () =>
    fetch(`http://127.0.0.1:${service.httpPort}/ingest/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({
        service: 'app',
        environment: 'production',
        kind: 'Boom',
        message: 'boom',
        severity: 'error',
        occurred_at: new Date().toISOString(),
      }),
    });

  it('answers 503 with Retry-After instead of acknowledging an event it could not store, and 202 once NATS is back', async () => {
    expect((await post()).status).toBe(202);
    await nats.stop();
    const down = await post();
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toBe('5');
    expect(((await down.json()) as { error: string; message: string }).message).toMatch(
      /^the event bus did not accept the events .*; retry later$/,
    );
    await nats.start();
    let status = 0;
    for (let i = 0; i < 40 && status !== 202; i++) {
      status = (await post()).status;
      if (status !== 202) await new Promise((r) => setTimeout(r, 250));
    }
    expect(status).toBe(202);
  });
});
