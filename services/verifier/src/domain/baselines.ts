// Golden values learned from verified runs (per service, environment, check and metric): learning and deviations.

/** A running mean and variance (Welford). */
export interface BaselineState {
  /** The mean. */
  value: number;
  /** Welford's sum of squared differences from the mean: the sample variance is m2 / (samples - 1). */
  m2: number;
  samples: number;
}

// A floor under the tolerance, per metric: a handful of milliseconds or one stray error is noise, not drift.
const TOLERANCE_FLOORS = new Map<string, number>([
  ['latency_ms', 50],
  ['errors_per_minute', 1],
]);

/**
 * Adds one observation. Up to maxSamples this is Welford's exact running mean and variance. From then on samples
 * stays at maxSamples and each new value weighs 1/maxSamples (exponentially weighted mean and variance, Finch
 * 2009), so old runs fade and the baseline follows a service whose normal slowly changes.
 */
export function learnBaseline(previous: BaselineState | undefined, observed: number, maxSamples = 100): BaselineState {
  if (!Number.isFinite(observed)) {
    throw new RangeError(`learnBaseline: the observed value must be a finite number, got ${observed}`);
  }
  if (!Number.isInteger(maxSamples) || maxSamples < 1) {
    throw new RangeError(`learnBaseline: maxSamples must be an integer >= 1, got ${maxSamples}`);
  }
  if (previous === undefined || previous.samples < 1) return { value: observed, m2: 0, samples: 1 };
  const delta = observed - previous.value;
  if (previous.samples < maxSamples) {
    const samples = previous.samples + 1;
    const value = previous.value + delta / samples;
    return { value, m2: previous.m2 + delta * (observed - value), samples };
  }
  const weight = 1 / maxSamples;
  const variance = maxSamples > 1 ? previous.m2 / (previous.samples - 1) : 0;
  const nextVariance = (1 - weight) * (variance + weight * delta * delta);
  return { value: previous.value + weight * delta, m2: nextVariance * (maxSamples - 1), samples: maxSamples };
}

/** The sample standard deviation; 0 below two samples. */
export function stddevOf(state: BaselineState): number {
  return state.samples < 2 ? 0 : Math.sqrt(Math.max(0, state.m2) / (state.samples - 1));
}

/** How far above the mean a value may go: max(3 stddev, half the mean, the metric's floor). */
export function toleranceOf(state: BaselineState, metric: string): number {
  return Math.max(3 * stddevOf(state), 0.5 * state.value, TOLERANCE_FLOORS.get(metric) ?? 0);
}

/**
 * The baseline and tolerance when `observed` is above mean + tolerance; undefined otherwise. Only upward: a faster
 * answer or fewer errors is no drift. Below minSamples the baseline is not trusted yet.
 */
export function deviationOf(
  state: BaselineState | undefined,
  observed: number,
  metric: string,
  minSamples = 5,
): { baseline: number; tolerance: number } | undefined {
  if (state === undefined || state.samples < minSamples) return undefined;
  const tolerance = toleranceOf(state, metric);
  return observed > state.value + tolerance ? { baseline: state.value, tolerance } : undefined;
}
