// What `npm start` / `pnpm start` and `npm test` / `pnpm test` need before anything is installed: the workspace's
// packages, whether their dependencies are installed, and a pnpm to run (the one running this script, pnpm on
// PATH, or `npx -y pnpm@<packageManager>` on a machine with only Node.js). Plain Node, no dependencies.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

export function checkNode(say) {
  const [major] = process.versions.node.split('.').map(Number);
  if (major < 20) {
    say(`Grace needs Node.js 20 or later; this is ${process.version} (https://nodejs.org, or nvm install 20)`);
    process.exit(1);
  }
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

/**
 * How to run pnpm: the one running this script (`pnpm start`), else pnpm on PATH, else the version the root's
 * `packageManager` names through npx (which comes with Node.js).
 */
export function pnpmCommand() {
  const execPath = process.env.npm_execpath;
  if (execPath && basename(execPath).startsWith('pnpm') && existsSync(execPath)) {
    return /\.[cm]?js$/.test(execPath) ? [process.execPath, [execPath]] : [execPath, []];
  }
  if (!spawnSync('pnpm', ['--version'], { stdio: 'ignore' }).error) return ['pnpm', []];
  const manager = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).packageManager ?? 'pnpm@10';
  return ['npx', ['-y', manager.split('+')[0]]];
}

/** Run pnpm with `args` in the workspace; its exit status (the process exits when pnpm cannot run at all). */
export function runPnpm(args, say, options = {}) {
  const [command, prefix] = pnpmCommand();
  const run = spawnSync(command, [...prefix, ...args], { cwd: ROOT, stdio: 'inherit', ...options });
  if (run.error) {
    say(`pnpm could not run (${command}): ${run.error.message}; npm install -g pnpm@10 installs it`);
    process.exit(1);
  }
  return run.status ?? 1;
}

/** Install the dependencies (frozen lockfile) when something is missing; exits when the install fails. */
export function ensureInstalled(say) {
  const missing = missingInstall();
  if (!missing) return;
  say(`${missing} is missing: installing the dependencies (pnpm install --frozen-lockfile)`);
  const status = runPnpm(['install', '--frozen-lockfile'], say);
  if (status !== 0) {
    say(`pnpm install --frozen-lockfile failed (exit ${status}); see its output above`);
    process.exit(status || 1);
  }
}

/** The arguments after the script's name, without the `--` an older pnpm passes on. */
export function scriptArgs() {
  const args = process.argv.slice(2);
  if (args[0] === '--') args.shift();
  return args;
}
