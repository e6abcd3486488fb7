// The charts' axis rules: integer count ticks, one readable unit per duration axis, labels never repeated.
import { describe, expect, it } from '@jest/globals';
import { dayLabel, dayMiddle, dayStart, valueAxis, type ValueKind } from './axes.js';

function labels(kind: ValueKind, values: number[]): string[] {
  const axis = valueAxis(kind, values);
  return axis.ticks.map(axis.label);
}

function wellFormed(kind: ValueKind, values: number[]) {
  const axis = valueAxis(kind, values);
  const texts = axis.ticks.map(axis.label);
  expect(new Set(texts).size).toBe(texts.length);
  expect(axis.ticks[0]).toBe(0);
  expect(axis.ticks.every((t, i) => i === 0 || t > axis.ticks[i - 1]!)).toBe(true);
  expect(axis.max).toBe(axis.ticks[axis.ticks.length - 1]);
  expect(Math.max(0, ...values)).toBeLessThanOrEqual(axis.max);
  return texts;
}

describe('value axes', () => {
  it('counts tick at whole numbers only (never 1.3, 2.5, 3.8)', () => {
    expect(labels('count', [5])).toEqual(['0', '1', '2', '3', '4', '5']);
    expect(labels('count', [1])).toEqual(['0', '1']);
    expect(labels('count', [0])).toEqual(['0', '1']);
    expect(labels('count', [])).toEqual(['0', '1']);
    for (const max of [1, 2, 3, 4, 5, 7, 9, 11, 13, 27, 99, 101, 1234, 98765]) {
      const texts = wellFormed('count', [max]);
      expect(texts.every((t) => /^\d{1,3}(,\d{3})*$/.test(t))).toBe(true);
      expect(texts.length).toBeLessThanOrEqual(11);
    }
  });

  it('durations use one unit the data spans, with labels that differ (never 0.1, 0.1, 0.2, 0.2)', () => {
    // 12 s reads in seconds, not as 0.2 min.
    expect(labels('duration', [12_000])).toEqual(['0 s', '2 s', '4 s', '6 s', '8 s', '10 s', '12 s']);
    expect(labels('duration', [450])).toEqual(['0 ms', '100 ms', '200 ms', '300 ms', '400 ms', '500 ms']);
    // 1.9 s reads in seconds too, not as 1900 ms.
    expect(labels('duration', [1_900])).toEqual(['0.0 s', '0.5 s', '1.0 s', '1.5 s', '2.0 s']);
    expect(labels('duration', [150_000])).toEqual(['0.0 min', '0.5 min', '1.0 min', '1.5 min', '2.0 min', '2.5 min']);
    expect(labels('duration', [5 * 3_600_000])).toEqual(['0 h', '1 h', '2 h', '3 h', '4 h', '5 h']);
    for (const max of [1, 7, 999, 1_500, 2_000, 59_000, 119_000, 121_000, 3_599_000, 7_300_000, 4 * 86_400_000]) {
      const texts = wellFormed('duration', [max, max / 3]);
      const units = new Set(texts.map((t) => t.split(' ')[1]));
      expect(units.size).toBe(1);
      expect(texts.every((t) => /^\d+(\.\d+)? (ms|s|min|h|d)$/.test(t))).toBe(true);
    }
  });

  it('rates run from 0% to 100% in whole percentages', () => {
    expect(labels('rate', [0.5])).toEqual(['0%', '20%', '40%', '60%', '80%', '100%']);
    expect(labels('rate', [])).toEqual(['0%', '20%', '40%', '60%', '80%', '100%']);
  });
});

describe('the time axis', () => {
  it('names each UTC day bucket by its date, whatever the time of day', () => {
    const first = dayStart('2026-12-28');
    const names = Array.from({ length: 7 }, (_, i) => dayLabel(dayMiddle(first, i)));
    expect(names).toEqual(['Dec 28', 'Dec 29', 'Dec 30', 'Dec 31', 'Jan 1', 'Jan 2', 'Jan 3']);
  });
});
