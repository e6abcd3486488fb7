// The verdict on an executed action from its check results and baseline deviations, with its confidence.
//
// Rules, first match wins (skipped checks are ignored throughout):
//   0. nothing was checked (no checks, or all skipped) -> failed, confidence 0.
//   1. a check in `error` -> failed: a check that cannot run is never success.
//   2. an http or error_rate check failed -> failed: the target is still unhealthy. So is any other failed check
//      without a mismatched field to show for it, since nothing then says the failure is mere drift.
//   3. a failed state or nats check with mismatched fields -> drift, drift.fields = those comparisons.
//   4. a baseline deviation -> drift, drift.baselines = the deviations.
//   5. otherwise verified.
// A drift verdict always carries both arrays (empty when none); other verdicts carry no drift.
//
// Confidence is the weighted mean of scoreOf over the checks not skipped (weight default 1), times 0.8 per
// baseline deviation (0.8^n, never below 0), rounded to 4 decimals. Every check passed and no deviation gives
// exactly 1.
import type { schemas } from '@grace/contracts';
import type { Static } from '@sinclair/typebox';
import { describeMismatches } from './fields.js';

type CheckResult = schemas.CheckResult;
type FieldComparison = schemas.FieldComparison;
type Verdict = schemas.Verdict;
type DriftDetails = schemas.DriftDetails;
export type BaselineDeviation = Static<typeof schemas.BaselineDeviation>;

/** A check result with the weight its check has in the confidence (default 1). */
export type WeightedResult = CheckResult & { weight?: number };

export interface Decision {
  verdict: Verdict;
  confidence: number;
  reason: string;
  drift?: DriftDetails;
}

const DEVIATION_FACTOR = 0.8;
// Contract limits: a verdict's reason and each drift array.
const MAX_REASON_CHARS = 2048;
const MAX_DRIFT_ITEMS = 64;

/** A check's score in [0, 1]; null for a skipped check, which counts neither way. */
export function scoreOf(result: CheckResult): number | null {
  switch (result.status) {
    case 'passed':
      return 1;
    case 'skipped':
      return null;
    case 'error':
      return 0;
    case 'failed': {
      // Partial credit: a state three fields out of four right is closer to done than one with none.
      const fields = result.fields ?? [];
      return fields.length === 0 ? 0 : fields.filter((f) => f.matched).length / fields.length;
    }
  }
}

function confidenceOf(results: readonly WeightedResult[], deviations: number): number {
  let weighted = 0;
  let total = 0;
  for (const result of results) {
    const score = scoreOf(result);
    if (score === null) continue;
    const weight = result.weight ?? 1;
    weighted += weight * score;
    total += weight;
  }
  if (total === 0) return 0;
  const confidence = (weighted / total) * DEVIATION_FACTOR ** deviations;
  return Math.round(Math.max(0, Math.min(1, confidence)) * 10_000) / 10_000;
}

function clip(text: string): string {
  return text.length > MAX_REASON_CHARS ? `${text.slice(0, MAX_REASON_CHARS - 1)}…` : text;
}

function mismatchedFields(result: CheckResult): FieldComparison[] {
  return (result.fields ?? []).filter((f) => !f.matched);
}

function describeDeviation(d: BaselineDeviation): string {
  return `${d.check} ${d.metric} ${d.observed} (baseline ${d.baseline} ± ${d.tolerance})`;
}

/** Applies the rules in the header, in order. */
export function decideVerdict(results: readonly WeightedResult[], deviations: readonly BaselineDeviation[]): Decision {
  const ran = results.filter((r) => r.status !== 'skipped');
  if (ran.length === 0) return { verdict: 'failed', confidence: 0, reason: 'nothing was checked' };
  const confidence = confidenceOf(ran, deviations.length);

  const errors = ran.filter((r) => r.status === 'error');
  if (errors.length > 0) {
    const why = errors.map((r) => `check ${r.name} could not run: ${r.reason}`).join('; ');
    return { verdict: 'failed', confidence, reason: clip(`could not verify: ${why}`) };
  }

  const failed = ran.filter((r) => r.status === 'failed');
  const unhealthy = failed.filter(
    (r) => r.kind === 'http' || r.kind === 'error_rate' || mismatchedFields(r).length === 0,
  );
  if (unhealthy.length > 0) {
    const why = unhealthy.map((r) => `check ${r.name} failed: ${r.reason}`).join('; ');
    return { verdict: 'failed', confidence, reason: clip(`target still unhealthy: ${why}`) };
  }

  // Every failed check left now is a state or nats check with mismatched fields.
  const fields = failed.flatMap(mismatchedFields).slice(0, MAX_DRIFT_ITEMS);
  const baselines = deviations.slice(0, MAX_DRIFT_ITEMS);
  if (fields.length > 0) {
    const why = failed.map((r) => `${r.name}: ${describeMismatches(r.fields ?? [])}`).join('; ');
    return {
      verdict: 'drift',
      confidence,
      reason: clip(`away from the expected state: ${why}`),
      drift: { fields, baselines },
    };
  }
  if (baselines.length > 0) {
    const why = baselines.map(describeDeviation).join('; ');
    return { verdict: 'drift', confidence, reason: clip(`beyond baseline: ${why}`), drift: { fields, baselines } };
  }

  const skipped = results.length - ran.length;
  const passed = `${ran.length} check${ran.length === 1 ? '' : 's'} passed`;
  return { verdict: 'verified', confidence, reason: skipped > 0 ? `${passed}, ${skipped} skipped` : passed };
}
