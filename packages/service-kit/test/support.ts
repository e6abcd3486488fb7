// The kit's own test support: the shared testing helpers plus the fixtures of this package.
import { fileURLToPath } from 'node:url';
import { spawnTs } from '../src/testing.js';

export * from '../src/testing.js';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));

/** Run one of this package's fixtures (test/fixtures/<file>) as its own process. */
export function spawnFixture(file: string, args: string[], env: NodeJS.ProcessEnv) {
  return spawnTs(`${fixtures}${file}`, args, env);
}
