// Operator-owned YAML files (routing rules, playbook catalogs): parsing with line numbers, readable schema errors,
// and the matchers and durations such files are written in.
import { Severity as SeveritySchema, validateSchema, type ValidationError } from '@grace/contracts';
import { Type, type TSchema } from '@sinclair/typebox';
import { isNode, LineCounter, parseDocument, type Document } from 'yaml';

export interface FileProblem {
  /** Dotted path from the root, e.g. rules.2.match.message (indices from 0); empty for the whole file. */
  path: string;
  /** Ends with " (line N)" when the path is found in the file. */
  message: string;
}

export type FilePath = readonly (string | number)[];

export interface OperatorFileOptions {
  /**
   * Paths (dotted) of fields that take a value or a list of values, a union in the schema: their errors keep only
   * the branch the operator wrote and say that a list is allowed too.
   */
  valueOrList?: RegExp;
}

export type OperatorFile<T> =
  | {
      readonly ok: true;
      readonly value: T;
      /** The line of the deepest node the path reaches (a missing property is reported at its parent). */
      lineOf(path: FilePath): number | undefined;
      /** A problem at a path of the file, with its line. */
      problemAt(path: FilePath, message: string): FileProblem;
    }
  | { readonly ok: false; readonly problems: FileProblem[] };

/** Parse a YAML file and validate it against its schema; every problem says where, by path and line. */
export function parseYamlDocument<T>(
  text: string,
  schema: TSchema,
  options: OperatorFileOptions = {},
): OperatorFile<T> {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false });
  if (document.errors.length > 0) {
    return {
      ok: false,
      problems: document.errors.map((error) => {
        const { line, col } = lineCounter.linePos(error.pos[0]);
        return { path: '', message: `YAML syntax error at line ${line}, column ${col}: ${error.message}` };
      }),
    };
  }
  let value: unknown;
  try {
    value = document.toJS({ maxAliasCount: 100 });
  } catch (error) {
    return { ok: false, problems: [{ path: '', message: `YAML could not be read: ${(error as Error).message}` }] };
  }
  const lineOf = (path: FilePath) => lineOfPath(document, lineCounter, path.map(String));
  const problemAt = (path: FilePath, message: string): FileProblem => {
    const line = lineOf(path);
    return { path: path.join('.'), message: line === undefined ? message : `${message} (line ${line})` };
  };

  const checked = validateSchema<T>(schema, value ?? {});
  if (!checked.ok) {
    return {
      ok: false,
      problems: readableErrors(checked.errors, value, options.valueOrList).map((e) =>
        problemAt(splitPath(e.path), e.message),
      ),
    };
  }
  return { ok: true, value: checked.value, lineOf, problemAt };
}

/** A test of names against exact names and globs, where * matches any run of characters. */
export function compileNames(patterns: string | readonly string[]): (value: string) => boolean {
  const list = typeof patterns === 'string' ? [patterns] : patterns;
  const exact = new Set(list.filter((pattern) => !pattern.includes('*')));
  const globs = list
    .filter((pattern) => pattern.includes('*'))
    .map((glob) => new RegExp(`^${glob.split('*').map(escapeRegExp).join('.*')}$`, 's'));
  return (value) => exact.has(value) || globs.some((glob) => glob.test(value));
}

/** An operator's regular expression, or undefined after reporting why it is not one. */
export function compileRegex(source: string, problem: (message: string) => void, flags = ''): RegExp | undefined {
  if (source.length === 0) {
    problem('empty regular expression after "re:"');
    return undefined;
  }
  try {
    return new RegExp(source, flags);
  } catch (error) {
    problem(`invalid regular expression: ${(error as Error).message.replace(/^Invalid regular expression: /, '')}`);
    return undefined;
  }
}

/**
 * A test of a value against an exact value or "re:<regex>". Values are compared as text: YAML reads `code: 500` as
 * a number and `canary: true` as a boolean, and the tested value may carry either form. A missing value never matches.
 */
export function compileValueMatch(
  expected: string | number | boolean,
  problem: (message: string) => void,
  flags = '',
): (value: unknown) => boolean {
  const textOf = (value: unknown) => (value === undefined || value === null ? undefined : String(value));
  if (typeof expected === 'string' && expected.startsWith('re:')) {
    const regex = compileRegex(expected.slice(3), problem, flags);
    return (value) => {
      const text = textOf(value);
      return regex !== undefined && text !== undefined && regex.test(text);
    };
  }
  const text = String(expected);
  return (value) => textOf(value) === text;
}

export interface DurationOptions {
  /** The longest duration allowed, itself a duration such as 30d. */
  max: string;
  /** What to do instead of a longer duration, e.g. "use drop for errors to ignore for good". */
  overMax: string;
  /** Whether 0s (none) is a duration. */
  allowZero?: boolean;
}

const DURATION = /^(0|[1-9][0-9]{0,6})([smhd])$/;
const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds of a duration such as 30s, 5m, 2h or 1d, or a message saying why the text is not one. */
export function parseDuration(text: string, options: DurationOptions): number | string {
  const ms = durationMs(text);
  if (ms === undefined || (ms === 0 && !options.allowZero)) {
    return `invalid duration "${text}": write a whole number and a unit s, m, h or d (30s, 5m, 2h, 1d)`;
  }
  const maxMs = durationMs(options.max);
  if (maxMs === undefined) throw new Error(`the maximum "${options.max}" is not a duration`);
  if (ms > maxMs) return `duration "${text}" is longer than ${options.max}: ${options.overMax}`;
  return ms;
}

function durationMs(text: string): number | undefined {
  const parsed = DURATION.exec(text);
  return parsed ? Number(parsed[1]) * UNIT_MS[parsed[2]!]! : undefined;
}

export type SeverityName = 'debug' | 'info' | 'warning' | 'error' | 'critical';

/** Severities in order, for "at least this severe". */
export const SEVERITY_RANK: Readonly<Record<SeverityName, number>> = {
  debug: 0,
  info: 1,
  warning: 2,
  error: 3,
  critical: 4,
};

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// ajv reports every branch of a union that failed: keep what speaks of the value the operator wrote.
function readableErrors(
  errors: readonly ValidationError[],
  value: unknown,
  valueOrList: RegExp | undefined,
): ValidationError[] {
  const atPath = new Map<string, string[]>();
  for (const { path, message } of errors) atPath.set(path, [...(atPath.get(path) ?? []), message]);
  const readable: ValidationError[] = [];
  for (const [path, messages] of atPath) {
    let kept = messages.filter((message) => message !== 'must match a schema in anyOf');
    if (kept.some((message) => message.startsWith('must be one of'))) {
      kept = kept.filter((message) => message !== 'must be string' && message !== 'must be number');
    }
    if (valueOrList?.test(path)) {
      // A list whose entries are wrong fails at the entries' own paths: nothing to say about the list itself.
      const arrayLevel = (message: string) =>
        message === 'must be array' || /^must NOT have (fewer|more) than \d+ items$/.test(message);
      kept = Array.isArray(valueAt(value, splitPath(path)))
        ? kept.filter(arrayLevel)
        : kept.filter((message) => !arrayLevel(message)).map((message) => `${message}, or a list of them`);
    }
    // Never leave a path without a reason, unless its entries carry it.
    if (kept.length === 0 && !errors.some((e) => e.path.startsWith(`${path}.`))) kept = messages.slice(0, 1);
    const types = kept.flatMap((message) => /^must be (\w+)$/.exec(message)?.[1] ?? []);
    if (types.length > 1) {
      const last = types.pop();
      kept = [...kept.filter((message) => !/^must be \w+$/.test(message)), `must be ${types.join(', ')} or ${last}`];
    }
    for (const message of new Set(kept)) readable.push({ path, message });
  }
  return readable;
}

function splitPath(path: string): string[] {
  return path === '' ? [] : path.split('.');
}

function valueAt(value: unknown, path: readonly string[]): unknown {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function lineOfPath(document: Document, lineCounter: LineCounter, path: readonly string[]): number | undefined {
  for (let depth = path.length; depth >= 0; depth--) {
    const node: unknown = depth === 0 ? document.contents : document.getIn(path.slice(0, depth), true);
    if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
  }
  return undefined;
}

// ----------------------------------------------------------------------------------------------- matching errors

const NamePattern = Type.String({
  minLength: 1,
  maxLength: 256,
  description: 'an exact name, or a glob where * matches any run of characters',
});
/** A name or glob, or a list of them. */
export const NamePatterns = Type.Union([NamePattern, Type.Array(NamePattern, { minItems: 1, maxItems: 100 })]);
/** A severity, or a list of them. */
export const SeverityPatterns = Type.Union([SeveritySchema, Type.Array(SeveritySchema, { minItems: 1, maxItems: 5 })]);

/** The fields an operator file matches an error on (every one given must match). */
export interface ErrorMatch {
  service?: string | string[];
  environment?: string | string[];
  kind?: string | string[];
  category?: string | string[];
  severity?: SeverityName | SeverityName[];
  min_severity?: SeverityName;
  message?: string;
  attributes?: Record<string, string | number | boolean>;
}

/** What such a match is tested on: a reported, captured or triaged error. */
export interface MatchableError {
  service: string;
  environment: string;
  kind: string;
  category?: string;
  severity: SeverityName;
  message: string;
  attributes?: Record<string, string | number | boolean | null>;
}

/**
 * One test per given field (names and globs, severities, a message regex, attribute values); a problem is
 * reported with the field's path. An error without a category never matches a `category` field.
 */
export function compileErrorMatch(
  match: ErrorMatch,
  problem: (path: string[], message: string) => void,
  flags = '',
): ((error: MatchableError) => boolean)[] {
  const tests: ((error: MatchableError) => boolean)[] = [];
  for (const field of ['service', 'environment', 'kind', 'category'] as const) {
    const patterns = match[field];
    if (patterns === undefined) continue;
    const test = compileNames(patterns);
    tests.push((error) => error[field] !== undefined && test(error[field]!));
  }
  if (match.severity !== undefined) {
    const allowed = new Set<SeverityName>(Array.isArray(match.severity) ? match.severity : [match.severity]);
    tests.push((error) => allowed.has(error.severity));
  }
  if (match.min_severity !== undefined) {
    const minimum = SEVERITY_RANK[match.min_severity];
    tests.push((error) => SEVERITY_RANK[error.severity] >= minimum);
  }
  if (match.message !== undefined) {
    const regex = compileRegex(match.message, (message) => problem(['message'], message), flags);
    if (regex) tests.push((error) => regex.test(error.message));
  }
  for (const [name, expected] of Object.entries(match.attributes ?? {})) {
    const test = compileValueMatch(expected, (message) => problem(['attributes', name], message), flags);
    tests.push((error) => test(error.attributes?.[name]));
  }
  return tests;
}
