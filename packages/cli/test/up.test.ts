// `grace up` as a user runs it: a real process (not a terminal, so its logs are JSON lines), the seven services
// and the demo target as its children, checked through the gateway's API with the token its banner prints.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { streams } from '@grace/contracts';
import { freePort, Naming, request } from '@grace/service-kit';
import { DATABASE_URL, NATS_URL, exited, spawnTs, waitFor } from '@grace/service-kit/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));

interface Banner {
  msg: string;
  console_url: string;
  token: string;
  ports: Record<string, number>;
  nats_source: string;
  database_source: string;
  ingest_url: string;
  ingest_token?: string;
  sentry_dsn?: string;
  ingest_examples?: { format: string; command: string }[];
}

/** `grace up` as a process; its JSON lines parsed on demand. */
function graceUp(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawnTs(MAIN, ['up', '--port-base', '0', ...args], { LOG_LEVEL: 'info', DB_POOL_MAX: '2', ...env });
  const records = () =>
    child
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => {
        try {
          return JSON.parse(line) as Record<string, unknown>;
        } catch {
          return {};
        }
      });
  const banner = async (): Promise<Banner> => {
    const deadline = Date.now() + 150_000;
    for (;;) {
      const found = records().find((r) => r.msg === 'Grace is up');
      if (found) return found as unknown as Banner;
      if (child.exitCode !== null || Date.now() > deadline)
        throw new Error(`no banner (exit ${child.exitCode}):\n${child.output().slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  return { child, records, banner };
}

/** Every process (ours or not) whose environment or command line holds `marker`. */
function processesWith(marker: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (readFileSync(`/proc/${pid}/environ`, 'utf8').includes(marker) || cmdline.includes(marker))
        found.push(`${pid} ${cmdline.replace(/\0/g, ' ')}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** A GET on the gateway's API as the banner's admin. */
async function api<T>(banner: Banner, path: string): Promise<T> {
  const response = await fetch(`${banner.console_url}/api/v1${path}`, {
    headers: { authorization: `Bearer ${banner.token}` },
  });
  if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

/** A PATH without any directory that holds nats-server. */
const pathWithoutNatsServer = () =>
  (process.env.PATH ?? '')
    .split(delimiter)
    .filter((dir) => dir && !existsSync(join(dir, 'nats-server')))
    .join(delimiter);

/** Addresses nothing listens on, for the probed defaults. */
async function closedDefaults(): Promise<NodeJS.ProcessEnv> {
  return {
    NATS_URL: undefined,
    DATABASE_URL: undefined,
    GRACE_DEFAULT_NATS_URL: `nats://127.0.0.1:${await freePort()}`,
    GRACE_DEFAULT_DATABASE_URL: `postgres://postgres@127.0.0.1:${await freePort()}/postgres`,
  };
}

describe('grace up', () => {
  describe('on the NATS and PostgreSQL given by NATS_URL and DATABASE_URL, with the demo', () => {
    const id = randomBytes(4).toString('hex');
    const namespace = `t_up${id}`;
    const database = `grace_up_${id}`;
    const admin = new pg.Pool({ connectionString: DATABASE_URL, max: 1 });

    beforeAll(async () => {
      await admin.query(`create database ${database}`);
    });

    afterAll(async () => {
      const nc = await connect({ servers: NATS_URL });
      const jsm = await jetstreamManager(nc);
      for (const s of streams) await jsm.streams.delete(`${namespace}_${s.name}`).catch(() => undefined);
      await nc.close();
      await admin.query(`drop database if exists ${database} with (force)`);
      await admin.end();
    });

    it('turns a demo fault into a resolved incident, a verified contract, a statistic and a cube row; SIGINT stops all with exit 0', async () => {
      const url = new URL(DATABASE_URL);
      url.pathname = `/${database}`;
      const up = graceUp([], {
        NATS_URL,
        DATABASE_URL: url.toString(),
        GRACE_NAMESPACE: namespace,
        DEMO_FAULT_INTERVAL_MS: '5000',
        JWT_SECRET: undefined,
      });
      try {
        const banner = await up.banner();
        expect(banner).toMatchObject({ nats_source: 'NATS_URL', database_source: 'DATABASE_URL' });
        expect(Object.keys(banner.ports).sort()).toHaveLength(7);

        // HTTP ingest is open with the banner's local producer: each printed command, run as printed, is accepted.
        expect(banner.ingest_token).toMatch(/^grace-local-[0-9a-f]{32}$/);
        expect(banner.sentry_dsn).toMatch(
          new RegExp(`^http://[0-9a-f]{32}@127\\.0\\.0\\.1:${banner.ports['trigger-mesh']}/1$`),
        );
        const statuses = Object.fromEntries(
          (banner.ingest_examples ?? []).map((e) => {
            const run = spawnSync('sh', ['-c', e.command], { encoding: 'utf8' });
            return [e.format, run.stdout.trim().split('\n').at(-1)];
          }),
        );
        expect(statuses).toEqual({ events: '202', cloudevent: '202', alertmanager: '202', sentry: '200' });

        // An incident the demo caused, resolved by a playbook whose contract the verifier judged verified.
        const resolved = await waitFor(
          'a resolved incident',
          async () =>
            (
              await api<{ items: { incident_id: string; service: string }[] }>(banner, '/incidents?status=resolved')
            ).items.find((i) => i.service === 'demo'),
          90_000,
        );
        const { trail } = await api<{ trail: { action_id: string; outcome: string }[] }>(
          banner,
          `/incidents/${resolved.incident_id}`,
        );
        const fix = trail.find((d) => d.outcome === 'verified');
        expect(fix).toBeDefined();
        // The gateway finds contracts by contract id; the executor answers by action id too (NATS, as the CLI).
        const nc = await connect({ servers: NATS_URL });
        const { contract } = await request(
          'executor.query.contract',
          { action_id: fix!.action_id },
          { nc, naming: new Naming(namespace), timeoutMs: 5_000 },
        ).finally(() => nc.close());
        const { verification } = await api<{ verification?: { verdict: string } }>(
          banner,
          `/contracts/${contract.contract_id}`,
        );
        expect(verification?.verdict).toBe('verified');

        // The learning loop's statistic reached the sentinel's catalog.
        const learnt = await waitFor(
          'a learnt statistic',
          async () =>
            (
              await api<{ playbooks: { name: string; statistics: { successes: number }[] }[] }>(banner, '/playbooks')
            ).playbooks.find((p) => p.statistics.some((s) => s.successes > 0)),
          30_000,
        );
        expect(learnt.name).toMatch(/clear_cache|reconnect_database|toggle_feature_flag/);

        // The cube's ETL (every 2 s in the demo) has the verified action in a row.
        const now = Date.now();
        const range = `from=${new Date(now - 3_600_000).toISOString()}&to=${new Date(now + 3_600_000).toISOString()}`;
        const row = await waitFor(
          'a cube row',
          async () =>
            (
              await api<{ rows: { group: string; verified: number }[] }>(
                banner,
                `/cube/success_rate?${range}&bucket=hour`,
              )
            ).rows.find((r) => r.verified > 0),
          30_000,
        );
        expect(row.group).toMatch(/clear_cache|reconnect_database|toggle_feature_flag/);

        // And the story was told on the way, as JSON lines with a service field.
        const told = up.records().filter((r) => r.service === 'events');
        expect(told.map((r) => r.subject)).toEqual(expect.arrayContaining(['incident.opened', 'contract.verified']));
        expect(up.records().some((r) => r.service === 'demo-target')).toBe(true);
      } finally {
        up.child.kill('SIGINT');
      }
      expect(await exited(up.child)).toEqual({ code: 0, signal: null });
      expect(up.records().some((r) => r.service === 'grace' && r.msg === 'stopped')).toBe(true);
      expect(processesWith(namespace)).toEqual([]);
    }, 240_000);
  });

  it('with nothing reachable, starts nats-server and an embedded PostgreSQL, and SIGINT stops them too', async () => {
    // Root's PostgreSQL runs as the postgres user, which must reach the data directory: not under /root.
    const dataDir = mkdtempSync('/var/tmp/grace-up-test-');
    chmodSync(dataDir, 0o755);
    const marker = `t_upfallback${randomBytes(4).toString('hex')}`;
    const up = graceUp(['--no-demo', '--data-dir', dataDir], { ...(await closedDefaults()), GRACE_NAMESPACE: marker });
    try {
      try {
        const banner = await up.banner();
        // The newest nats-server found, named with its version and path.
        expect(banner.nats_source).toMatch(/^nats-server \d+\.\d+\.\d+ \(\/.+\/nats-server\) started on port \d+$/);
        expect(banner.database_source).toMatch(/^embedded PostgreSQL on port \d+$/);
        // The services work on them: the sentinel answers through the gateway.
        const { playbooks } = await api<{ playbooks: unknown[] }>(banner, '/playbooks');
        expect(playbooks.length).toBeGreaterThan(0);
        expect(processesWith(dataDir).length).toBeGreaterThanOrEqual(2);
      } finally {
        up.child.kill('SIGINT');
      }
      expect(await exited(up.child)).toEqual({ code: 0, signal: null });
      expect(processesWith(dataDir)).toEqual([]);
      expect(processesWith(marker)).toEqual([]);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 240_000);

  it('with nothing reachable and no nats-server on PATH, exits 3 saying how to get one', async () => {
    const dataDir = mkdtempSync('/var/tmp/grace-up-test-');
    try {
      const up = graceUp(['--no-demo', '--data-dir', dataDir], {
        ...(await closedDefaults()),
        PATH: pathWithoutNatsServer(),
        // Nor in a tools folder (scripts/tools.sh's), which the launcher looks in too.
        GRACE_TOOLS_DIR: dataDir,
      });
      const { code } = await exited(up.child);
      expect(code).toBe(3);
      expect(up.child.output()).toMatch(/nats-server is not on PATH: install it \(Debian\/Ubuntu: apt-get install/);
      expect(up.child.output()).toMatch(/or set NATS_URL to a running server/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
