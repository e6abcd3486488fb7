// Tests of dotted field paths, JSON equality and field comparison.
import { describe, expect, it } from '@jest/globals';
import { compareFields, describeMismatches, sameValue, valueAt } from './fields.js';

describe('valueAt', () => {
  it('reads a nested field through objects and arrays by index', () => {
    const state = { pool: { healthy: true, members: [{ id: 'a' }, { id: 'b' }] } };
    expect(valueAt(state, 'pool.healthy')).toEqual({ found: true, value: true });
    expect(valueAt(state, 'pool.members.1.id')).toEqual({ found: true, value: 'b' });
    expect(valueAt(['x', 'y'], '0')).toEqual({ found: true, value: 'x' });
  });

  it('prefers a literal key equal to the whole path, also below the top level', () => {
    expect(valueAt({ 'pool.healthy': false, pool: { healthy: true } }, 'pool.healthy')).toEqual({
      found: true,
      value: false,
    });
    expect(valueAt({ status: { 'pool.size': 4 } }, 'status.pool.size')).toEqual({ found: true, value: 4 });
  });

  it('reports a missing field as not found, and a present null as found', () => {
    const state = { pool: { healthy: null }, list: [1] };
    expect(valueAt(state, 'pool.size')).toEqual({ found: false });
    expect(valueAt(state, 'pool.healthy.deeper')).toEqual({ found: false });
    expect(valueAt(state, 'list.1')).toEqual({ found: false });
    expect(valueAt(state, 'list.first')).toEqual({ found: false });
    expect(valueAt(state, 'list.01')).toEqual({ found: false });
    expect(valueAt('text', 'length')).toEqual({ found: false });
    expect(valueAt(state, 'toString')).toEqual({ found: false });
    expect(valueAt(state, 'pool.healthy')).toEqual({ found: true, value: null });
  });
});

describe('sameValue', () => {
  it('compares objects deeply regardless of key order', () => {
    expect(sameValue({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1 })).toBe(true);
    expect(sameValue({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(sameValue({ a: 1, b: undefined }, { a: 1, c: undefined })).toBe(false);
  });

  it('keeps array order and never coerces', () => {
    expect(sameValue([1, 2], [2, 1])).toBe(false);
    expect(sameValue(1, 1.0)).toBe(true);
    expect(sameValue('1', 1)).toBe(false);
    expect(sameValue(0, false)).toBe(false);
    expect(sameValue(null, {})).toBe(false);
    expect(sameValue([], {})).toBe(false);
    expect(sameValue(null, null)).toBe(true);
  });
});

describe('compareFields', () => {
  it('compares every expected field and omits actual when the field is missing', () => {
    expect(
      compareFields({ 'pool.healthy': true, replicas: 3, mode: 'ok' }, { pool: { healthy: true }, replicas: 2 }),
    ).toEqual([
      { field: 'pool.healthy', expected: true, actual: true, matched: true },
      { field: 'replicas', expected: 3, actual: 2, matched: false },
      { field: 'mode', expected: 'ok', matched: false },
    ]);
  });

  it('restricts to the given fields and ignores names that are not expected', () => {
    const comparisons = compareFields({ a: 1, b: 2 }, { a: 1, b: 3 }, ['b', 'unknown', 'b']);
    expect(comparisons).toEqual([{ field: 'b', expected: 2, actual: 3, matched: false }]);
  });
});

describe('describeMismatches', () => {
  it('names each mismatched field with what it is and what was expected, and bounds the list', () => {
    const text = describeMismatches(compareFields({ a: true, b: 'x', c: 1 }, { a: false, c: 1 }));
    expect(text).toBe('a is false (expected true), b is missing (expected "x")');
    const many = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`f${i}`, i]));
    expect(describeMismatches(compareFields(many, {}))).toMatch(/and 3 more$/);
  });
});
