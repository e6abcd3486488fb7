// Argument parsers for commander: a bad value is a usage error (exit 2) with a clear reason.
import { InvalidArgumentError } from 'commander';

export function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** A duration such as 30m, 12h, 7d or 2w, in milliseconds. */
export function duration(value: string): number {
  const match = /^(\d+)([mhdw])$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError('must be a number and a unit: m, h, d or w (e.g. 7d)');
  return Number(match[1]) * UNIT_MS[match[2]!]!;
}
