// trigger-mesh with HTTP ingest for a test file: a sandbox, a producers file of the given lines, the service, its URL.
import { startService, type RunningService } from '@grace/service-kit';
import { createSandbox, type Sandbox } from '@grace/service-kit/testing';
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

/** trigger-mesh whose PRODUCERS_FILE holds `producers` (YAML lines under `producers:`). */
export async function startIngest(
  label: string,
  producers: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<IngestService> {
  const dir = mkdtempSync(join(tmpdir(), `grace-${label}-`));
  const file = join(dir, 'producers.yaml');
  writeFileSync(file, ['producers:', ...producers].join('\n'));
  const sandbox = await createSandbox(label, { PRODUCERS_FILE: file, ...env });
  const service = (await startService(triggerMesh, sandbox.env)) as RunningService<Database, unknown>;
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
