// trigger-mesh with HTTP ingest for a test file: a sandbox, a producers file of the given lines, the service, its URL.
import { startService, type RunningService } from '@grace/service-kit';
import { createSandbox, withLogTap, type LogLine, type Sandbox } from '@grace/service-kit/testing';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { triggerMesh } from '../src/service.js';
import type { Database } from '../src/store.js';

export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export interface IngestService {
  sandbox: Sandbox;
  service: RunningService<Database, unknown>;
  /** `http://127.0.0.1:<port>`: the ingest port. */
  base: string;
  stop(): Promise<void>;
}

export interface IngestOptions {
  /** Settings of the sandbox (and so of the service). */
  env?: NodeJS.ProcessEnv;
  /** Settings of the service only, over the sandbox's (e.g. a NATS_URL of the test's own server). */
  serviceEnv?: NodeJS.ProcessEnv;
  /** Where the service's log lines go, for tests that wait for one. */
  logs?: LogLine[];
}

/** trigger-mesh whose PRODUCERS_FILE holds `producers` (YAML lines under `producers:`). */
export async function startIngest(
  label: string,
  producers: string[],
  options: IngestOptions = {},
): Promise<IngestService> {
  const dir = mkdtempSync(join(tmpdir(), `grace-${label}-`));
  const file = join(dir, 'producers.yaml');
  writeFileSync(file, ['producers:', ...producers].join('\n'));
  const sandbox = await createSandbox(label, { PRODUCERS_FILE: file, ...options.env });
  const def = options.logs ? withLogTap(triggerMesh, options.logs) : triggerMesh;
  const service = (await startService(def, { ...sandbox.env, ...options.serviceEnv })) as RunningService<
    Database,
    unknown
  >;
  return {
    sandbox,
    service,
    base: `http://127.0.0.1:${service.httpPort}`,
    async stop() {
      await service.stop();
      await sandbox.cleanup();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
