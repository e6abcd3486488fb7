// Before a run from dist: bring the compiled services (and the harness, whose relay hop runs compiled too) up
// to date with their sources (`tsc -b` is incremental: a few seconds when nothing changed).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { REPO_ROOT, SERVICES } from '../launch.js';

export async function buildDist(): Promise<void> {
  const projects = [...SERVICES.map((name) => `services/${name}`), 'packages/harness'];
  try {
    await promisify(execFile)(process.execPath, ['node_modules/typescript/bin/tsc', '-b', ...projects], {
      cwd: REPO_ROOT,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (err) {
    const { stdout } = err as { stdout?: string };
    throw new Error(`building the services failed (tsc -b):\n${(stdout ?? String(err)).slice(-4000)}`);
  }
}
