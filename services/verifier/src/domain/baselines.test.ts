// Tests of baseline learning (Welford, then exponential forgetting), tolerances and deviations.
import { describe, expect, it } from '@jest/globals';
import { deviationOf, learnBaseline, stddevOf, toleranceOf, type BaselineState } from './baselines.js';

function learnAll(values: readonly number[], maxSamples?: number): BaselineState {
  let state: BaselineState | undefined;
  for (const value of values) state = learnBaseline(state, value, maxSamples);
  if (state === undefined) throw new Error('no values');
  return state;
}

describe('learnBaseline', () => {
  it('starts from the first observation with no spread', () => {
    expect(learnBaseline(undefined, 120)).toEqual({ value: 120, m2: 0, samples: 1 });
    expect(stddevOf(learnBaseline(undefined, 120))).toBe(0);
  });

  it('gives the exact mean and sample standard deviation of a small sample', () => {
    const state = learnAll([2, 4, 4, 4, 5, 5, 7, 9]);
    expect(state.samples).toBe(8);
    expect(state.value).toBeCloseTo(5, 12);
    // Sum of squared differences is 32; sample variance 32 / 7.
    expect(state.m2).toBeCloseTo(32, 12);
    expect(stddevOf(state)).toBeCloseTo(Math.sqrt(32 / 7), 12);
  });

  it('after maxSamples keeps the count and weighs each new value 1/maxSamples', () => {
    const full = learnAll([10, 10, 10, 10]);
    const next = learnBaseline(full, 50, 4);
    expect(next.samples).toBe(4);
    expect(next.value).toBeCloseTo(10 + 40 / 4, 12);
    // Weighted variance (1 - w) * (0 + w * 40^2) = 0.75 * 400 = 300, stored as m2 = 300 * (4 - 1).
    expect(stddevOf(next)).toBeCloseTo(Math.sqrt(300), 10);
    expect(next.m2).toBeCloseTo(900, 10);
  });

  it('forgets: a lasting new normal takes over the mean', () => {
    const old = learnAll(
      Array.from({ length: 20 }, () => 100),
      20,
    );
    const moved = learnAll([...Array.from({ length: 20 }, () => 100), ...Array.from({ length: 200 }, () => 300)], 20);
    expect(old.value).toBe(100);
    expect(moved.samples).toBe(20);
    expect(moved.value).toBeGreaterThan(299);
  });

  it('rejects a value that is not finite, and a bad maxSamples', () => {
    expect(() => learnBaseline(undefined, Number.NaN)).toThrow(RangeError);
    expect(() => learnBaseline(undefined, 1, 0)).toThrow(RangeError);
  });
});

describe('toleranceOf', () => {
  it('is the largest of three standard deviations, half the mean and the metric floor', () => {
    expect(toleranceOf({ value: 10, m2: 0, samples: 10 }, 'latency_ms')).toBe(50);
    expect(toleranceOf({ value: 1000, m2: 0, samples: 10 }, 'latency_ms')).toBe(500);
    expect(toleranceOf({ value: 0.2, m2: 0, samples: 10 }, 'errors_per_minute')).toBe(1);
    expect(toleranceOf({ value: 0.2, m2: 0, samples: 10 }, 'queue_depth')).toBeCloseTo(0.1, 12);
    // stddev 100 (m2 = 100^2 * 9 over 10 samples): 3 stddev beats half the mean.
    expect(toleranceOf({ value: 200, m2: 90_000, samples: 10 }, 'latency_ms')).toBeCloseTo(300, 10);
    expect(toleranceOf({ value: 0, m2: 0, samples: 10 }, 'constructor')).toBe(0);
  });
});

describe('deviationOf', () => {
  const steady: BaselineState = { value: 100, m2: 0, samples: 10 };

  it('reports a value above mean + tolerance with the baseline and tolerance', () => {
    expect(deviationOf(steady, 151, 'latency_ms')).toEqual({ baseline: 100, tolerance: 50 });
    expect(deviationOf(steady, 150, 'latency_ms')).toBeUndefined();
  });

  it('ignores values below the baseline: faster is no drift', () => {
    expect(deviationOf(steady, 0, 'latency_ms')).toBeUndefined();
  });

  it('trusts no baseline below minSamples', () => {
    expect(deviationOf(undefined, 10_000, 'latency_ms')).toBeUndefined();
    expect(deviationOf({ ...steady, samples: 4 }, 10_000, 'latency_ms')).toBeUndefined();
    expect(deviationOf({ ...steady, samples: 4 }, 10_000, 'latency_ms', 4)).toBeDefined();
  });
});
