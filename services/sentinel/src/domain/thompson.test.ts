// Tests of the seeded generators, Gamma/Beta sampling and Thompson-sampling playbook choice.
import { describe, expect, it } from '@jest/globals';
import { choosePlaybook, createRng, randomRng, sampleBeta, sampleGamma, type Candidate } from './thompson.js';

function draws(rng: () => number, n: number): number[] {
  return Array.from({ length: n }, () => rng());
}

function mean(values: readonly number[]): number {
  return values.reduce((sum, v) => sum + v, 0) / values.length;
}

describe('createRng', () => {
  it('the same seed replays the same sequence, and a different seed gives a different one', () => {
    expect(draws(createRng(42), 20)).toEqual(draws(createRng(42), 20));
    expect(draws(createRng(42), 20)).not.toEqual(draws(createRng(43), 20));
    expect(draws(createRng(1), 20)).not.toEqual(draws(createRng(1 + 2 ** 32), 20));
  });

  it('yields uniform numbers in [0, 1) with a mean near one half', () => {
    const values = draws(createRng(7), 20_000);
    expect(values.every((v) => v >= 0 && v < 1)).toBe(true);
    expect(Math.abs(mean(values) - 0.5)).toBeLessThan(0.01);
  });

  it('rejects a seed that is not a finite number', () => {
    expect(() => createRng(Number.NaN)).toThrow(RangeError);
    expect(() => createRng(Infinity)).toThrow(RangeError);
  });
});

describe('randomRng', () => {
  it('yields numbers in [0, 1) and two generators differ', () => {
    const a = draws(randomRng(), 50);
    expect(a.every((v) => v >= 0 && v < 1)).toBe(true);
    expect(a).not.toEqual(draws(randomRng(), 50));
  });
});

describe('sampleGamma', () => {
  it.each([0.3, 1, 2.5, 9])('Gamma(%p) draws are positive with mean close to the shape', (shape) => {
    const rng = createRng(11);
    const values = Array.from({ length: 20_000 }, () => sampleGamma(shape, rng));
    expect(values.every((v) => v >= 0 && Number.isFinite(v))).toBe(true);
    expect(Math.abs(mean(values) - shape) / shape).toBeLessThan(0.03);
  });

  it('rejects a shape that is not a positive finite number', () => {
    const rng = createRng(1);
    for (const shape of [0, -1, Number.NaN, Infinity]) expect(() => sampleGamma(shape, rng)).toThrow(RangeError);
  });
});

describe('sampleBeta', () => {
  it.each([
    [1, 1],
    [3, 7],
    [9, 3],
    [0.5, 0.5],
    [0.3, 2],
  ])('Beta(%p, %p) has mean alpha / (alpha + beta) within 0.01 over 20,000 draws', (alpha, beta) => {
    const rng = createRng(2024);
    const values = Array.from({ length: 20_000 }, () => sampleBeta(alpha, beta, rng));
    expect(values.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(Math.abs(mean(values) - alpha / (alpha + beta))).toBeLessThan(0.01);
  });

  it('stays in [0, 1] for shapes so small that both gammas underflow', () => {
    const rng = createRng(5);
    const values = Array.from({ length: 2_000 }, () => sampleBeta(0.001, 0.001, rng));
    expect(values.every((v) => v >= 0 && v <= 1)).toBe(true);
  });

  it('rejects alpha or beta that is not a positive finite number', () => {
    const rng = createRng(1);
    expect(() => sampleBeta(0, 1, rng)).toThrow(RangeError);
    expect(() => sampleBeta(1, -2, rng)).toThrow(RangeError);
    expect(() => sampleBeta(Number.NaN, 1, rng)).toThrow(RangeError);
  });
});

describe('choosePlaybook', () => {
  const favouringB: Candidate[] = [
    { playbook: 'A', successes: 2, failures: 8 },
    { playbook: 'B', successes: 8, failures: 2 },
  ];

  function tally(candidates: readonly Candidate[], runs: number): Map<string | undefined, number> {
    const counts = new Map<string | undefined, number>();
    for (let seed = 0; seed < runs; seed++) {
      const { chosen } = choosePlaybook(candidates, createRng(seed));
      counts.set(chosen, (counts.get(chosen) ?? 0) + 1);
    }
    return counts;
  }

  it('with statistics favouring B over A, B wins the large majority of 1,000 seeded draws and A still sometimes', () => {
    const counts = tally(favouringB, 1_000);
    expect(counts.get('B') ?? 0).toBeGreaterThan(900);
    expect(counts.get('A') ?? 0).toBeGreaterThan(0);
    expect((counts.get('A') ?? 0) + (counts.get('B') ?? 0)).toBe(1_000);
  });

  it('the same seed gives the same choice and the same scores', () => {
    for (let seed = 0; seed < 50; seed++) {
      expect(choosePlaybook(favouringB, createRng(seed))).toEqual(choosePlaybook(favouringB, createRng(seed)));
    }
  });

  it('a playbook with no record yet is explored against a proven one', () => {
    const counts = tally(
      [
        { playbook: 'proven', successes: 5, failures: 1 },
        { playbook: 'untried', successes: 0, failures: 0 },
      ],
      1_000,
    );
    expect(counts.get('untried') ?? 0).toBeGreaterThan(50);
    expect(counts.get('proven') ?? 0).toBeGreaterThan(counts.get('untried') ?? 0);
  });

  it('an excluded playbook is never chosen and keeps its reason in the trail', () => {
    const candidates: Candidate[] = [
      { playbook: 'restart_service', successes: 100, failures: 0, excluded: 'cooldown until 12:05' },
      { playbook: 'clear_cache', successes: 0, failures: 50 },
      { playbook: 'scale_up', successes: 100, failures: 0, excluded: 'already failed on this incident' },
    ];
    for (let seed = 0; seed < 200; seed++) {
      const { chosen, scored } = choosePlaybook(candidates, createRng(seed));
      expect(chosen).toBe('clear_cache');
      expect(scored.map((s) => s.playbook)).toEqual(['restart_service', 'clear_cache', 'scale_up']);
      expect(scored[0]).toEqual({ playbook: 'restart_service', excluded: 'cooldown until 12:05' });
      expect(scored[2]).toEqual({ playbook: 'scale_up', excluded: 'already failed on this incident' });
      expect(scored[1]?.score).toBeGreaterThanOrEqual(0);
      expect(scored[1]?.score).toBeLessThanOrEqual(1);
    }
  });

  it('the chosen playbook is the one with the highest draw', () => {
    const candidates: Candidate[] = ['a', 'b', 'c', 'd'].map((playbook) => ({ playbook, successes: 3, failures: 3 }));
    for (let seed = 0; seed < 100; seed++) {
      const { chosen, scored } = choosePlaybook(candidates, createRng(seed));
      const best = Math.max(...scored.map((s) => s.score ?? -1));
      expect(scored.find((s) => s.score === best)?.playbook).toBe(chosen);
    }
  });

  it('ties go to the first candidate in the list', () => {
    const constant = (): number => 0.5;
    const { chosen } = choosePlaybook(
      [
        { playbook: 'first', successes: 1, failures: 1 },
        { playbook: 'second', successes: 1, failures: 1 },
      ],
      constant,
    );
    expect(chosen).toBe('first');
  });

  it('no eligible candidate leaves chosen undefined, and an empty list too', () => {
    const all = choosePlaybook([{ playbook: 'A', successes: 1, failures: 0, excluded: 'cooldown' }], createRng(1));
    expect(all.chosen).toBeUndefined();
    expect(all.scored).toEqual([{ playbook: 'A', excluded: 'cooldown' }]);
    expect(choosePlaybook([], createRng(1))).toEqual({ scored: [] });
  });

  it('null or NaN counts read as no record; negative or infinite counts are rejected', () => {
    const rng = createRng(3);
    const nullSafe = choosePlaybook(
      [{ playbook: 'A', successes: null as unknown as number, failures: Number.NaN }],
      createRng(3),
    );
    const noRecord = choosePlaybook([{ playbook: 'A', successes: 0, failures: 0 }], createRng(3));
    expect(nullSafe).toEqual(noRecord);
    expect(() => choosePlaybook([{ playbook: 'A', successes: -1, failures: 0 }], rng)).toThrow(
      /successes of playbook A/,
    );
    expect(() => choosePlaybook([{ playbook: 'A', successes: 0, failures: Infinity }], rng)).toThrow(RangeError);
  });
});
