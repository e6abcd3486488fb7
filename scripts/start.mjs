// `pnpm start`: Grace end to end from a fresh clone. Installs the dependencies when they are missing
// (`pnpm install --frozen-lockfile`), then runs `grace up` with the arguments given (`pnpm start -- --no-demo`),
// forwarding signals and its exit code. Plain Node, no dependencies: it runs before anything is installed.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const say = (text) => process.stderr.write(`grace start: ${text}\n`);

const [major] = process.versions.node.split('.').map(Number);
if (major < 20) {
  say(`Grace needs Node.js 20 or later; this is ${process.version} (https://nodejs.org, or nvm install 20)`);
  process.exit(1);
}

/** The workspace's package folders, from pnpm-workspace.yaml's `packages:` globs (`dir/*` or `dir`). */
function workspacePackages() {
  const yaml = readFileSync(join(ROOT, 'pnpm-workspace.yaml'), 'utf8');
  const globs = [];
  let inPackages = false;
  for (const line of yaml.split('\n')) {
    if (/^\S/.test(line)) inPackages = /^packages:/.test(line);
    const item = inPackages && /^\s+-\s+['"]?([^'"#]+?)['"]?\s*(#.*)?$/.exec(line);
    if (item) globs.push(item[1]);
  }
  const dirs = [];
  for (const glob of globs) {
    if (glob.startsWith('!')) continue;
    if (!glob.endsWith('/*')) {
      dirs.push(join(ROOT, glob));
      continue;
    }
    const parent = join(ROOT, glob.slice(0, -2));
    if (!existsSync(parent)) continue;
    for (const entry of readdirSync(parent, { withFileTypes: true }))
      if (entry.isDirectory()) dirs.push(join(parent, entry.name));
  }
  return dirs.filter((dir) => existsSync(join(dir, 'package.json')));
}

/** What is not installed: the root's node_modules, or a package with dependencies but no node_modules. */
function missingInstall() {
  if (!existsSync(join(ROOT, 'node_modules', '.modules.yaml'))) return 'node_modules';
  for (const dir of workspacePackages()) {
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const deps = { ...manifest.dependencies, ...manifest.devDependencies };
    if (Object.keys(deps).length > 0 && !existsSync(join(dir, 'node_modules')))
      return `${dir.slice(ROOT.length + 1)}/node_modules`;
  }
  return undefined;
}

/** How to run pnpm: the one running this script (`pnpm start`), else pnpm on PATH. */
function pnpmCommand() {
  const execPath = process.env.npm_execpath;
  if (execPath && basename(execPath).startsWith('pnpm') && existsSync(execPath)) {
    return /\.[cm]?js$/.test(execPath) ? [process.execPath, [execPath]] : [execPath, []];
  }
  return ['pnpm', []];
}

const missing = missingInstall();
if (missing) {
  say(`${missing} is missing: installing the dependencies (pnpm install --frozen-lockfile)`);
  const [command, prefix] = pnpmCommand();
  const install = spawnSync(command, [...prefix, 'install', '--frozen-lockfile'], { cwd: ROOT, stdio: 'inherit' });
  if (install.error) {
    say(
      install.error.code === 'ENOENT'
        ? 'pnpm is not installed: npm install -g pnpm@10 (or corepack enable), then pnpm start'
        : `pnpm install could not run: ${install.error.message}`,
    );
    process.exit(1);
  }
  if (install.status !== 0) {
    say(`pnpm install --frozen-lockfile failed (exit ${install.status ?? install.signal}); see its output above`);
    process.exit(install.status || 1);
  }
}

// `pnpm start -- --no-demo` passes `--no-demo`; an older pnpm passes the `--` as well.
const args = process.argv.slice(2);
if (args[0] === '--') args.shift();

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
