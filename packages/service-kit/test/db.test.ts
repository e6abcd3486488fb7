import { describe, expect, it } from '@jest/globals';
import { DATABASE_URL, exited, spawnFixture } from './support.js';

describe('the database pool', () => {
  it('survives the server ending a connection a transaction holds (a Postgres restart): the process lives on', async () => {
    const child = spawnFixture('held-connection.ts', [], { DATABASE_URL });
    const { code } = await exited(child);
    expect(child.output()).toContain('transaction failed: ');
    expect(child.output()).not.toContain('transaction failed: none');
    expect(child.output()).toContain('pool serves again: true');
    expect(code).toBe(0);
  }, 30_000);
});
