// Runs real Helm v4 on the chart deploy/helm/grace: finds the binary (scripts/tools.sh builds it into the tools
// cache), renders with `helm template` and parses what it prints, renders NOTES.txt through a client-side dry-run
// install, and merges the values as Helm does (Helm prints no merged values) for the tests to read.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const CHART = join(REPO, 'deploy/helm/grace');

/** Where scripts/tools.sh puts the tools it builds (outside the repository, so every clone shares them). */
export const TOOLS_BIN = join(process.env.GRACE_TOOLS_DIR || join(homedir(), '.cache/grace/tools'), 'bin');

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
  /** --set path=value overrides, applied last (plain values: no commas, lists or indices). */
  set?: Record<string, string>;
  releaseName?: string;
  namespace?: string;
  /** Extra .Capabilities.APIVersions. */
  apiVersions?: string[];
  /** Leave out templates/tests/ (`helm template --skip-tests`). */
  skipTests?: boolean;
}

export interface Rendered {
  objects: K8sObject[];
  /** The template file each object came from (`grace/templates/<file>`), by index. */
  sources: string[];
  /** The merged values the templates saw (what Helm validates against values.schema.json). */
  values: Record<string, unknown>;
  yaml: string;
}

export interface HelmResult {
  ok: boolean;
  status: number | null;
  stdout: string;
  stderr: string;
}

let found: string | undefined;

/** The helm binary, v4: $HELM, else the tools cache's, else `helm` on PATH. */
export function helmBinary(): string {
  if (found) return found;
  const candidates = [process.env.HELM, join(TOOLS_BIN, 'helm'), 'helm'].filter(Boolean) as string[];
  const seen: string[] = [];
  for (const candidate of candidates) {
    if (candidate.includes('/') && !existsSync(candidate)) continue;
    const version = spawnSync(candidate, ['version', '--template', '{{.Version}}'], { encoding: 'utf8' });
    if (version.status !== 0) continue;
    if (version.stdout.startsWith('v4.')) return (found = candidate);
    seen.push(`${candidate} is ${version.stdout.trim()}`);
  }
  throw new Error(
    `no Helm v4 (looked at ${candidates.join(', ')}${seen.length ? `; ${seen.join(', ')}` : ''}): ` +
      `run scripts/tools.sh, which builds it into ${TOOLS_BIN}, or set HELM to one`,
  );
}

/** Runs helm with these arguments. */
export function helm(args: string[]): HelmResult {
  const result = spawnSync(helmBinary(), args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (result.error) throw result.error;
  return { ok: result.status === 0, status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The release name, chart, namespace, values files and --set arguments of `helm template` / `helm install`. */
export function chartArgs(options: RenderOptions): string[] {
  const list = [options.releaseName ?? 'grace', CHART, '--namespace', options.namespace ?? 'grace'];
  for (const file of options.values ?? []) list.push('--values', file);
  for (const [path, value] of Object.entries(options.set ?? {})) list.push('--set', `${path}=${value}`);
  for (const version of options.apiVersions ?? []) list.push('--api-versions', version);
  return list;
}

/** `helm template`; `ok` false with Helm's message (schema or template error) in stderr when it refuses. */
export function runTemplate(options: RenderOptions = {}, extra: string[] = []): HelmResult {
  return helm(['template', ...chartArgs(options), ...(options.skipTests ? ['--skip-tests'] : []), ...extra]);
}

/** Renders the chart with `helm template` and parses every object. */
export function renderChart(options: RenderOptions = {}): Rendered {
  const result = runTemplate(options);
  if (!result.ok) throw new Error(`the chart did not render: ${result.stderr}`);
  const objects: K8sObject[] = [];
  const sources: string[] = [];
  for (const document of parseAllDocuments(result.stdout)) {
    if (document.errors.length > 0) throw new Error(`rendered YAML does not parse: ${document.errors[0]?.message}`);
    const object = document.toJS() as K8sObject | null;
    if (!object) continue;
    objects.push(object);
    // `# Source: grace/templates/<file>` right after `---`: the comment of the document's first node.
    const comment = `${document.commentBefore ?? ''}\n${(document.contents as { commentBefore?: string }).commentBefore ?? ''}`;
    sources.push(/Source: (\S+)/.exec(comment)?.[1] ?? '');
  }
  return { objects, sources, values: mergedValues(options), yaml: result.stdout };
}

/** templates/NOTES.txt rendered: Helm renders it only on install/upgrade, so a client-side dry-run install. */
export function renderNotes(options: RenderOptions = {}): string {
  const result = helm(['install', ...chartArgs(options), '--dry-run=client', '--output', 'json']);
  if (!result.ok) throw new Error(`the chart did not install (dry run): ${result.stderr}`);
  return (JSON.parse(result.stdout) as { info: { notes?: string } }).info.notes ?? '';
}

// The values, merged as Helm does it: the -f files deep-merged in order (maps key by key, anything else
// replaced), the --set paths on top, then coalesced with values.yaml, where a null of the user's deletes the
// chart's key. YAML is read as YAML 1.1 (yes/no/on/off are booleans), as Helm's sigs.k8s.io/yaml does.
type Values = Record<string, unknown>;
const isMap = (value: unknown): value is Values => !!value && typeof value === 'object' && !Array.isArray(value);
const readValues = (file: string) => (parse(readFileSync(file, 'utf8'), { version: '1.1' }) ?? {}) as Values;

function mergeMaps(into: Values, from: Values): Values {
  const out = { ...into };
  for (const [key, value] of Object.entries(from))
    out[key] = isMap(value) && isMap(out[key]) ? mergeMaps(out[key] as Values, value) : value;
  return out;
}

function coalesce(user: Values, chart: Values): Values {
  const out = { ...user };
  for (const [key, value] of Object.entries(chart)) {
    if (!(key in out)) out[key] = value;
    else if (out[key] === null) delete out[key];
    else if (isMap(out[key]) && isMap(value)) out[key] = coalesce(out[key] as Values, value);
  }
  return out;
}

/** A --set value typed as Helm's strvals types it: true, false, null, integers (no leading zero), else a string. */
function setValue(raw: string): unknown {
  if (raw === 'true' || raw === 'false') return raw === 'true';
  if (raw === 'null') return null;
  if (/^(0|-?[1-9][0-9]*)$/.test(raw)) return Number(raw);
  return raw;
}

export function mergedValues(options: RenderOptions = {}): Values {
  let user: Values = {};
  for (const file of options.values ?? []) user = mergeMaps(user, readValues(file));
  for (const [path, raw] of Object.entries(options.set ?? {})) {
    const keys = path.split(/(?<!\\)\./).map((key) => key.replace(/\\\./g, '.'));
    const patch: Values = {};
    let at = patch;
    for (const key of keys.slice(0, -1)) at = at[key] = {};
    at[keys[keys.length - 1] as string] = setValue(raw);
    user = mergeMaps(user, patch);
  }
  return coalesce(user, readValues(join(CHART, 'values.yaml')));
}
