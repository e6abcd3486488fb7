// Playbook statistics as arithmetic on data: one outcome applied to a key's running statistics (counts, null-safe
// means, a Beta posterior with optional time decay), the published shape, and rankings by posterior mean.
//
// - executions counts verdicts; successes are `verified`, failures `failed` or `drift`. A rollback follows a
//   failed verdict (or a timeout the verifier also fails), so it is counted on its own and does not move the
//   posterior again; neither does a denial, which is about policy, not about whether the playbook works.
// - alpha = 1 + successes, beta = 1 + failures (a uniform prior). With a half-life, the evidence already held is
//   weighed down by 0.5^(elapsed / half-life) before each new outcome, so old results fade and a playbook that
//   stopped working is noticed; the prior never decays.

export type Verdict = 'verified' | 'failed' | 'drift';

export interface StatsState {
  executions: number;
  successes: number;
  failures: number;
  rollbacks: number;
  denials: number;
  confidenceSum: number;
  confidenceCount: number;
  timeToVerifySum: number;
  timeToVerifyCount: number;
  alpha: number;
  beta: number;
  lastVerdict: Verdict | null;
  lastOutcomeAt: Date | null;
  /** When alpha and beta were last decayed. */
  decayedAt: Date | null;
}

export const EMPTY_STATS: StatsState = {
  executions: 0,
  successes: 0,
  failures: 0,
  rollbacks: 0,
  denials: 0,
  confidenceSum: 0,
  confidenceCount: 0,
  timeToVerifySum: 0,
  timeToVerifyCount: 0,
  alpha: 1,
  beta: 1,
  lastVerdict: null,
  lastOutcomeAt: null,
  decayedAt: null,
};

/** What one event adds to a key's statistics. */
export type OutcomeDelta =
  | { kind: 'verdict'; verdict: Verdict; confidence?: number; timeToVerifyMs?: number; at: Date }
  | { kind: 'rollback'; at: Date }
  | { kind: 'denial'; at: Date };

/** Weigh the evidence down for the time since the last decay; the prior (1, 1) stays. */
export function decay(state: StatsState, now: Date, halfLifeMs: number): StatsState {
  if (halfLifeMs <= 0 || !state.decayedAt) return { ...state, decayedAt: now };
  // An outcome that arrives late (older than the last decay) is added as is: time does not run backwards.
  const elapsed = now.getTime() - state.decayedAt.getTime();
  if (elapsed <= 0) return state;
  const factor = Math.pow(0.5, elapsed / halfLifeMs);
  return {
    ...state,
    alpha: 1 + (state.alpha - 1) * factor,
    beta: 1 + (state.beta - 1) * factor,
    decayedAt: now,
  };
}

export function applyOutcome(state: StatsState, delta: OutcomeDelta, halfLifeMs = 0): StatsState {
  const latest = (at: Date) => (state.lastOutcomeAt && state.lastOutcomeAt > at ? state.lastOutcomeAt : at);
  if (delta.kind === 'rollback') return { ...state, rollbacks: state.rollbacks + 1, lastOutcomeAt: latest(delta.at) };
  if (delta.kind === 'denial') return { ...state, denials: state.denials + 1, lastOutcomeAt: latest(delta.at) };

  const decayed = decay(state, delta.at, halfLifeMs);
  const success = delta.verdict === 'verified';
  const hasConfidence = typeof delta.confidence === 'number' && Number.isFinite(delta.confidence);
  const hasTime = typeof delta.timeToVerifyMs === 'number' && Number.isFinite(delta.timeToVerifyMs);
  const newest = !state.lastOutcomeAt || delta.at >= state.lastOutcomeAt;
  return {
    ...decayed,
    executions: state.executions + 1,
    successes: state.successes + (success ? 1 : 0),
    failures: state.failures + (success ? 0 : 1),
    confidenceSum: state.confidenceSum + (hasConfidence ? delta.confidence! : 0),
    confidenceCount: state.confidenceCount + (hasConfidence ? 1 : 0),
    timeToVerifySum: state.timeToVerifySum + (hasTime ? delta.timeToVerifyMs! : 0),
    timeToVerifyCount: state.timeToVerifyCount + (hasTime ? 1 : 0),
    alpha: decayed.alpha + (success ? 1 : 0),
    beta: decayed.beta + (success ? 0 : 1),
    lastVerdict: newest ? delta.verdict : state.lastVerdict,
    lastOutcomeAt: latest(delta.at),
  };
}

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

/** The published shape (playbook.stats.updated); `signature` absent for a playbook over every signature. */
export function toStatistics(key: { signature: string | null; playbook: string }, state: StatsState, updatedAt: Date) {
  return {
    ...(key.signature ? { signature: key.signature } : {}),
    playbook: key.playbook,
    executions: state.executions,
    successes: state.successes,
    failures: state.failures,
    rollbacks: state.rollbacks,
    denials: state.denials,
    ...(state.confidenceCount > 0
      ? { mean_confidence: Math.min(1, Math.max(0, round(state.confidenceSum / state.confidenceCount, 6))) }
      : {}),
    ...(state.timeToVerifyCount > 0
      ? { mean_time_to_verify_ms: round(state.timeToVerifySum / state.timeToVerifyCount, 3) }
      : {}),
    alpha: state.alpha,
    beta: state.beta,
    ...(state.lastVerdict ? { last_verdict: state.lastVerdict } : {}),
    ...(state.lastOutcomeAt ? { last_outcome_at: state.lastOutcomeAt.toISOString() } : {}),
    updated_at: updatedAt.toISOString(),
  };
}

export type PlaybookStatistics = ReturnType<typeof toStatistics>;

export const posteriorMean = (s: { alpha: number; beta: number }) => s.alpha / (s.alpha + s.beta);

/** Rank by posterior mean (best: highest first; worst: lowest first), ties by executions, then by name. */
export function rankPlaybooks(items: readonly PlaybookStatistics[], order: 'best' | 'worst', limit: number) {
  const sign = order === 'best' ? -1 : 1;
  return [...items]
    .sort(
      (a, b) =>
        sign * (posteriorMean(a) - posteriorMean(b)) ||
        b.executions - a.executions ||
        a.playbook.localeCompare(b.playbook),
    )
    .slice(0, limit)
    .map((statistics, index) => ({
      rank: index + 1,
      success_rate: statistics.executions > 0 ? round(statistics.successes / statistics.executions, 6) : 0,
      posterior_mean: round(posteriorMean(statistics), 6),
      statistics,
    }));
}
