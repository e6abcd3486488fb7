// Field paths and JSON equality: reading a dotted field of a state or reply and comparing it with its expected value.
import type { schemas } from '@grace/contracts';

type FieldComparison = schemas.FieldComparison;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The value at a dotted path. At every level a key equal to the whole remaining path wins (a state may report
 * `pool.healthy` as one key); otherwise the first segment is taken, as an object key or, in an array, an index.
 */
export function valueAt(source: unknown, path: string): { found: boolean; value?: unknown } {
  if (isRecord(source) && Object.hasOwn(source, path)) return { found: true, value: source[path] };
  const dot = path.indexOf('.');
  const head = dot === -1 ? path : path.slice(0, dot);
  let next: { found: boolean; value?: unknown };
  if (Array.isArray(source)) {
    const index = /^(0|[1-9]\d*)$/.test(head) ? Number(head) : -1;
    next = index >= 0 && index < source.length ? { found: true, value: source[index] } : { found: false };
  } else if (isRecord(source) && Object.hasOwn(source, head)) {
    next = { found: true, value: source[head] };
  } else {
    return { found: false };
  }
  if (!next.found || dot === -1) return next;
  return valueAt(next.value, path.slice(dot + 1));
}

/** Deep equality of JSON values: key order does not matter, array order does, and nothing is coerced ('1' != 1). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => sameValue(item, b[i]));
  }
  if (!isRecord(a) || !isRecord(b)) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => Object.hasOwn(b, key) && sameValue(a[key], b[key]));
}

/**
 * One comparison per expected field, or per field of `only` when given (names `only` lists that are not expected
 * are ignored: the catalog already rejects them). `actual` is absent when the field is not found.
 */
export function compareFields(
  expected: Record<string, unknown>,
  actual: unknown,
  only?: readonly string[],
): FieldComparison[] {
  const names =
    only === undefined ? Object.keys(expected) : [...new Set(only)].filter((f) => Object.hasOwn(expected, f));
  return names.map((field) => {
    const at = valueAt(actual, field);
    const wanted = expected[field];
    return at.found
      ? { field, expected: wanted, actual: at.value, matched: sameValue(wanted, at.value) }
      : { field, expected: wanted, matched: false };
  });
}

const SHOWN_MISMATCHES = 5;
const SHOWN_VALUE_CHARS = 80;

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > SHOWN_VALUE_CHARS ? `${text.slice(0, SHOWN_VALUE_CHARS - 1)}…` : text;
}

/** The mismatched comparisons as a short sentence, e.g. `pool.healthy is false (expected true)`; bounded in length. */
export function describeMismatches(comparisons: readonly FieldComparison[]): string {
  const mismatched = comparisons.filter((c) => !c.matched);
  const shown = mismatched.slice(0, SHOWN_MISMATCHES).map((c) => {
    const actual = Object.hasOwn(c, 'actual') ? `is ${show(c.actual)}` : 'is missing';
    return `${c.field} ${actual} (expected ${show(c.expected)})`;
  });
  const more = mismatched.length - shown.length;
  return more > 0 ? `${shown.join(', ')} and ${more} more` : shown.join(', ');
}
