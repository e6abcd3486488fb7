import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { watchConfigFile, type WatchedFile } from './file-watch.js';
import { createLogger } from './logger.js';

const parse = (text: string) => {
  const n = Number(text.trim());
  if (!Number.isInteger(n)) throw new Error(`"${text.trim()}" is not a whole number`);
  return n;
};

describe('watchConfigFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'grace-watch-'));
  const path = join(dir, 'value.txt');
  let watched: WatchedFile<number> | undefined;
  afterEach(() => watched?.stop());

  it('refuses to start on a broken file, naming it and the reason', async () => {
    writeFileSync(path, 'seven');
    await expect(
      watchConfigFile({ path, what: 'test values', parse, log: createLogger('t', 'silent'), intervalMs: 50 }),
    ).rejects.toThrow(`test values at ${path} are not valid: "seven" is not a whole number`);
  });

  it('takes a changed file without restart, and keeps the last good version when the change is bad', async () => {
    writeFileSync(path, '1');
    const loads: number[] = [];
    const rejects: string[] = [];
    watched = await watchConfigFile({
      path,
      what: 'test values',
      parse,
      onLoad: (v) => void loads.push(v),
      onReject: (r) => void rejects.push(r),
      log: createLogger('t', 'silent'),
      intervalMs: 20,
    });
    expect(watched.current()).toBe(1);
    writeFileSync(path, '2');
    expect(await watched.reload()).toBe(true);
    expect(watched.current()).toBe(2);
    writeFileSync(path, 'two');
    expect(await watched.reload()).toBe(false);
    expect(watched.current()).toBe(2);
    expect(rejects).toEqual(['"two" is not a whole number']);
    // The poller sees a change on its own.
    writeFileSync(path, '3');
    const deadline = Date.now() + 5_000;
    while (watched.current() !== 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(watched.current()).toBe(3);
    expect(loads).toEqual([1, 2, 3]);
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));
});
