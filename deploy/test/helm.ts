// Renders the Helm chart offline: builds deploy/helm/render (Go's text/template + sprig, Helm's engine) once per
// content of its source into node_modules/.cache, runs it and parses what it prints.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const CHART = join(REPO, 'deploy/helm/grace');
const RENDER_SOURCE = join(REPO, 'deploy/helm/render');
const CACHE = join(REPO, 'node_modules/.cache/grace-helm-render');

/** The Debian packages the renderer builds from (CI installs them in .ci/run). */
export const GO_PACKAGES = 'golang-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v2-dev';
const GOPATH = '/usr/share/gocode';

/** A Kubernetes object as rendered. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

export interface RenderOptions {
  /** Values files (paths), applied in order after the chart's values.yaml. */
  values?: string[];
  /** --set path=value overrides, applied last. */
  set?: Record<string, string>;
  releaseName?: string;
  namespace?: string;
  /** Extra .Capabilities.APIVersions. */
  apiVersions?: string[];
}

export interface Rendered {
  objects: K8sObject[];
  /** The template file each object came from (`grace/templates/<file>`), by index. */
  sources: string[];
  /** The merged values the templates saw (what Helm validates against values.schema.json). */
  values: Record<string, unknown>;
  yaml: string;
}

let built: string | undefined;

/** The renderer's binary, built when its source changed since the last build. */
export function renderer(): string {
  if (built) return built;
  const source = readFileSync(join(RENDER_SOURCE, 'main.go'));
  const binary = join(CACHE, `render-${createHash('sha256').update(source).digest('hex').slice(0, 16)}`);
  if (!existsSync(binary)) {
    const go = spawnSync('go', ['version'], { encoding: 'utf8' });
    if (go.error || go.status !== 0)
      throw new Error(
        `the Helm chart renderer needs Go, sprig and yaml.v2 from Debian, and "go" is not on PATH: ` +
          `apt-get install ${GO_PACKAGES}`,
      );
    mkdirSync(CACHE, { recursive: true });
    const building = mkdtempSync(join(tmpdir(), 'grace-render-'));
    const build = spawnSync('go', ['build', '-o', join(building, 'render'), '.'], {
      cwd: RENDER_SOURCE,
      encoding: 'utf8',
      env: {
        ...process.env,
        GO111MODULE: 'off',
        GOPATH,
        GOFLAGS: '',
        GOCACHE: join(CACHE, 'go-build'),
      },
    });
    if (build.status !== 0) {
      rmSync(building, { recursive: true, force: true });
      throw new Error(
        `cannot build the Helm chart renderer (deploy/helm/render): ${build.stderr || build.error?.message}\n` +
          `it builds offline from Debian's packages: apt-get install ${GO_PACKAGES}`,
      );
    }
    renameSync(join(building, 'render'), binary); // atomic: parallel test files never run a half-written binary
    rmSync(building, { recursive: true, force: true });
    for (const old of readdirSync(CACHE))
      if (old.startsWith('render-') && join(CACHE, old) !== binary) rmSync(join(CACHE, old), { force: true });
  }
  built = binary;
  return binary;
}

function args(options: RenderOptions): string[] {
  const list = ['-chart', CHART, '-name', options.releaseName ?? 'grace', '-namespace', options.namespace ?? 'grace'];
  for (const file of options.values ?? []) list.push('-f', file);
  for (const [path, value] of Object.entries(options.set ?? {})) list.push('-set', `${path}=${value}`);
  for (const version of options.apiVersions ?? []) list.push('-api-versions', version);
  return list;
}

/** Runs the renderer; `ok` false with Helm's error message when a template fails. */
export function runRenderer(
  options: RenderOptions,
  extra: string[] = [],
): { ok: boolean; stdout: string; stderr: string } {
  const result = spawnSync(renderer(), [...args(options), ...extra], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return { ok: result.status === 0, stdout: result.stdout, stderr: result.stderr };
}

/** Renders the chart as `helm template` would and parses every object. */
export function renderChart(options: RenderOptions = {}): Rendered {
  const dir = mkdtempSync(join(tmpdir(), 'grace-values-'));
  try {
    const valuesFile = join(dir, 'values.json');
    const result = runRenderer(options, ['-values-out', valuesFile]);
    if (!result.ok) throw new Error(`the chart did not render: ${result.stderr}`);
    const objects: K8sObject[] = [];
    const sources: string[] = [];
    for (const document of parseAllDocuments(result.stdout)) {
      if (document.errors.length > 0) throw new Error(`rendered YAML does not parse: ${document.errors[0]?.message}`);
      const object = document.toJS() as K8sObject | null;
      if (!object) continue;
      objects.push(object);
      sources.push(/# Source: (\S+)/.exec(String(document.commentBefore ?? ''))?.[1] ?? '');
    }
    const values = JSON.parse(readFileSync(valuesFile, 'utf8')) as Record<string, unknown>;
    return { objects, sources, values, yaml: result.stdout };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** templates/NOTES.txt rendered. */
export function renderNotes(options: RenderOptions = {}): string {
  return execFileSync(renderer(), [...args(options), '-notes'], { encoding: 'utf8' });
}
