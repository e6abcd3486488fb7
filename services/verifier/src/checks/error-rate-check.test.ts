// Tests of the error_rate check.
import { describe, expect, it } from '@jest/globals';
import { evaluateErrorRate, type ErrorRateCheck } from './error-rate-check.js';

const check: ErrorRateCheck = { kind: 'error_rate', name: 'errors', scope: 'fingerprint', window_ms: 120_000 };

describe('evaluateErrorRate', () => {
  it('passes when the rate after the action is within the contract ceiling', () => {
    const result = evaluateErrorRate(check, { before: 24, after: 1 }, 1);
    expect(result).toMatchObject({
      name: 'errors',
      kind: 'error_rate',
      status: 'passed',
      reason: '0.5/min after (ceiling 1/min, 12/min before)',
    });
    expect(result.observed).toEqual({
      before_per_minute: 12,
      after_per_minute: 0.5,
      ceiling_per_minute: 1,
      window_ms: 120_000,
    });
  });

  it('passes at exactly the ceiling and fails above it', () => {
    expect(evaluateErrorRate(check, { before: 0, after: 2 }, 1).status).toBe('passed');
    expect(evaluateErrorRate(check, { before: 0, after: 3 }, 1)).toMatchObject({
      status: 'failed',
      reason: '1.5/min after (ceiling 1/min, 0/min before)',
    });
  });

  it("prefers the check's own ceiling to the contract's", () => {
    const strict = { ...check, ceiling_per_minute: 0 };
    expect(evaluateErrorRate(strict, { before: 0, after: 1 }, 10).status).toBe('failed');
  });

  it('is an error when the counts are not counts', () => {
    expect(evaluateErrorRate(check, { before: -1, after: 0 }, 1).status).toBe('error');
    expect(evaluateErrorRate(check, { before: 0, after: Number.NaN }, 1).status).toBe('error');
  });
});
