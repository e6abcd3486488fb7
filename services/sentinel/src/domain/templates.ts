// Playbook templates: `{{ variable }}` slots in a plan's strings, compiled and checked when the catalog is read and
// filled from the triaged error when a plan is made. They only substitute text: no expressions, no code.
import type { ValidationError } from '@grace/contracts';

/** What a playbook is matched against and its templates are filled from: the triaged error. */
export interface TriageInput {
  service: string;
  environment: string;
  kind: string;
  category?: string;
  severity: 'debug' | 'info' | 'warning' | 'error' | 'critical';
  message: string;
  fingerprint: string;
  attributes?: Record<string, string | number | boolean | null>;
}

// Bounds on what a template can produce, whatever the error carries.
const MAX_RENDERED_LENGTH = 4096;
const MAX_MESSAGE_INSERT = 512;
const FIXED_VARIABLES = ['service', 'environment', 'kind', 'category', 'severity', 'fingerprint', 'message'] as const;
const ATTRIBUTE_VARIABLE = /^attributes\.([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$/;

type TemplatePart =
  string | { readonly variables: readonly string[]; readonly fallback?: string; readonly source: string };

interface CompiledString {
  readonly parts: readonly TemplatePart[];
  /** Inserted values are percent-encoded (url fields), so an error cannot change a url's structure. */
  readonly encode: boolean;
}

/** A value of the plan with its strings compiled: objects and arrays as they are, strings as templates. */
export type PlanNode =
  CompiledString | number | boolean | null | readonly PlanNode[] | { readonly [key: string]: PlanNode };

function isCompiledString(node: PlanNode): node is CompiledString {
  return typeof node === 'object' && node !== null && 'parts' in node && Array.isArray(node.parts);
}

/** Split a string into literal text and `{{ ... }}` slots; report syntax errors and unknown variables. */
function compileTemplate(text: string, problem: (message: string) => void): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let rest = text;
  while (rest.length > 0) {
    const open = rest.indexOf('{{');
    if (open < 0) {
      parts.push(rest);
      break;
    }
    if (open > 0) parts.push(rest.slice(0, open));
    const close = rest.indexOf('}}', open + 2);
    if (close < 0) {
      problem(`unclosed template "${rest.slice(open, open + 40)}": close it with }}`);
      return [];
    }
    const source = rest.slice(open, close + 2);
    const slot = compileSlot(rest.slice(open + 2, close), source, problem);
    if (slot) parts.push(slot);
    rest = rest.slice(close + 2);
  }
  return parts;
}

function compileSlot(
  inner: string,
  source: string,
  problem: (message: string) => void,
): Exclude<TemplatePart, string> | undefined {
  if (inner.includes('{')) {
    problem(`templates cannot nest: "${source}"`);
    return undefined;
  }
  const segments = inner.split('|').map((segment) => segment.trim());
  const variables: string[] = [];
  let fallback: string | undefined;
  for (const [index, segment] of segments.entries()) {
    const filter = /^([A-Za-z_]+)\s*:(.*)$/s.exec(segment);
    if (filter) {
      if (filter[1] !== 'default') {
        problem(`unknown template filter "${filter[1]}" in "${source}": the only filter is default: <text>`);
        return undefined;
      }
      if (index !== segments.length - 1 || index === 0) {
        problem(`in "${source}", default: must come last, after at least one variable`);
        return undefined;
      }
      fallback = unquote(filter[2]!.trim());
      continue;
    }
    if (segment === '') {
      problem(`empty template slot in "${source}"`);
      return undefined;
    }
    if (!isKnownVariable(segment)) {
      problem(
        `unknown template variable "${segment}" in "${source}": use ${FIXED_VARIABLES.join(', ')} or attributes.<name>`,
      );
      return undefined;
    }
    variables.push(segment);
  }
  return fallback === undefined ? { variables, source } : { variables, fallback, source };
}

function unquote(text: string): string {
  return /^(["']).*\1$/s.test(text) ? text.slice(1, -1) : text;
}

function isKnownVariable(name: string): boolean {
  return (FIXED_VARIABLES as readonly string[]).includes(name) || ATTRIBUTE_VARIABLE.test(name);
}

function valueOf(variable: string, input: TriageInput): string | undefined {
  let value: unknown;
  const attribute = ATTRIBUTE_VARIABLE.exec(variable);
  if (attribute) value = input.attributes?.[attribute[1]!];
  else if (variable === 'message') value = input.message.slice(0, MAX_MESSAGE_INSERT);
  else value = (input as unknown as Record<string, unknown>)[variable];
  if (value === undefined || value === null || value === '') return undefined;
  return String(value);
}

/** Fill one string; returns the text, or a message saying why it cannot be filled for this error. */
function renderString(compiled: CompiledString, input: TriageInput): { text: string } | { problem: string } {
  let text = '';
  for (const part of compiled.parts) {
    if (typeof part === 'string') {
      text += part;
      continue;
    }
    let value: string | undefined;
    for (const variable of part.variables) {
      value = valueOf(variable, input);
      if (value !== undefined) break;
    }
    if (value === undefined) {
      if (part.fallback === undefined) {
        return { problem: `${part.source} has no value for this error and no default (add | default: <text>)` };
      }
      value = part.fallback;
    } else if (compiled.encode) {
      value = encodeURIComponent(value);
    }
    text += value;
    if (text.length > MAX_RENDERED_LENGTH) {
      return { problem: `the filled text is longer than ${MAX_RENDERED_LENGTH} characters` };
    }
  }
  return { text };
}

/** Compile every string under a value; `templated` collects the paths of strings holding a template. */
export function compileNode(
  value: unknown,
  path: string[],
  problem: (path: string[], message: string) => void,
  templated: Set<string>,
): PlanNode {
  if (typeof value === 'string') {
    const parts = compileTemplate(value, (message) => problem(path, message));
    if (parts.some((part) => typeof part !== 'string')) templated.add(path.join('.'));
    return { parts, encode: path[path.length - 1] === 'url' };
  }
  if (Array.isArray(value))
    return value.map((item, index) => compileNode(item, [...path, String(index)], problem, templated));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, compileNode(item, [...path, key], problem, templated)]),
    );
  }
  return value as number | boolean | null;
}

/** Fill every string under a compiled value; a string that cannot be filled becomes '' and a problem at its path. */
export function renderNode(node: PlanNode, path: string[], input: TriageInput, problems: ValidationError[]): unknown {
  if (node === null || typeof node !== 'object') return node;
  if (isCompiledString(node)) {
    const result = renderString(node, input);
    if ('problem' in result) {
      problems.push({ path: path.join('.'), message: result.problem });
      return '';
    }
    return result.text;
  }
  if (Array.isArray(node))
    return node.map((item: PlanNode, index) => renderNode(item, [...path, String(index)], input, problems));
  return Object.fromEntries(
    Object.entries(node).map(([key, item]) => [key, renderNode(item as PlanNode, [...path, key], input, problems)]),
  );
}

/** Every variable the templates under a compiled value read, sorted. */
export function collectVariables(node: PlanNode, into: Set<string> = new Set()): string[] {
  if (node !== null && typeof node === 'object') {
    if (isCompiledString(node)) {
      for (const part of node.parts) if (typeof part !== 'string') part.variables.forEach((v) => into.add(v));
    } else if (Array.isArray(node)) {
      node.forEach((item: PlanNode) => collectVariables(item, into));
    } else {
      Object.values(node).forEach((item) => collectVariables(item as PlanNode, into));
    }
  }
  return [...into].sort();
}

/** A made-up error giving every one of these variables a value, to check plans whatever the error. */
export function sampleInput(variables: readonly string[]): TriageInput {
  const attributes: Record<string, string> = {};
  for (const variable of variables) {
    const attribute = ATTRIBUTE_VARIABLE.exec(variable);
    if (attribute) attributes[attribute[1]!] = 'sample';
  }
  return {
    service: 'sample-service',
    environment: 'production',
    kind: 'SampleError',
    category: 'sample',
    severity: 'error',
    message: 'sample message',
    fingerprint: 'sample-fingerprint',
    attributes,
  };
}
