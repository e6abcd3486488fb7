// Operator-owned YAML files (routing rules, playbook catalogs, action policies): parsing with line numbers, readable
// schema errors, files of named entries compiled with every problem at once, and the matchers and durations such
// files are written in.
import { describeErrors, Severity as SeveritySchema, validateSchema, type ValidationError } from '@grace/contracts';
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
  const read = readYaml(text);
  if (!read.ok) return read;
  const { value, lineOf, problemAt } = read;
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

type YamlRead =
  | {
      readonly ok: true;
      readonly value: unknown;
      lineOf(path: FilePath): number | undefined;
      problemAt(path: FilePath, message: string): FileProblem;
    }
  | { readonly ok: false; readonly problems: FileProblem[] };

function readYaml(text: string): YamlRead {
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
  return { ok: true, value, lineOf, problemAt };
}

// ------------------------------------------------------------------------------------ files of named entries

/**
 * The name of an entry of an operator file (a routing rule, a playbook, a policy rule): what every one of the three
 * files accepted before they shared it (the playbook's ^[A-Za-z0-9][A-Za-z0-9._-]* of at most 128 characters,
 * the routing rule's ^[a-z0-9_-]+ and the policy rule's ^[a-z0-9][a-z0-9_.-]*, both of at most 64). Names are
 * recorded in events, metrics and decisions and typed in chat and the CLI.
 */
export const ENTRY_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const ENTRY_NAME_RULE = 'lower-case letters, digits, _ and -, starting with a letter or digit, at most 64 characters';
/** The schema of an entry's name; its pattern (ENTRY_NAME) is checked by compileOperatorFile, which says it in words. */
export const EntryName = Type.String({ description: `unique in the file; ${ENTRY_NAME_RULE}` });

/** An operator file that cannot be used: what the file is and every problem, each with its path and line. */
export class OperatorFileError extends Error {
  /** What the file is, e.g. "routing rules". */
  readonly file: string;
  readonly problems: readonly FileProblem[];
  constructor(file: string, problems: readonly FileProblem[]) {
    super(`invalid ${file}: ${describeErrors(problems)}`);
    this.name = 'OperatorFileError';
    this.file = file;
    this.problems = problems;
  }
}

/** Reports a problem at a path; the path is relative to what is being compiled. */
export type Report = (path: FilePath, message: string) => void;

export interface NamedEntriesSpec<F, E extends { name: string }, C, S> {
  /** What the file is, for its error: "routing rules" gives `invalid routing rules: ...`. */
  file: string;
  /** The schema of the whole file: entries are objects with a `name` (EntryName) in an array at `entries`. */
  schema: TSchema;
  /** Fields that take a value or a list of values (see OperatorFileOptions). */
  valueOrList?: RegExp;
  /** The property of the file that holds the entries, e.g. rules. */
  entries: string & keyof F;
  /** What one entry is, for messages: "rule" gives `duplicate rule name "x" (also rules.0)`. */
  entry: string;
  /**
   * Compiles what the entries share (e.g. defaults) when everything outside the entries is valid; runs before
   * them. Only the fields outside the entries are checked by then. Paths are from the root of the file.
   */
  shared?(file: F, report: Report): S;
  /** Compiles one entry that is valid against the schema; paths are inside the entry. */
  compile(entry: E, report: Report, shared: S | undefined, index: number): C;
}

export interface CompiledOperatorFile<F, C> {
  /** The file as written, validated. */
  value: F;
  /** What `compile` gave for each entry, in file order. */
  entries: C[];
}

/**
 * Parse, validate and compile a file of named entries; throws OperatorFileError listing every problem with its
 * path and line. Every entry is validated against its part of the schema and its name checked (ENTRY_NAME,
 * unique in the file) whatever is wrong elsewhere; the entries that are valid are compiled, so one pass reports
 * what is wrong in all of them. Problems are listed outside the entries first, then entry by entry: its name, its
 * schema problems, what compiling it found.
 */
export function compileOperatorFile<F, E extends { name: string }, C, S = undefined>(
  text: string,
  spec: NamedEntriesSpec<F, E, C, S>,
): CompiledOperatorFile<F, C> {
  const read = readYaml(text);
  if (!read.ok) throw new OperatorFileError(spec.file, read.problems);
  const { value, problemAt } = read;
  const checked = validateSchema<F>(spec.schema, value ?? {});
  const outside: FileProblem[] = [];
  const ofEntry = new Map<number, FileProblem[]>();
  if (!checked.ok) {
    const entryIndex = new RegExp(`^${escapeRegExp(spec.entries)}\\.(\\d+)(?:\\.|$)`);
    for (const { path, message } of readableErrors(checked.errors, value, spec.valueOrList)) {
      const problem = problemAt(splitPath(path), message);
      const index = entryIndex.exec(path)?.[1];
      if (index === undefined) outside.push(problem);
      else ofEntry.set(Number(index), [...(ofEntry.get(Number(index)) ?? []), problem]);
    }
  }

  const problems = [...outside];
  const report: Report = (path, message) => problems.push(problemAt(path, message));
  const shared = outside.length === 0 && spec.shared ? spec.shared(value as F, report) : undefined;
  const list = isObject(value) ? value[spec.entries] : undefined;
  const entries: C[] = [];
  const firstIndexByName = new Map<string, number>();
  (Array.isArray(list) ? (list as unknown[]) : []).forEach((entry, index) => {
    const at = (...path: FilePath) => [spec.entries, index, ...path];
    const name = isObject(entry) ? entry.name : undefined;
    if (typeof name === 'string') {
      if (!ENTRY_NAME.test(name)) report(at('name'), `${spec.entry} name ${quoted(name)} must be ${ENTRY_NAME_RULE}`);
      const first = firstIndexByName.get(name);
      if (first === undefined) firstIndexByName.set(name, index);
      else report(at('name'), `duplicate ${spec.entry} name ${quoted(name)} (also ${spec.entries}.${first})`);
    }
    const own = ofEntry.get(index);
    if (own) problems.push(...own);
    else entries.push(spec.compile(entry as E, (path, message) => report(at(...path), message), shared, index));
  });
  if (problems.length > 0) throw new OperatorFileError(spec.file, problems);
  return { value: value as F, entries };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function quoted(name: string): string {
  return JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}...` : name);
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
    // A value written as an object is not judged by the scalar branches of its union when its fields say what is
    // wrong: `require_approval: { quorum: 0 }` is not also told it "must be boolean".
    const deeper = path === '' ? (other: string) => other !== '' : (other: string) => other.startsWith(`${path}.`);
    if (isObject(valueAt(value, splitPath(path))) && errors.some((e) => deeper(e.path))) {
      kept = kept.filter((message) => !/^must be (boolean|string|number|integer|null)$/.test(message));
    }
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

/** Attribute name -> exact value, or `re:<regex>`: what an operator file matches an error's attributes with. */
export const AttributeMatches = Type.Record(
  Type.String({ maxLength: 128 }),
  Type.Union([Type.String({ minLength: 1, maxLength: 1024 }), Type.Number(), Type.Boolean()]),
  { maxProperties: 32, description: 'attribute name -> exact value, or "re:<regex>"' },
);

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
