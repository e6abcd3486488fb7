// What `grace up` gives each process: ports, the gateway's secret, and the demo's settings (short windows, a
// bigger action budget, the demo catalog), each of which a variable set in the environment overrides.
import { REPO_ROOT, SERVICES, type ProcessName, type ServiceName } from '@grace/harness/system';
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';

/** The console's port; the services follow in the order of their own defaults (8080-8086). */
export const DEFAULT_PORT_BASE = 8080;
const PORT_OFFSETS: Record<ServiceName, number> = {
  'chat-gateway': 0,
  'trigger-mesh': 1,
  sentinel: 2,
  'action-executor': 3,
  verifier: 4,
  'learning-loop': 5,
  'cube-etl': 6,
};

/** Each service's HTTP port from a base (0: every service takes a free port). */
export function portsFrom(base: number): Record<ServiceName, number> {
  return Object.fromEntries(SERVICES.map((s) => [s, base === 0 ? 0 : base + PORT_OFFSETS[s]])) as Record<
    ServiceName,
    number
  >;
}

export const DEMO_CATALOG = join(REPO_ROOT, 'services/demo-target/playbooks.yaml');
export const CONSOLE_DIST = join(REPO_ROOT, 'packages/console/dist');

/** A setting the demo changes, and why; applied only when the variable is not set in the environment. */
export interface DemoSetting {
  service: ServiceName;
  name: string;
  value: string;
  /** For the banner: the value as a reader understands it, with what it replaces. */
  shown: string;
}

export const DEMO_SETTINGS: readonly DemoSetting[] = [
  // The demo's faults (one every 30 s) need more than the constitution's 3 actions of tier >= 2 per hour.
  {
    service: 'action-executor',
    name: 'ACTION_BUDGET',
    value: '1000',
    shown: 'action budget 1000 tier>=2 actions per service and hour (the constitution: 3)',
  },
  // 4 s error-rate windows instead of minutes, and one playbook that does not work (warm_cache).
  { service: 'sentinel', name: 'PLAYBOOKS_FILE', value: DEMO_CATALOG, shown: 'the demo catalog (4 s windows)' },
  // The demo breaks itself anew only once healthy: an escalated fault is remediated again after a minute.
  { service: 'sentinel', name: 'ESCALATION_HOLD_MS', value: '60000', shown: 'escalation hold 1 min (1 h)' },
  // Count updates every second, so the short windows see them.
  { service: 'trigger-mesh', name: 'EMIT_INTERVAL_MS', value: '1000', shown: 'count updates every 1 s (10 s)' },
  // Must exceed trigger-mesh's EMIT_INTERVAL_MS.
  { service: 'verifier', name: 'CAPTURE_SETTLE_MS', value: '2000', shown: 'capture settle 2 s (12 s)' },
  // Cube rows within seconds.
  { service: 'cube-etl', name: 'ETL_INTERVAL_MS', value: '2000', shown: 'cube ETL every 2 s (5 min)' },
];

/** The demo settings in force: those whose variable the environment does not set. */
export const appliedDemoSettings = (env: NodeJS.ProcessEnv) => DEMO_SETTINGS.filter((d) => env[d.name] === undefined);

export interface ProcessSettings {
  ports: Record<ServiceName, number>;
  jwtSecret: string;
  demo: boolean;
  env: NodeJS.ProcessEnv;
  /** trigger-mesh's PRODUCERS_FILE: the local producer of `grace up` (ingest.ts). */
  producersFile?: string;
}

/** The environment of each process on top of the shared one; what the user set in `env` wins over the demo. */
export function environmentOf(settings: ProcessSettings): Partial<Record<ProcessName, NodeJS.ProcessEnv>> {
  const envOf: Partial<Record<ProcessName, NodeJS.ProcessEnv>> = {};
  for (const service of SERVICES) envOf[service] = { HTTP_PORT: String(settings.ports[service]) };
  if (settings.demo)
    for (const d of appliedDemoSettings(settings.env)) envOf[d.service] = { ...envOf[d.service], [d.name]: d.value };
  envOf['chat-gateway'] = { ...envOf['chat-gateway'], JWT_SECRET: settings.jwtSecret };
  if (settings.producersFile)
    envOf['trigger-mesh'] = { ...envOf['trigger-mesh'], PRODUCERS_FILE: settings.producersFile };
  return envOf;
}

/** The gateway's HS256 secret: JWT_SECRET when set, else a new one for this run (tokens die with it). */
export function jwtSecretOf(env: NodeJS.ProcessEnv): { secret: string; generated: boolean } {
  if (env.JWT_SECRET) return { secret: env.JWT_SECRET, generated: false };
  return { secret: randomBytes(32).toString('hex'), generated: true };
}

/** Whether every directory above `dir` lets others through (the `postgres` user must reach its data). */
function reachableByOthers(dir: string): boolean {
  for (let d = dirname(resolve(dir)); ; d = dirname(d)) {
    try {
      if ((statSync(d).mode & 0o001) === 0) return false;
    } catch {
      // Not there yet: it will be created with the default mode.
    }
    if (dirname(d) === d) return true;
  }
}

/**
 * Where started servers keep their data: `.grace/` in the repository, unless running as root in a place the
 * `postgres` user cannot reach (e.g. under /root), then a directory under /var/tmp.
 */
export function defaultDataDir(): string {
  const inRepo = join(REPO_ROOT, '.grace');
  if (userInfo().uid !== 0 || reachableByOthers(inRepo)) return inRepo;
  return join('/var/tmp', `grace-${REPO_ROOT.replace(/[^a-zA-Z0-9]+/g, '-').replace(/^-|-$/g, '') || 'data'}`);
}
