// The state check: the state the adapter reported after acting, compared with the contract's target state.
import type { schemas } from '@grace/contracts';
import type { Static } from '@sinclair/typebox';
import { compareFields, describeMismatches } from '../domain/fields.js';

type CheckResult = schemas.CheckResult;
export type StateCheck = Static<typeof schemas.StateCheck>;

/** Compares check.fields (all expected fields when absent); skipped when there is nothing to compare. */
export function evaluateStateCheck(
  check: StateCheck,
  expected: Record<string, unknown>,
  actualState: Record<string, unknown>,
): CheckResult {
  const base = { name: check.name, kind: 'state' as const, duration_ms: 0 };
  const fields = compareFields(expected, actualState, check.fields);
  if (fields.length === 0) return { ...base, status: 'skipped', reason: 'no expected state fields to compare' };
  const mismatched = fields.filter((f) => !f.matched).length;
  if (mismatched > 0) return { ...base, status: 'failed', reason: describeMismatches(fields), fields };
  const reason = `${fields.length} state field${fields.length === 1 ? '' : 's'} as expected`;
  return { ...base, status: 'passed', reason, fields };
}
