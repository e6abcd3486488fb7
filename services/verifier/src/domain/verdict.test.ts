// Tests of the verdict rules, their precedence, and the confidence.
import { describe, expect, it } from '@jest/globals';
import type { schemas } from '@grace/contracts';
import { decideVerdict, scoreOf, type BaselineDeviation, type WeightedResult } from './verdict.js';

type Kind = schemas.CheckResult['kind'];
type Status = schemas.CheckResult['status'];
type FieldComparison = schemas.FieldComparison;

function result(
  name: string,
  kind: Kind,
  status: Status,
  extra: { reason?: string; fields?: FieldComparison[]; weight?: number } = {},
): WeightedResult {
  return { name, kind, status, reason: extra.reason ?? status, duration_ms: 1, ...extra };
}

const match = (field: string): FieldComparison => ({ field, expected: true, actual: true, matched: true });
const miss = (field: string): FieldComparison => ({ field, expected: true, actual: false, matched: false });
const slow: BaselineDeviation = { check: 'health', metric: 'latency_ms', baseline: 100, observed: 400, tolerance: 50 };

describe('scoreOf', () => {
  it('scores passed 1, error 0, skipped not at all', () => {
    expect(scoreOf(result('a', 'http', 'passed'))).toBe(1);
    expect(scoreOf(result('a', 'http', 'error'))).toBe(0);
    expect(scoreOf(result('a', 'http', 'skipped'))).toBeNull();
  });

  it('gives a failed check the fraction of its fields that matched, 0 without fields', () => {
    expect(scoreOf(result('s', 'state', 'failed', { fields: [match('a'), match('b'), match('c'), miss('d')] }))).toBe(
      0.75,
    );
    expect(scoreOf(result('s', 'state', 'failed', { fields: [] }))).toBe(0);
    expect(scoreOf(result('h', 'http', 'failed'))).toBe(0);
  });
});

describe('decideVerdict', () => {
  it('verifies when every check passed, with confidence exactly 1', () => {
    const decision = decideVerdict([result('h', 'http', 'passed'), result('s', 'state', 'passed')], []);
    expect(decision).toEqual({ verdict: 'verified', confidence: 1, reason: '2 checks passed' });
  });

  it('fails when nothing was checked', () => {
    expect(decideVerdict([], [])).toEqual({ verdict: 'failed', confidence: 0, reason: 'nothing was checked' });
    expect(decideVerdict([result('s', 'state', 'skipped')], [])).toEqual({
      verdict: 'failed',
      confidence: 0,
      reason: 'nothing was checked',
    });
  });

  it('ignores skipped checks beside checks that ran', () => {
    const decision = decideVerdict([result('h', 'http', 'passed'), result('s', 'state', 'skipped')], []);
    expect(decision).toMatchObject({ verdict: 'verified', confidence: 1, reason: '1 check passed, 1 skipped' });
  });

  it('fails on a check that could not run, before any other rule', () => {
    const decision = decideVerdict(
      [
        result('h', 'http', 'failed', { reason: 'expected 200, got 503' }),
        result('n', 'nats', 'error', { reason: 'no reply on remediation.api.status: TIMEOUT' }),
        result('s', 'state', 'failed', { fields: [miss('a')] }),
      ],
      [slow],
    );
    expect(decision.verdict).toBe('failed');
    expect(decision.reason).toBe(
      'could not verify: check n could not run: no reply on remediation.api.status: TIMEOUT',
    );
    expect(decision.drift).toBeUndefined();
  });

  it('fails on a failed http or error_rate check, before drift', () => {
    const decision = decideVerdict(
      [
        result('h', 'http', 'failed', { reason: 'expected 200, got 503' }),
        result('e', 'error_rate', 'failed', { reason: '5/min after (ceiling 1/min, 9/min before)' }),
        result('s', 'state', 'failed', { fields: [miss('a')] }),
      ],
      [slow],
    );
    expect(decision.verdict).toBe('failed');
    expect(decision.reason).toBe(
      'target still unhealthy: check h failed: expected 200, got 503; check e failed: 5/min after (ceiling 1/min, 9/min before)',
    );
  });

  it('fails on a failed http check even when only its json fields differ', () => {
    const decision = decideVerdict([result('h', 'http', 'failed', { fields: [miss('status')] })], []);
    expect(decision.verdict).toBe('failed');
  });

  it('fails on a failed state check with no mismatched field to show', () => {
    expect(decideVerdict([result('s', 'state', 'failed', { reason: 'odd' })], []).verdict).toBe('failed');
  });

  it('calls mismatched state and nats fields drift, carrying the deviations too', () => {
    const decision = decideVerdict(
      [
        result('h', 'http', 'passed'),
        result('s', 'state', 'failed', { fields: [match('a'), miss('b')] }),
        result('n', 'nats', 'failed', { fields: [miss('pool.healthy')] }),
      ],
      [slow],
    );
    expect(decision.verdict).toBe('drift');
    expect(decision.drift).toEqual({ fields: [miss('b'), miss('pool.healthy')], baselines: [slow] });
    expect(decision.reason).toBe(
      'away from the expected state: s: b is false (expected true); n: pool.healthy is false (expected true)',
    );
  });

  it('calls a baseline deviation drift when every check passed', () => {
    const decision = decideVerdict([result('health', 'http', 'passed')], [slow]);
    expect(decision).toEqual({
      verdict: 'drift',
      confidence: 0.8,
      reason: 'beyond baseline: health latency_ms 400 (baseline 100 ± 50)',
      drift: { fields: [], baselines: [slow] },
    });
  });

  it('weighs partial credit by check weight, rounded to 4 decimals', () => {
    const decision = decideVerdict(
      [
        result('h', 'http', 'passed', { weight: 2 }),
        result('s', 'state', 'failed', { fields: [match('a'), miss('b'), miss('c')] }),
      ],
      [],
    );
    // (2 * 1 + 1 * 1/3) / 3 = 0.77777...
    expect(decision.confidence).toBe(0.7778);
  });

  it('takes 0.8 off the confidence per deviation, multiplicatively', () => {
    expect(decideVerdict([result('h', 'http', 'passed')], [slow, slow]).confidence).toBe(0.64);
  });

  it('counts an error as 0 in the confidence', () => {
    const decision = decideVerdict([result('h', 'http', 'passed', { weight: 3 }), result('n', 'nats', 'error')], []);
    expect(decision.confidence).toBe(0.75);
  });

  it('keeps the reason within the contract limit', () => {
    const long = 'x'.repeat(2000);
    const decision = decideVerdict(
      [result('a', 'http', 'error', { reason: long }), result('b', 'http', 'error', { reason: long })],
      [],
    );
    expect(decision.reason.length).toBeLessThanOrEqual(2048);
  });
});
