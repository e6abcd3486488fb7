// The error_rate check: errors per minute in the window after the action, against the ceiling.
import type { schemas } from '@grace/contracts';
import type { Static } from '@sinclair/typebox';

type CheckResult = schemas.CheckResult;
export type ErrorRateCheck = Static<typeof schemas.ErrorRateCheck>;

/** Errors counted over check.window_ms before and after the action. */
export interface ErrorCounts {
  before: number;
  after: number;
}

function isCount(value: number): boolean {
  return Number.isFinite(value) && value >= 0;
}

function rate(value: number): string {
  return `${Number(value.toFixed(2))}/min`;
}

/** Passed when the rate after the action is at most the check's ceiling, or the contract's when it sets none. */
export function evaluateErrorRate(check: ErrorRateCheck, counts: ErrorCounts, contractCeiling: number): CheckResult {
  const base = { name: check.name, kind: 'error_rate' as const, duration_ms: 0 };
  if (!isCount(counts.before) || !isCount(counts.after)) {
    return { ...base, status: 'error', reason: `invalid error counts: ${counts.before} before, ${counts.after} after` };
  }
  const minutes = check.window_ms / 60_000;
  const before = counts.before / minutes;
  const after = counts.after / minutes;
  const ceiling = check.ceiling_per_minute ?? contractCeiling;
  const observed = {
    before_per_minute: before,
    after_per_minute: after,
    ceiling_per_minute: ceiling,
    window_ms: check.window_ms,
  };
  const reason = `${rate(after)} after (ceiling ${rate(ceiling)}, ${rate(before)} before)`;
  return { ...base, status: after <= ceiling ? 'passed' : 'failed', reason, observed };
}
