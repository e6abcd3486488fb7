// Judging one executed action: when it is due, running its contract's checks (bounded by their timeouts), the
// baseline deviations, the verdict, and the contract.verified it publishes. Baselines learn from verified runs.
import type { schemas } from '@grace/contracts';
import type { Kysely } from 'kysely';
import { evaluateErrorRate } from './checks/error-rate-check.js';
import { runHttpCheck } from './checks/http-check.js';
import { runNatsCheck, type NatsRequest } from './checks/nats-check.js';
import { evaluateStateCheck } from './checks/state-check.js';
import { deviationOf, learnBaseline } from './domain/baselines.js';
import { decideVerdict, type BaselineDeviation, type Decision } from './domain/verdict.js';
import {
  baselinesFor,
  errorsBetween,
  resolutionsBetween,
  type Resolutions,
  type BaselineKey,
  type Database,
  type Executed,
  type Verified,
} from './store.js';

type Check = schemas.Check;
type CheckResult = schemas.CheckResult;

export interface JudgeSettings {
  checkTimeoutMs: number;
  captureSettleMs: number;
  baselineMinSamples: number;
  baselineMaxSamples: number;
}

/** Without checks, the contract's expected state is compared with what the adapter reported. */
const IMPLICIT_STATE_CHECK: Check = { kind: 'state', name: 'expected-state' };

const checksOf = (executed: Executed): Check[] =>
  executed.checks.length > 0 ? executed.checks : [IMPLICIT_STATE_CHECK];

/**
 * Whether judging needs nothing outside this process: an action that did not succeed (its checks are skipped), or
 * one whose checks are all state checks (the contract's expected state against what the adapter reported).
 */
export function judgedLocally(executed: Executed): boolean {
  return executed.result !== 'succeeded' || checksOf(executed).every((check) => check.kind === 'state');
}

/** When the verification can run: after the longest error-rate window, plus the time its captures take to arrive. */
export function dueAt(executed: Executed, settleMs: number): Date {
  const finished = new Date(executed.finished_at).getTime();
  const windows = executed.result === 'succeeded' ? checksOf(executed).filter((c) => c.kind === 'error_rate') : [];
  if (windows.length === 0) return new Date(finished);
  return new Date(finished + Math.max(...windows.map((c) => c.window_ms)) + settleMs);
}

/** A value the baselines track, measured by a check. */
export interface Observation extends BaselineKey {
  kind: Check['kind'];
  observed: number;
}

async function runCheck(
  check: Check,
  executed: Executed,
  deps: { db: Kysely<Database>; request: NatsRequest; settings: JudgeSettings },
): Promise<CheckResult> {
  const timeoutMs = check.timeout_ms ?? deps.settings.checkTimeoutMs;
  switch (check.kind) {
    case 'http':
      return runHttpCheck(check, timeoutMs);
    case 'nats':
      return runNatsCheck(check, deps.request, timeoutMs, { target: executed.target });
    case 'state':
      return evaluateStateCheck(check, executed.expected_effect.target_state, executed.actual_state);
    case 'error_rate': {
      // An action outside any incident has no fingerprint: its service's errors are counted instead.
      const scope = {
        service: executed.target.service,
        environment: executed.target.environment,
        ...(check.scope === 'fingerprint' && executed.fingerprint ? { fingerprint: executed.fingerprint } : {}),
      };
      const started = new Date(executed.started_at).getTime();
      const finished = new Date(executed.finished_at).getTime();
      const [before, after, resolved] = await Promise.all([
        errorsBetween(deps.db, scope, new Date(started - check.window_ms), new Date(started)),
        errorsBetween(deps.db, scope, new Date(finished), new Date(finished + check.window_ms)),
        resolutionsBetween(deps.db, scope, new Date(started), new Date(finished + check.window_ms)),
      ]);
      return withResolutions(
        evaluateErrorRate(check, { before, after }, executed.expected_effect.error_rate_ceiling),
        resolved,
        'fingerprint' in scope,
      );
    }
  }
}

/**
 * Alerts of the scope its source reported resolved since the action started, recorded in what the check observed
 * (`alerts_resolved`, and `alerts_still_firing` after the latest) and in its reason. The counts decide, with one
 * exception: a check scoped to the group's fingerprint that failed on errors counted after the action passes when
 * the source's latest word is that none of the group's alerts fire any more (an alert group's errors are its
 * alerts; the ones that fired after the action have resolved since).
 */
function withResolutions(result: CheckResult, resolutions: Resolutions, groupScoped: boolean): CheckResult {
  const { resolved, stillFiring } = resolutions;
  if (resolved === 0 || result.status === 'error') return result;
  const allResolved = stillFiring === 0;
  const evidence = allResolved
    ? `the source reports all alerts of the group resolved (${resolved} since the action started)`
    : `${resolved} alert${resolved === 1 ? '' : 's'} resolved at the source` +
      (stillFiring === null ? '' : `, ${stillFiring} still firing`);
  const observed = {
    ...result.observed,
    alerts_resolved: resolved,
    ...(stillFiring === null ? {} : { alerts_still_firing: stillFiring }),
  };
  const overrules = result.status === 'failed' && groupScoped && allResolved;
  return {
    ...result,
    status: overrules ? 'passed' : result.status,
    reason: `${result.reason}; ${overrules ? 'but ' : ''}${evidence}`.slice(0, 2048),
    observed,
  };
}

/** The values of a run its baselines learn from: latency of http checks, errors per minute after the action. */
function observationsOf(executed: Executed, checks: Check[], results: CheckResult[]): Observation[] {
  const at = { service: executed.target.service, environment: executed.target.environment };
  const out: Observation[] = [];
  checks.forEach((check, i) => {
    const result = results[i]!;
    const observed = result.observed ?? {};
    if (check.kind === 'http' && result.status !== 'error' && typeof observed.latency_ms === 'number')
      out.push({ ...at, check: check.name, kind: 'http', metric: 'latency_ms', observed: observed.latency_ms });
    if (check.kind === 'error_rate' && result.status !== 'error' && typeof observed.after_per_minute === 'number')
      out.push({
        ...at,
        check: check.name,
        kind: 'error_rate',
        metric: 'errors_per_minute',
        observed: observed.after_per_minute,
      });
  });
  return out;
}

export interface Judgement {
  verified: Omit<Verified, 'verified_at' | 'time_to_verify_ms'>;
  /** What the baselines learn when the verdict is verified. */
  observations: Observation[];
}

export async function judge(
  verificationId: string,
  executed: Executed,
  deps: { db: Kysely<Database>; request: NatsRequest; settings: JudgeSettings },
): Promise<Judgement> {
  const checks = checksOf(executed);
  let results: CheckResult[];
  let decision: Decision;
  let observations: Observation[] = [];
  if (executed.result !== 'succeeded') {
    const why =
      executed.result === 'dry_run'
        ? 'dry run: nothing was executed, so there is nothing to verify'
        : `the action ${executed.result === 'timed_out' ? 'timed out' : 'failed'}${executed.error ? `: ${executed.error}` : ''}`;
    results = checks.map((c) => ({ name: c.name, kind: c.kind, status: 'skipped', reason: why, duration_ms: 0 }));
    decision = { verdict: 'failed', confidence: 0, reason: why.slice(0, 2048) };
  } else {
    results = await Promise.all(checks.map((check) => runCheck(check, executed, deps)));
    observations = observationsOf(executed, checks, results);
    // Only observed values are compared with their baselines: none observed (state checks), nothing to read.
    const baselines =
      observations.length > 0 ? await baselinesFor(deps.db, executed.target.service, executed.target.environment) : [];
    const deviations: BaselineDeviation[] = [];
    for (const o of observations) {
      const row = baselines.find((b) => b.check === o.check && b.metric === o.metric);
      const deviation = deviationOf(row, o.observed, o.metric, deps.settings.baselineMinSamples);
      if (deviation) deviations.push({ check: o.check, metric: o.metric, observed: o.observed, ...deviation });
    }
    decision = decideVerdict(
      results.map((r, i) => ({ ...r, weight: checks[i]!.weight ?? 1 })),
      deviations,
    );
  }
  return {
    verified: {
      verification_id: verificationId,
      contract_id: executed.contract_id,
      action_id: executed.action_id,
      ...(executed.incident_id ? { incident_id: executed.incident_id } : {}),
      ...(executed.fingerprint ? { fingerprint: executed.fingerprint } : {}),
      ...(executed.signature ? { signature: executed.signature } : {}),
      playbook: executed.playbook,
      adapter: executed.adapter,
      action: executed.action,
      target: executed.target,
      tier: executed.tier,
      attempt: executed.attempt,
      verdict: decision.verdict,
      confidence: decision.confidence,
      execution_result: executed.result,
      reason: decision.reason,
      checks: results,
      ...(decision.drift ? { drift: decision.drift } : {}),
      execution_ms: executed.duration_ms,
      executed_at: executed.finished_at,
    },
    observations,
  };
}

export const learnFrom = (maxSamples: number) => (previous: Parameters<typeof learnBaseline>[0], observed: number) =>
  learnBaseline(previous, observed, maxSamples);
