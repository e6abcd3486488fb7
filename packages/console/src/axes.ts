// Value and time axes for the console's charts: which ticks a y axis shows and how its labels read, and how a
// day bucket is named on the x axis. Pure functions with no imports of the console's own (axes.test.ts runs them
// in Node).
import { scaleLinear } from '@visx/scale';

/** What a y axis measures: whole counts, durations in milliseconds, or shares between 0 and 1. */
export type ValueKind = 'count' | 'duration' | 'rate';

export interface ValueAxis {
  kind: ValueKind;
  /** The top of the axis, in the data's own unit (milliseconds for durations). */
  max: number;
  /** Tick positions in the data's unit: start at 0, strictly increasing, the last one is `max`. */
  ticks: number[];
  /** A tick's label: integers for counts, one unit per axis for durations, whole percentages for rates. */
  label: (value: number) => string;
}

const TICKS = 5;

const DURATION_UNITS = [
  { unit: 'ms', ms: 1 },
  { unit: 's', ms: 1_000 },
  { unit: 'min', ms: 60_000 },
  { unit: 'h', ms: 3_600_000 },
  { unit: 'd', ms: 86_400_000 },
] as const;

/** d3's round ticks (1, 2 or 5 times a power of ten) over [0, max], the domain widened to end on one. */
function roundTicks(max: number): number[] {
  return scaleLinear<number>({ domain: [0, max], nice: TICKS }).ticks(TICKS);
}

/** Enough decimals to tell ticks `step` apart, and no more. */
function decimalsFor(step: number): number {
  return Math.max(0, Math.ceil(-Math.log10(step) - 1e-9));
}

function last(values: number[]): number {
  return values[values.length - 1] ?? 0;
}

/** The y axis for `values` (the finite ones are read; an empty list gives the axis of an empty chart). */
export function valueAxis(kind: ValueKind, values: readonly number[]): ValueAxis {
  const finite = values.filter((v) => Number.isFinite(v));
  const max = Math.max(0, ...finite);
  if (kind === 'rate') {
    const ticks = roundTicks(1);
    return {
      kind,
      max: 1,
      ticks,
      label: (v) => `${Math.round(v * 100)}%`,
    };
  }
  if (kind === 'count') {
    // Whole numbers only: a count axis never reads 2.5 (d3 steps by 0.5 below 5; those ticks are dropped).
    const ticks = roundTicks(Math.max(1, Math.ceil(max))).filter((v) => Number.isInteger(v));
    return {
      kind,
      max: last(ticks),
      ticks,
      label: (v) => Math.round(v).toLocaleString('en-US'),
    };
  }
  // Durations: the largest unit the data reaches (12 s reads as seconds, not 0.2 min; 1.9 s not as 1900 ms), and
  // round ticks in that unit with as many decimals as their step needs, so no two labels read alike.
  const unit =
    max > 0 ? ([...DURATION_UNITS].reverse().find((u) => max >= u.ms) ?? DURATION_UNITS[0]) : DURATION_UNITS[1];
  const inUnit = roundTicks(max > 0 ? max / unit.ms : 1);
  const decimals = decimalsFor((inUnit[1] ?? 1) - (inUnit[0] ?? 0));
  const ticks = inUnit.map((v) => v * unit.ms);
  return {
    kind,
    max: last(ticks),
    ticks,
    label: (v) => `${(v / unit.ms).toFixed(decimals)} ${unit.unit}`,
  };
}

const DAY_MS = 86_400_000;

/** Midnight UTC that starts a YYYY-MM-DD day bucket, in epoch milliseconds. */
export function dayStart(day: string): number {
  return Date.parse(`${day}T00:00:00Z`);
}

/** The day's short name on a time axis, e.g. "Dec 3" (UTC, so the same day whatever the browser's zone). */
export const dayLabel = (date: Date): string =>
  date.toLocaleDateString('en-US', { month: 'short', day: 'numeric', timeZone: 'UTC' });

/** The day's long name in a tooltip, e.g. "Thu, Dec 3, 2026 (UTC)". */
export const dayTitle = (date: Date): string =>
  `${date.toLocaleDateString('en-US', { weekday: 'short', month: 'short', day: 'numeric', year: 'numeric', timeZone: 'UTC' })} (UTC)`;

/** The middle of the i-th day bucket: where its bar, its point and its tick label sit. */
export function dayMiddle(firstDay: number, i: number): Date {
  return new Date(firstDay + (i + 0.5) * DAY_MS);
}

export { DAY_MS };
