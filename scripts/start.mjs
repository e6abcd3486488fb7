// `npm start` / `pnpm start`: Grace end to end from a fresh clone. Installs the dependencies when they are
// missing (`pnpm install --frozen-lockfile`, with npx's pnpm on a machine with only Node.js), then runs `grace up`
// with the arguments given (`npm start -- --no-demo`), forwarding signals and its exit code.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { checkNode, ensureInstalled, ROOT, scriptArgs } from './workspace.mjs';

const say = (text) => process.stderr.write(`grace start: ${text}\n`);
checkNode(say);
ensureInstalled(say);

const args = scriptArgs();

// grace up in a session of its own (setsid), with this process as its front: a Ctrl-C reaches only us (and
// pnpm), and grace stops the services, then NATS and Postgres, in order. GRACE_UP_DETACHED tells it so.
const grace = spawn(
  process.execPath,
  ['--conditions=source', '--import', 'tsx', join(ROOT, 'packages/cli/src/main.ts'), 'up', ...args],
  {
    cwd: ROOT,
    detached: true,
    // The IPC channel closes when this process dies, however it dies: grace then stops everything.
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, GRACE_UP_DETACHED: '1' },
  },
);

// One Ctrl-C reaches us twice (from the terminal and from pnpm): signals within 500 ms are the same one.
let lastForwarded = 0;
const forward = (signal) => {
  const now = Date.now();
  if (now - lastForwarded < 500) return;
  lastForwarded = now;
  grace.kill(signal === 'SIGHUP' ? 'SIGTERM' : signal);
};
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, forward);

grace.once('error', (err) => {
  say(`could not run grace up: ${err.message}`);
  process.exit(1);
});
grace.once('exit', (code, signal) => {
  process.exit(code ?? (signal === 'SIGKILL' ? 137 : 1));
});
