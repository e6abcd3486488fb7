import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { EventData, GraceEvent } from '@grace/contracts';
import { startService, type RunningService } from '@grace/service-kit';
import {
  count,
  createSandbox,
  publishRaw,
  readStream,
  waitFor,
  withLogTap,
  type LogLine,
  type Sandbox,
  sampleReported,
} from '@grace/service-kit/testing';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { triggerMesh } from '../src/service.js';
import type { Database } from '../src/store.js';

const reported = (overrides: Partial<EventData<'error.reported'>>) =>
  sampleReported({ kind: 'DbTimeout', message: 'query timed out', ...overrides });

const RULES_V1 = `
version: 1
rules:
  - name: drop-healthchecks
    match:
      service: healthcheck
    actions:
      drop: true
  - name: database-to-db-team
    match:
      kind: DbTimeout
    actions:
      route: db-team
      category: database
`;

const RULES_V2 = RULES_V1.replace('route: db-team', 'route: platform-team');

describe('trigger-mesh routing rules', () => {
  let sandbox: Sandbox;
  let service: RunningService<Database, unknown>;
  const dir = mkdtempSync(join(tmpdir(), 'grace-routes-'));
  const rulesFile = join(dir, 'routes.yaml');
  // What the rules watcher logs.
  const logs: LogLine[] = [];

  beforeAll(async () => {
    writeFileSync(rulesFile, RULES_V1);
    sandbox = await createSandbox('tmroutes', { ROUTES_FILE: rulesFile, FILE_POLL_MS: '50', EMIT_INTERVAL_MS: '200' });
    service = (await startService(withLogTap(triggerMesh, logs), sandbox.env)) as RunningService<Database, unknown>;
  });

  afterAll(async () => {
    await service?.stop();
    await sandbox.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const capturedFor = (event: GraceEvent) =>
    waitFor(`the capture of ${event.id}`, async () =>
      (await readStream(sandbox, 'GRACE_ERRORS'))
        .map((m) => m.data as GraceEvent<'error.captured'>)
        .find((e) => e.type === 'error.captured' && e.data.reported_event_id === event.id),
    );

  it('drops noise with a count, and tags what it routes', async () => {
    for (let i = 0; i < 3; i++)
      await publishRaw(sandbox, 'error.reported', JSON.stringify(reported({ service: 'healthcheck' })));
    const routed = reported({});
    await publishRaw(sandbox, 'error.reported', JSON.stringify(routed));
    const captured = await capturedFor(routed);
    expect(captured.data).toMatchObject({ route: 'db-team', category: 'database' });
    await waitFor(
      'the drop count',
      async () => (await count(sandbox, 'drops', "rule = 'drop-healthchecks' and count = 3")) === 1,
    );
    expect(await count(sandbox, 'captures', "service = 'healthcheck'")).toBe(0);
  });

  it('takes a changed file without restart, and keeps the good rules when the new file is broken', async () => {
    writeFileSync(rulesFile, RULES_V2);
    await waitFor(
      'version 2 to be recorded',
      async () => (await count(sandbox, 'file_versions', "file = 'routing rules'")) === 2,
    );
    const second = reported({ kind: 'DbTimeout', message: 'another timeout, other words' });
    await publishRaw(sandbox, 'error.reported', JSON.stringify(second));
    expect((await capturedFor(second)).data.route).toBe('platform-team');

    const seen = logs.length;
    writeFileSync(
      rulesFile,
      'version: 1\nrules:\n  - name: broken\n    match: { message: "([unclosed" }\n    actions: { drop: true }\n',
    );
    await waitFor('the broken rules rejected', async () =>
      logs
        .slice(seen)
        .some((l) => l.msg === 'routing rules rejected; keeping the last good version' && l.level === 'error'),
    );
    expect(await count(sandbox, 'file_versions', "file = 'routing rules'")).toBe(2);
    const third = reported({ kind: 'DbTimeout', message: 'a third distinct timeout text' });
    await publishRaw(sandbox, 'error.reported', JSON.stringify(third));
    expect((await capturedFor(third)).data.route).toBe('platform-team');
  });
});
