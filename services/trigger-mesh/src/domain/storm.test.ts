import { describe, expect, it } from '@jest/globals';
import { StormControl } from './storm.js';

describe('StormControl', () => {
  it('lets a service burst up to its per-second limit, then calls the rest a storm until tokens refill', () => {
    const storm = new StormControl({ perServicePerSecond: 10, globalPerSecond: 1_000 });
    const first = Array.from({ length: 15 }, () => storm.record('checkout', 1_000));
    expect(first.filter((s) => s === undefined)).toHaveLength(10);
    expect(first.slice(10)).toEqual(Array(5).fill('service'));
    // 100 ms later one more token is back.
    expect(storm.record('checkout', 1_100)).toBeUndefined();
    expect(storm.record('checkout', 1_100)).toBe('service');
  });

  it('keeps services apart, and applies the global limit across them', () => {
    const storm = new StormControl({ perServicePerSecond: 5, globalPerSecond: 8 });
    const results = [
      ...Array.from({ length: 5 }, () => storm.record('a', 0)),
      ...Array.from({ length: 5 }, () => storm.record('b', 0)),
    ];
    expect(results.filter((s) => s === undefined)).toHaveLength(8);
    expect(results.slice(8)).toEqual(['global', 'global']);
  });
});
