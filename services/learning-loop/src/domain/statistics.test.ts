import { describe, expect, it } from '@jest/globals';
import { applyOutcome, EMPTY_STATS, rankPlaybooks, toStatistics, type OutcomeDelta } from './statistics.js';

const at = (minute: number) => new Date(Date.UTC(2026, 10, 26, 10, minute));
const verdict = (v: 'verified' | 'failed' | 'drift', minute: number, extra: Partial<OutcomeDelta> = {}): OutcomeDelta =>
  ({ kind: 'verdict', verdict: v, at: at(minute), ...extra }) as OutcomeDelta;

describe('playbook statistics', () => {
  it('counts verdicts into a Beta posterior with a uniform prior', () => {
    let s = EMPTY_STATS;
    for (const v of ['verified', 'verified', 'failed', 'drift'] as const) s = applyOutcome(s, verdict(v, 1));
    expect(s).toMatchObject({ executions: 4, successes: 2, failures: 2, alpha: 3, beta: 3, lastVerdict: 'drift' });
  });

  it('counts rollbacks and denials without moving the posterior', () => {
    let s = applyOutcome(EMPTY_STATS, verdict('drift', 1));
    s = applyOutcome(s, { kind: 'rollback', at: at(2) });
    s = applyOutcome(s, { kind: 'denial', at: at(3) });
    expect(s).toMatchObject({ executions: 1, rollbacks: 1, denials: 1, alpha: 1, beta: 2 });
  });

  it('keeps means null-safe: outcomes without a confidence or a duration do not count in them', () => {
    let s = applyOutcome(EMPTY_STATS, verdict('verified', 1, { confidence: 1, timeToVerifyMs: 100 }));
    s = applyOutcome(s, verdict('failed', 2));
    s = applyOutcome(s, verdict('failed', 3, { confidence: 0.5 }));
    const published = toStatistics({ signature: 'db:timeout', playbook: 'retry' }, s, at(4));
    expect(published).toMatchObject({ mean_confidence: 0.75, mean_time_to_verify_ms: 100, executions: 3 });
    const empty = toStatistics({ signature: null, playbook: 'retry' }, EMPTY_STATS, at(4));
    expect(empty).not.toHaveProperty('mean_confidence');
    expect(empty).not.toHaveProperty('mean_time_to_verify_ms');
    expect(empty).not.toHaveProperty('signature');
  });

  it('weighs old evidence down by its half-life, never the prior', () => {
    const hour = 3_600_000;
    let s = applyOutcome(EMPTY_STATS, verdict('failed', 0), hour);
    s = applyOutcome(s, verdict('failed', 0), hour);
    expect(s.beta).toBe(3);
    s = applyOutcome(s, verdict('verified', 60), hour);
    // Two failures an hour old weigh one: beta = 1 + 2 * 0.5.
    expect(s.beta).toBeCloseTo(2, 10);
    expect(s.alpha).toBeCloseTo(2, 10);
    // A late outcome (older than the last decay) adds without decaying again.
    s = applyOutcome(s, verdict('failed', 30), hour);
    expect(s.beta).toBeCloseTo(3, 10);
    expect(s.lastVerdict).toBe('verified');
  });

  it('ranks playbooks by posterior mean, best or worst first', () => {
    const stats = (playbook: string, successes: number, failures: number) => {
      let s = EMPTY_STATS;
      for (let i = 0; i < successes; i++) s = applyOutcome(s, verdict('verified', i));
      for (let i = 0; i < failures; i++) s = applyOutcome(s, verdict('failed', i));
      return toStatistics({ signature: 'sig', playbook }, s, at(0));
    };
    const all = [stats('a', 1, 4), stats('b', 8, 1), stats('c', 3, 3)];
    expect(rankPlaybooks(all, 'best', 2).map((r) => [r.rank, r.statistics.playbook])).toEqual([
      [1, 'b'],
      [2, 'c'],
    ]);
    const [worst] = rankPlaybooks(all, 'worst', 1);
    expect(worst).toMatchObject({ rank: 1, success_rate: 0.2, posterior_mean: 0.285714 });
  });
});
