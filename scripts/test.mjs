// `npm test` / `pnpm test`: installs the dependencies when they are missing (as `npm start` does), builds the
// console the browser test loads, then runs jest once over the whole workspace with the arguments given
// (`npm test -- services/sentinel`), exiting with jest's status.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { checkNode, ensureInstalled, ROOT, runPnpm, scriptArgs } from './workspace.mjs';

const say = (text) => process.stderr.write(`grace test: ${text}\n`);
checkNode(say);
ensureInstalled(say);
const built = runPnpm(['--silent', '--filter', '@grace/console', 'build'], say, {
  stdio: ['ignore', 'ignore', 'inherit'],
});
if (built !== 0) {
  say(`the console did not build (exit ${built})`);
  process.exit(built);
}
const jest = spawnSync(
  process.execPath,
  [
    '--experimental-vm-modules',
    '--no-warnings=ExperimentalWarning',
    join(ROOT, 'node_modules/jest/bin/jest.js'),
    ...scriptArgs(),
  ],
  { cwd: ROOT, stdio: 'inherit' },
);
process.exit(jest.status ?? 1);
