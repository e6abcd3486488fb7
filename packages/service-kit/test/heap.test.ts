import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { HEAP_OPTIONS, withHeapOptions } from '../src/index.js';

describe('the heap options of a service process', () => {
  it('puts each heap option in front of a NODE_OPTIONS that does not set it, and keeps what it sets', () => {
    expect(withHeapOptions(undefined)).toBe(HEAP_OPTIONS.join(' '));
    expect(withHeapOptions('  ')).toBe(HEAP_OPTIONS.join(' '));
    expect(withHeapOptions('--enable-source-maps')).toBe(`${HEAP_OPTIONS.join(' ')} --enable-source-maps`);
    expect(withHeapOptions('--max-old-space-size=512')).toBe('--max-semi-space-size=8 --max-old-space-size=512');
    expect(withHeapOptions('--max_old_space_size=512 --max-semi-space-size=16')).toBe(
      '--max_old_space_size=512 --max-semi-space-size=16',
    );
  });

  it('are options node takes in NODE_OPTIONS, and cap the old generation where they say', () => {
    const run = (nodeOptions: string) =>
      spawnSync(process.execPath, ['-p', 'require("v8").getHeapStatistics().heap_size_limit'], {
        env: { ...process.env, NODE_OPTIONS: nodeOptions },
        encoding: 'utf8',
      });
    const capped = run(withHeapOptions(undefined));
    expect(capped.status).toBe(0);
    const uncapped = run('');
    const limitMb = (out: string) => Number(out.trim()) / 1048576;
    // The limit covers the old generation (96 MB) and the young one's spaces: far below the uncapped default.
    expect(limitMb(capped.stdout)).toBeGreaterThanOrEqual(96);
    expect(limitMb(capped.stdout)).toBeLessThan(160);
    expect(limitMb(uncapped.stdout)).toBeGreaterThan(limitMb(capped.stdout) * 2);
  });
});
