// Group commit and prepared statements against a real Postgres: units ready together share one commit, a failing
// unit fails alone, and a repeated statement is parsed once per connection.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql, type Kysely, type Transaction } from 'kysely';
import { randomUUID } from 'node:crypto';
import {
  createDb,
  createLogger,
  GroupCommit,
  kitTransaction,
  lastInTransaction,
  PREPARED_PER_CONNECTION,
} from '../src/index.js';
import { DATABASE_URL } from './support.js';

interface Tables {
  items: { id: string; n: number };
}

const log = createLogger('group-commit-test', 'silent');
const schema = `gc_${randomUUID().slice(0, 8)}`;
let commits = 0;
let statements = 0;
let db: Kysely<Tables>;

beforeAll(async () => {
  ({ db } = createDb<Tables>({
    url: DATABASE_URL,
    schema,
    poolMax: 1,
    statementTimeoutMs: 10_000,
    applicationName: 'group-commit-test',
    prepare: true,
    onCommit: () => commits++,
    onStatement: () => statements++,
  }));
  await sql
    .raw(`create schema ${schema}; create table ${schema}.items (id text primary key, n int not null)`)
    .execute(db);
});

afterAll(async () => {
  await sql.raw(`drop schema ${schema} cascade`).execute(db);
  await db.destroy();
});

const group = (max: number, sizes: number[] = []) =>
  new GroupCommit<Transaction<Tables>>((body) => db.transaction().execute(body), {
    max,
    log,
    onGroup: (n) => sizes.push(n),
  });

const insert = (id: string, n: number) => async (trx: Transaction<Tables>) => {
  await trx.insertInto('items').values({ id, n }).execute();
  return `${id}:${n}`;
};

describe('GroupCommit', () => {
  it('commits the units ready while a transaction is in flight together, each getting its own result', async () => {
    const sizes: number[] = [];
    const gc = group(8, sizes);
    const before = commits;
    const results = await Promise.all(Array.from({ length: 17 }, (_, i) => gc.submit(insert(`a${i}`, i))));
    expect(results).toEqual(Array.from({ length: 17 }, (_, i) => `a${i}:${i}`));
    // The first runs alone at once; the 16 that queued behind it go in groups of at most 8.
    expect(sizes).toEqual([1, 8, 8]);
    expect(commits - before).toBe(3);
    const rows = await db
      .selectFrom('items')
      .select(sql<number>`count(*)::int`.as('n'))
      .where('id', 'like', 'a%')
      .executeTakeFirstOrThrow();
    expect(rows.n).toBe(17);
  });

  it('never puts two units of one key in a transaction: they go side by side in separate ones', async () => {
    const sizes: number[] = [];
    const gc = new GroupCommit<Transaction<Tables>>((body) => db.transaction().execute(body), {
      max: 8,
      concurrency: 1,
      log,
      onGroup: (n) => sizes.push(n),
    });
    const results = await Promise.all([
      gc.submit(insert('k0', 0), 'one'),
      gc.submit(insert('k1', 1), 'one'),
      gc.submit(insert('k2', 2), 'two'),
      gc.submit(insert('k3', 3), 'one'),
      gc.submit(insert('k4', 4)),
    ]);
    expect(results).toEqual(['k0:0', 'k1:1', 'k2:2', 'k3:3', 'k4:4']);
    // k0 alone at once; then k1 with k2 and k4 (k3 has k1's key); then k3.
    expect(sizes).toEqual([1, 3, 1]);
  });

  it('runs the units of a failed group again alone: only the failing one fails, nothing is written twice', async () => {
    const gc = group(8);
    await gc.submit(insert('dup', 0));
    const before = commits;
    const outcomes = await Promise.allSettled([
      gc.submit(insert('b0', 0)),
      gc.submit(insert('b1', 1)),
      gc.submit(insert('dup', 2)),
      gc.submit(insert('b3', 3)),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(String((outcomes[2] as PromiseRejectedResult).reason)).toMatch(/duplicate key/);
    // b0 alone; b1, dup, b3 as a group that rolls back; then each of the three alone (one of them fails).
    expect(commits - before).toBe(3);
    const rows = await db
      .selectFrom('items')
      .select(['id', 'n'])
      .where('id', 'in', ['b0', 'b1', 'b3', 'dup'])
      .orderBy('id')
      .execute();
    expect(rows).toEqual([
      { id: 'b0', n: 0 },
      { id: 'b1', n: 1 },
      { id: 'b3', n: 3 },
      { id: 'dup', n: 0 },
    ]);
  });
});

describe('lastInTransaction', () => {
  /** A unit that inserts its item and gathers its id for the end of the transaction; `fail` throws after that. */
  const unit =
    (id: string, order: string[], fail = false) =>
    async (trx: Transaction<Tables>) => {
      await trx.insertInto('items').values({ id, n: 0 }).execute();
      order.push(`unit ${id}`);
      lastInTransaction(trx, 'ids', [id], async (ids) => {
        order.push(`last ${ids.join(',')}`);
        await trx
          .insertInto('items')
          .values({ id: `last:${ids.join(',')}`, n: ids.length })
          .execute();
      });
      if (fail) throw new Error(`unit ${id} fails`);
      return id;
    };

  it('runs what the units of a group gathered once, after all of them, in their transaction', async () => {
    const order: string[] = [];
    const gc = new GroupCommit<Transaction<Tables>>((body) => kitTransaction(db, body), { max: 8, log });
    const before = commits;
    await Promise.all(['l0', 'l1', 'l2', 'l3'].map((id) => gc.submit(unit(id, order))));
    // l0 alone at once; l1-l3 queued behind it and share the next transaction and its one flush.
    expect(order).toEqual(['unit l0', 'last l0', 'unit l1', 'unit l2', 'unit l3', 'last l1,l2,l3']);
    expect(commits - before).toBe(2);
    const rows = await db
      .selectFrom('items')
      .select(['id', 'n'])
      .where('id', 'like', 'last:l%')
      .orderBy('id')
      .execute();
    expect(rows).toEqual([
      { id: 'last:l0', n: 1 },
      { id: 'last:l1,l2,l3', n: 3 },
    ]);
  });

  it('drops what a rolled-back transaction gathered: each unit run again alone gathers its own', async () => {
    const order: string[] = [];
    const gc = new GroupCommit<Transaction<Tables>>((body) => kitTransaction(db, body), { max: 8, log });
    const outcomes = await Promise.allSettled([
      gc.submit(unit('r0', order)),
      gc.submit(unit('r1', order)),
      gc.submit(unit('r2', order, true)),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    const rows = await db.selectFrom('items').select('id').where('id', 'like', 'last:r%').orderBy('id').execute();
    // r1 and r2 shared a transaction that rolled back (r1's flush never ran there); r1 alone flushed only r1.
    expect(rows.map((r) => r.id)).toEqual(['last:r0', 'last:r1']);
    expect(order.filter((o) => o.startsWith('last'))).toEqual(['last r0', 'last r1']);
  });

  it('refuses a transaction the kit did not open, where nothing would run it', async () => {
    await expect(
      db.transaction().execute(async (trx) => lastInTransaction(trx, 'ids', ['x'], async () => undefined)),
    ).rejects.toThrow(/"ids" is written last in a transaction the service kit opened/);
  });
});

describe('prepared statements', () => {
  const prepared = async () =>
    (await sql<{ n: number }>`select count(*)::int as n from pg_prepared_statements`.execute(db)).rows[0]!.n;

  it('parses a repeated statement with parameters once per connection, with each call its own values', async () => {
    const start = await prepared();
    const sums: number[] = [];
    for (let i = 0; i < 10; i++) {
      const row = await db
        .selectFrom('items')
        .select(sql<number>`count(*)::int + ${i}`.as('n'))
        .where('n', '>=', i)
        .executeTakeFirstOrThrow();
      sums.push(row.n);
    }
    expect(await prepared()).toBe(start + 1);
    // Each call had its own values: the counts fall with the bound and the offset grows.
    expect(new Set(sums).size).toBeGreaterThan(1);
  });

  it('keeps at most PREPARED_PER_CONNECTION texts prepared; the rest run unnamed and still answer', async () => {
    for (let i = 0; i < PREPARED_PER_CONNECTION + 20; i++) {
      const row = await sql<{ n: number }>`select ${i}::int + ${sql.raw(String(i))} as n`.execute(db);
      expect(row.rows[0]!.n).toBe(2 * i);
    }
    expect(await prepared()).toBe(PREPARED_PER_CONNECTION);
  });

  it('prepares a statement again when a migration changed the table under it (a rolling upgrade)', async () => {
    // A connection of its own (the other tests fill theirs up to the cap).
    const own = createDb<Tables>({
      url: DATABASE_URL,
      schema,
      poolMax: 1,
      statementTimeoutMs: 10_000,
      applicationName: 'group-commit-test-stale',
      prepare: true,
    }).db;
    try {
      await sql.raw(`create table ${schema}.notes (id text primary key, n int not null)`).execute(own);
      await sql.raw(`insert into ${schema}.notes values ('p1', 7)`).execute(own);
      const read = () =>
        (own as unknown as Kysely<{ notes: Tables['items'] }>)
          .selectFrom('notes')
          .selectAll()
          .where('id', '=', 'p1')
          .executeTakeFirst();
      expect(await read()).toEqual({ id: 'p1', n: 7 });
      await sql.raw(`alter table ${schema}.notes add column note text`).execute(own);
      // The prepared plan returns the old row type: the server refuses it once, the next call prepares afresh.
      await expect(read()).rejects.toMatchObject({ code: '0A000' });
      expect(await read()).toEqual({ id: 'p1', n: 7, note: null });
    } finally {
      await own.destroy();
    }
  });

  it('counts every statement and every commit as the server does', async () => {
    const [c, s] = [commits, statements];
    await db.transaction().execute(async (trx) => {
      await trx.insertInto('items').values({ id: 'c0', n: 0 }).execute();
      await trx.insertInto('items').values({ id: 'c1', n: 1 }).execute();
    });
    await db.selectFrom('items').selectAll().where('id', '=', 'c0').execute();
    expect(commits - c).toBe(2);
    expect(statements - s).toBe(5);
  });
});
