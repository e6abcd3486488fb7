// Tests of the state check.
import { describe, expect, it } from '@jest/globals';
import { evaluateStateCheck, type StateCheck } from './state-check.js';

const check: StateCheck = { kind: 'state', name: 'state' };
const expected = { 'pool.healthy': true, replicas: 3 };

describe('evaluateStateCheck', () => {
  it('passes when every expected field is in the reported state', () => {
    const result = evaluateStateCheck(check, expected, { pool: { healthy: true }, replicas: 3 });
    expect(result).toMatchObject({
      name: 'state',
      kind: 'state',
      status: 'passed',
      reason: '2 state fields as expected',
    });
    expect(result.fields).toHaveLength(2);
  });

  it('fails on a mismatch, with the comparisons', () => {
    const result = evaluateStateCheck(check, expected, { 'pool.healthy': false, replicas: 3 });
    expect(result).toMatchObject({ status: 'failed', reason: 'pool.healthy is false (expected true)' });
    expect(result.fields).toContainEqual({ field: 'pool.healthy', expected: true, actual: false, matched: false });
  });

  it('compares only the fields the check names', () => {
    const result = evaluateStateCheck({ ...check, fields: ['replicas'] }, expected, { replicas: 3 });
    expect(result.status).toBe('passed');
    expect(result.fields).toEqual([{ field: 'replicas', expected: 3, actual: 3, matched: true }]);
  });

  it('is skipped when there is nothing to compare', () => {
    expect(evaluateStateCheck(check, {}, { replicas: 3 }).status).toBe('skipped');
    expect(evaluateStateCheck({ ...check, fields: [] }, expected, {}).status).toBe('skipped');
  });
});
