// `grace migrate` as a real process against a database of its own: every service's schema created and
// migrated, a second run changes nothing, an unreachable database is exit 3 with what to do.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SERVICES } from '@grace/harness/system';
import { DATABASE_URL, exited, spawnTs } from '@grace/service-kit/testing';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));

describe('grace migrate', () => {
  const database = `grace_migrate_${randomBytes(4).toString('hex')}`;
  const url = new URL(DATABASE_URL);
  url.pathname = `/${database}`;
  const admin = new pg.Pool({ connectionString: DATABASE_URL, max: 1 });

  beforeAll(async () => {
    await admin.query(`create database ${database}`);
  });
  afterAll(async () => {
    await admin.query(`drop database if exists ${database} with (force)`);
    await admin.end();
  });

  async function grace(args: string[]) {
    const child = spawnTs(MAIN, args, { DATABASE_URL: url.toString() });
    const { code } = await exited(child);
    return { code, output: child.output() };
  }

  it('creates and migrates the schema of every service, and a second run has nothing to apply', async () => {
    const first = await grace(['--json', 'migrate']);
    expect(first.code).toBe(0);
    const applied = JSON.parse(first.output) as { service: string; schema: string; applied: string[] }[];
    expect(applied.map((m) => m.service)).toEqual([...SERVICES]);
    for (const m of applied) expect(m.applied.length).toBeGreaterThan(0);

    const db = new pg.Client({ connectionString: url.toString() });
    await db.connect();
    const { rows } = await db.query<{ schema_name: string }>(
      `select schema_name from information_schema.schemata where schema_name = any($1)`,
      [applied.map((m) => m.schema)],
    );
    // Every schema holds its migration record and the kit's outbox.
    for (const { schema } of applied) {
      const tables = await db.query<{ table_name: string }>(
        `select table_name from information_schema.tables where table_schema = $1`,
        [schema],
      );
      expect(tables.rows.map((t) => t.table_name)).toEqual(expect.arrayContaining(['migrations', 'outbox']));
    }
    await db.end();
    expect(rows).toHaveLength(SERVICES.length);

    const second = await grace(['migrate', '--service', 'sentinel,cube-etl']);
    expect(second.code).toBe(0);
    expect(second.output).toMatch(/sentinel\s+sentinel\s+up to date/);
    expect(second.output).toMatch(/cube-etl\s+cube_etl\s+up to date/);
  }, 120_000);

  it('says what to do when the database is not reachable (exit 3) and refuses an unknown service (exit 2)', async () => {
    const down = await grace([
      'migrate',
      '--service',
      'verifier',
      '--database-url',
      'postgres://postgres@127.0.0.1:1/x',
    ]);
    expect(down.code).toBe(3);
    expect(down.output).toMatch(/verifier: migration failed/);
    expect(down.output).toMatch(/is PostgreSQL running/);
    const unknown = await grace(['migrate', '--service', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.output).toMatch(/unknown service nope/);
  });
});
