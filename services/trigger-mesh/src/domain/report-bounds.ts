// The bounds of error.reported that every producer mapping (alertmanager.ts, sentry.ts) respects, and the
// small helpers that keep a mapped report inside them.
import type { EventData } from '@grace/contracts';

type AttributeValue = string | number | boolean | null;
export type ErrorReported = EventData<'error.reported'>;

export const REPORT_BOUNDS = {
  service: 128,
  environment: 64,
  kind: 256,
  message: 16384,
  fingerprint: 128,
  release: 256,
  host: 256,
  frames: 200,
  frameFunction: 512,
  frameFile: 1024,
  frameModule: 512,
  attributes: 64,
  attributeKey: 128,
  attributeValue: 4096,
} as const;

/**
 * Neither Alertmanager nor Sentry guarantees an environment. 'unknown' rather than 'production': a guess of
 * production would let an unlabelled alert from a test cluster open production incidents and run production
 * playbooks; 'unknown' is honest, visible, and can be matched by a routing rule.
 */
export const UNKNOWN_ENVIRONMENT = 'unknown';
export const UNKNOWN_SERVICE = 'unknown';

/** Cut text to at most `max` characters, marking the cut with an ellipsis (never splitting a surrogate pair). */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = text.slice(0, max - 1);
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return `${cut}…`;
}

/**
 * The first candidate that makes a valid service or environment name (letters, digits, dots, dashes,
 * underscores, starting with a letter or digit), with other characters turned into dashes; else the fallback.
 */
export function firstName(candidates: readonly (string | null | undefined)[], max: number, fallback: string): string {
  for (const candidate of candidates) {
    if (typeof candidate !== 'string') continue;
    const name = candidate
      .trim()
      .replace(/[^A-Za-z0-9._-]+/g, '-')
      .replace(/^[^A-Za-z0-9]+/, '')
      .slice(0, max);
    if (name !== '') return name;
  }
  return fallback;
}

/**
 * Attributes within the contract: keys cut to 128 characters (the first of two equal keys wins), string values
 * to 4096, at most 64 keys. When more are given, the first 63 are kept and `attributes_dropped` says how many
 * were left out, so the loss is visible.
 */
export function boundedAttributes(
  entries: Iterable<readonly [string, AttributeValue]>,
): Record<string, AttributeValue> | undefined {
  const unique = new Map<string, AttributeValue>();
  for (const [rawKey, value] of entries) {
    const key = truncate(rawKey, REPORT_BOUNDS.attributeKey);
    if (key === '' || unique.has(key)) continue;
    unique.set(key, typeof value === 'string' ? truncate(value, REPORT_BOUNDS.attributeValue) : value);
  }
  if (unique.size === 0) return undefined;
  const all = [...unique];
  if (all.length <= REPORT_BOUNDS.attributes) return Object.fromEntries(all);
  const kept = all.slice(0, REPORT_BOUNDS.attributes - 1);
  return Object.fromEntries([...kept, ['attributes_dropped', all.length - kept.length]]);
}

/** An RFC 3339 timestamp in UTC with milliseconds, as the rest of Grace writes them (the input when unparseable). */
export function toIsoTimestamp(text: string): string {
  const date = new Date(text.toUpperCase());
  return Number.isNaN(date.getTime()) ? text : date.toISOString();
}
