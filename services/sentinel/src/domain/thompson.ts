// Thompson sampling over Beta posteriors: seeded and random generators, Gamma/Beta draws, and choosePlaybook.
import { randomBytes } from 'node:crypto';

/** A source of uniform numbers in [0, 1). */
export type Rng = () => number;

const TWO_TO_32 = 4294967296;

/**
 * sfc32 (Chris Doty-Humphrey's Small Fast Counter, 128-bit state). It passes PractRand and, thanks to its
 * counter word, has no all-zero trap state, so any seed is safe.
 */
function sfc32(a: number, b: number, c: number, d: number): Rng {
  let s0 = a >>> 0;
  let s1 = b >>> 0;
  let s2 = c >>> 0;
  let s3 = d >>> 0;
  const next = (): number => {
    const t = (((s0 + s1) | 0) + s3) | 0;
    s3 = (s3 + 1) | 0;
    s0 = s1 ^ (s1 >>> 9);
    s1 = (s2 + (s2 << 3)) | 0;
    s2 = (s2 << 21) | (s2 >>> 11);
    s2 = (s2 + t) | 0;
    return (t >>> 0) / TWO_TO_32;
  };
  // Discard the first outputs: they still correlate with the seed words.
  for (let i = 0; i < 15; i++) next();
  return next;
}

/** splitmix32: spreads one 32-bit seed over well-mixed words, so nearby seeds give unrelated streams. */
function splitmix32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) | 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/**
 * A deterministic generator: sfc32 whose 128-bit state is filled by splitmix32 from the seed. The same seed gives
 * the same sequence on every platform (32-bit integer arithmetic only). The seed is any finite number; it is
 * truncated to an integer and both its low and high 32 bits are used, so every safe integer is a distinct seed.
 */
export function createRng(seed: number): Rng {
  if (!Number.isFinite(seed)) throw new RangeError(`createRng: the seed must be a finite number, got ${seed}`);
  const whole = Math.trunc(seed);
  const low = whole >>> 0;
  const high = Math.floor(whole / TWO_TO_32) >>> 0;
  const mix = splitmix32(low ^ Math.imul(high, 0x27d4eb2d));
  return sfc32(mix(), mix(), mix() ^ high, mix());
}

/** A generator seeded with 128 bits from node:crypto: for production choices, where nobody should predict the draw. */
export function randomRng(): Rng {
  const bytes = randomBytes(16);
  return sfc32(bytes.readUInt32LE(0), bytes.readUInt32LE(4), bytes.readUInt32LE(8), bytes.readUInt32LE(12));
}

/** One standard normal draw by Box-Muller (one of the pair; the other is dropped so the function stays stateless). */
function sampleNormal(rng: Rng): number {
  const u1 = 1 - rng(); // in (0, 1]: log(0) would be -Infinity
  const u2 = rng();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/**
 * One draw from Gamma(shape, 1) by Marsaglia and Tsang (2000). Their method needs shape >= 1; for shape < 1 it
 * draws Gamma(shape + 1) and scales it by U^(1/shape), which is exact.
 */
export function sampleGamma(shape: number, rng: Rng): number {
  if (!(Number.isFinite(shape) && shape > 0)) {
    throw new RangeError(`sampleGamma: the shape must be a finite number > 0, got ${shape}`);
  }
  if (shape < 1) {
    const u = 1 - rng(); // in (0, 1]
    return sampleGamma(shape + 1, rng) * Math.pow(u, 1 / shape);
  }
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = sampleNormal(rng);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rng();
    const xx = x * x;
    if (u < 1 - 0.0331 * xx * xx) return d * v;
    if (Math.log(u) < 0.5 * xx + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** One draw from Beta(alpha, beta) as X / (X + Y) with X ~ Gamma(alpha), Y ~ Gamma(beta). */
export function sampleBeta(alpha: number, beta: number, rng: Rng): number {
  if (!(Number.isFinite(alpha) && alpha > 0 && Number.isFinite(beta) && beta > 0)) {
    throw new RangeError(`sampleBeta: alpha and beta must be finite numbers > 0, got alpha ${alpha}, beta ${beta}`);
  }
  const x = sampleGamma(alpha, rng);
  const y = sampleGamma(beta, rng);
  const sum = x + y;
  // With very small shapes both gammas can underflow to 0. Such a Beta puts nearly all its mass at 0 and 1, with
  // P(near 1) = alpha / (alpha + beta), so answer that instead of 0/0.
  if (sum === 0) return rng() < alpha / (alpha + beta) ? 1 : 0;
  return x / sum;
}

/** A playbook that could handle the error, with its learned record for this error signature. */
export interface Candidate {
  playbook: string;
  successes: number;
  failures: number;
  /** Why it cannot be chosen (cooldown, already failed on this incident); set means excluded. */
  excluded?: string;
}

/** One line of the decision trail: the candidate's draw, or why it was not drawn. */
export interface Scored {
  playbook: string;
  score?: number;
  excluded?: string;
}

/** A count from the statistics table: null, undefined and NaN read as 0; negative or infinite counts are a bug. */
function countOf(value: number | null | undefined, playbook: string, field: string): number {
  if (value === null || value === undefined || Number.isNaN(value)) return 0;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new RangeError(
      `choosePlaybook: ${field} of playbook ${playbook} must be a non-negative finite number, got ${String(value)}; ` +
        'check the statistics row for this signature',
    );
  }
  return value;
}

/**
 * Thompson sampling: draws Beta(successes + 1, failures + 1) for each candidate not excluded and picks the highest
 * draw (ties: the first in the list). The uniform prior means a playbook with no record is drawn from Beta(1, 1),
 * so it gets explored. `scored` lists every candidate in input order with its draw or its exclusion reason;
 * `chosen` is undefined when no candidate is eligible. Draws are taken in input order, so a seeded rng replays.
 */
export function choosePlaybook(candidates: readonly Candidate[], rng: Rng): { chosen?: string; scored: Scored[] } {
  const scored: Scored[] = [];
  let chosen: string | undefined;
  let best = -Infinity;
  for (const candidate of candidates) {
    if (candidate.excluded !== undefined && candidate.excluded !== null) {
      scored.push({ playbook: candidate.playbook, excluded: candidate.excluded || 'excluded' });
      continue;
    }
    const successes = countOf(candidate.successes, candidate.playbook, 'successes');
    const failures = countOf(candidate.failures, candidate.playbook, 'failures');
    const score = sampleBeta(successes + 1, failures + 1, rng);
    scored.push({ playbook: candidate.playbook, score });
    if (score > best) {
      best = score;
      chosen = candidate.playbook;
    }
  }
  return chosen === undefined ? { scored } : { chosen, scored };
}
