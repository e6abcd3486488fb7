// The playbook catalog: the operator-owned YAML of playbooks, its schema, matching errors to playbooks, and plans.
//
// Semantics (also documented at the top of playbooks.yaml):
// - A playbook applies to an error when every field of `applies_to` matches and, when `any` is given, at least one
//   of its entries matches too. An omitted field matches anything; a list matches when any entry does.
// - `candidatesFor` returns the playbooks that apply, in file order; choosing among them is the sentinel's job.
// - Templates `{{ variable }}` fill strings of target, params, expected_effect.target_state and checks from the
//   error. They only substitute text: no expressions, no code. Unknown variables are refused when the file is read.
import { createHash } from 'node:crypto';
import {
  ActionName,
  Adapter,
  describeErrors,
  JsonObject,
  REMEDIATION_OPERATIONS,
  schemas,
  Severity as SeveritySchema,
  validateSchema,
  type ValidationError,
} from '@grace/contracts';
import {
  compileErrorMatch,
  compileOperatorFile,
  EntryName,
  NamePatterns,
  parseDuration,
  SeverityPatterns,
} from '@grace/service-kit';
import { Type, type Static, type TSchema } from '@sinclair/typebox';

const { ActionPlan, ActionTimeoutMs, Check, ExpectedEffect } = schemas;
type ActionPlan = schemas.ActionPlan;

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

// Regexes come from the operator and run on every triaged error: bounded in length, compiled once.
const RegexSource = Type.String({
  minLength: 1,
  maxLength: 1024,
  description: 'a JavaScript regular expression searched in the message, case-insensitive',
});

const matchFields = {
  service: Type.Optional(NamePatterns),
  environment: Type.Optional(NamePatterns),
  kind: Type.Optional(NamePatterns),
  category: Type.Optional(NamePatterns),
  severity: Type.Optional(SeverityPatterns),
  min_severity: Type.Optional(SeveritySchema),
  message: Type.Optional(RegexSource),
  attributes: Type.Optional(
    Type.Record(
      Type.String({ maxLength: 128 }),
      Type.Union([Type.String({ minLength: 1, maxLength: 1024 }), Type.Number(), Type.Boolean()]),
      { maxProperties: 32, description: 'attribute name -> exact value, or "re:<regex>"' },
    ),
  ),
};

const Alternative = Type.Object(matchFields, { additionalProperties: false, minProperties: 1 });

const AppliesTo = Type.Object(
  {
    ...matchFields,
    any: Type.Optional(
      Type.Array(Alternative, {
        minItems: 1,
        maxItems: 32,
        description: 'at least one of these must match as well (each is a set of fields that must all match)',
      }),
    ),
  },
  { additionalProperties: false, description: 'every given field must match; an omitted field matches anything' },
);

// A template string: the schema bounds its length; its variables are checked when the file is read.
const TemplateText = (maxLength: number, extra: object = {}) => Type.String({ minLength: 1, maxLength, ...extra });

const TargetTemplate = Type.Object(
  {
    service: Type.Optional(TemplateText(256, { description: "default '{{service}}'" })),
    environment: Type.Optional(TemplateText(256, { description: "default '{{environment}}'" })),
    namespace: Type.Optional(TemplateText(256, { description: 'kubernetes namespace' })),
    deployment: Type.Optional(TemplateText(512, { description: 'kubernetes Deployment name' })),
    // The scheme is literal so that no error can turn a webhook into another protocol.
    url: Type.Optional(TemplateText(2048, { pattern: '^https?://', description: 'http adapter webhook' })),
  },
  { additionalProperties: false },
);

const PlaybookDefinition = Type.Object(
  {
    name: EntryName,
    description: Type.Optional(Type.String({ maxLength: 1024 })),
    applies_to: AppliesTo,
    adapter: Adapter,
    action: ActionName,
    target: Type.Optional(TargetTemplate),
    params: Type.Optional(JsonObject),
    tier: Type.Union([Type.Literal(1), Type.Literal(2), Type.Literal(3)]),
    expected_effect: ExpectedEffect,
    checks: Type.Array(Check, { maxItems: 32 }),
    timeout_ms: Type.Optional(ActionTimeoutMs),
    cooldown: Type.String({
      minLength: 1,
      maxLength: 16,
      description: 'a whole number and s, m, h or d (0s for none); at most 7d',
    }),
  },
  { additionalProperties: false },
);
export type PlaybookDefinition = Static<typeof PlaybookDefinition>;

export const PlaybookCatalogSchema: TSchema = Type.Object(
  { version: Type.Literal(1), playbooks: Type.Array(PlaybookDefinition, { maxItems: 200 }) },
  { additionalProperties: false },
);
interface PlaybookCatalogFile {
  version: 1;
  playbooks: PlaybookDefinition[];
}

export interface Playbook {
  readonly name: string;
  readonly description?: string;
  readonly tier: 1 | 2 | 3;
  readonly cooldownMs: number;
  readonly timeoutMs: number;
  readonly adapter: ActionPlan['adapter'];
  readonly action: string;
  /** The entry as written in the file, validated, templates unfilled (for the catalog query). */
  readonly definition: PlaybookDefinition;
  /** Every variable its templates read, e.g. service, attributes.namespace. */
  readonly variables: readonly string[];
  matches(input: TriageInput): boolean;
}

export interface CompiledCatalog {
  version: number;
  /** sha256 hex of the source text. */
  checksum: string;
  playbooks: Playbook[];
  byName: Map<string, Playbook>;
  /** The playbooks that apply to the error, in file order. */
  candidatesFor(input: TriageInput): Playbook[];
}

// A longer cooldown is a decision not to run the playbook: remove it from the catalog instead.
const COOLDOWN = { max: '7d', overMax: 'remove the playbook instead', allowZero: true };
// Fields that take a value or a list of values (unions in the schema).
const VALUE_OR_LIST = /^playbooks\.\d+\.applies_to(\.any\.\d+)?\.(service|environment|kind|category|severity)$/;
// Case-insensitive: error messages say Timeout, timeout and TIMEOUT for the same thing.
const REGEX_FLAGS = 'i';
const DEFAULT_TIMEOUT_MS = 60_000;
// Bounds on what a template can produce, whatever the error carries.
const MAX_RENDERED_LENGTH = 4096;
const MAX_MESSAGE_INSERT = 512;
const FIXED_VARIABLES = ['service', 'environment', 'kind', 'category', 'severity', 'fingerprint', 'message'] as const;
const ATTRIBUTE_VARIABLE = /^attributes\.([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$/;
const RESERVED_ACTIONS: readonly string[] = REMEDIATION_OPERATIONS;

// ---------------------------------------------------------------------------------------------------- templates

type TemplatePart =
  string | { readonly variables: readonly string[]; readonly fallback?: string; readonly source: string };

interface CompiledString {
  readonly parts: readonly TemplatePart[];
  /** Inserted values are percent-encoded (url fields), so an error cannot change a url's structure. */
  readonly encode: boolean;
}

/** A value of the plan with its strings compiled: objects and arrays as they are, strings as templates. */
type PlanNode = CompiledString | number | boolean | null | readonly PlanNode[] | { readonly [key: string]: PlanNode };

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
function compileNode(
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

function renderNode(node: PlanNode, path: string[], input: TriageInput, problems: ValidationError[]): unknown {
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

// ------------------------------------------------------------------------------------------------------ parsing

interface CompiledPlaybook {
  /** The plan with `playbook` as it will be sent, its strings compiled; paths are the plan's (target.url, ...). */
  readonly plan: PlanNode;
}

const compiledPlans = new WeakMap<Playbook, CompiledPlaybook>();

/**
 * Parse, validate and compile a playbook catalog; throws OperatorFileError (file "playbook catalog") listing every
 * problem with its path and line.
 */
export function parseCatalog(text: string): CompiledCatalog {
  const file = compileOperatorFile<PlaybookCatalogFile, PlaybookDefinition, Playbook | undefined>(text, {
    file: 'playbook catalog',
    schema: PlaybookCatalogSchema,
    valueOrList: VALUE_OR_LIST,
    entries: 'playbooks',
    entry: 'playbook',
    compile: (definition, report) => compilePlaybook(definition, report),
  });
  // Every entry compiled: a playbook that did not was reported, and the file refused.
  const playbooks = file.entries.filter((playbook) => playbook !== undefined);
  const byName = new Map(playbooks.map((playbook) => [playbook.name, playbook]));
  return {
    version: file.value.version,
    checksum: createHash('sha256').update(text).digest('hex'),
    playbooks,
    byName,
    candidatesFor: (input) => playbooks.filter((playbook) => playbook.matches(input)),
  };
}

function compilePlaybook(
  definition: PlaybookDefinition,
  problem: (path: (string | number)[], message: string) => void,
): Playbook | undefined {
  let failed = false;
  const report = (path: (string | number)[], message: string) => {
    failed = true;
    problem(path, message);
  };

  const tests = compileErrorMatch(
    definition.applies_to,
    (path, message) => report(['applies_to', ...path], message),
    REGEX_FLAGS,
  );
  const alternatives = (definition.applies_to.any ?? []).map((alternative, index) =>
    compileErrorMatch(
      alternative,
      (path, message) => report(['applies_to', 'any', index, ...path], message),
      REGEX_FLAGS,
    ),
  );

  const cooldownMs = parseDuration(definition.cooldown, COOLDOWN);
  if (typeof cooldownMs === 'string') report(['cooldown'], cooldownMs);

  if (RESERVED_ACTIONS.includes(definition.action)) {
    report(
      ['action'],
      `"${definition.action}" is reserved by the remediation protocol (${RESERVED_ACTIONS.join(', ')})`,
    );
  }
  const target = { service: '{{service}}', environment: '{{environment}}', ...definition.target };
  if (definition.adapter === 'kubernetes' && (target.namespace === undefined || target.deployment === undefined)) {
    report(['target'], 'the kubernetes adapter needs target.namespace and target.deployment');
  }
  if (definition.adapter === 'http' && target.url === undefined) {
    report(['target'], 'the http adapter needs target.url (the webhook)');
  }
  checkChecks(definition, report);

  // Plan paths and file paths differ only for the playbook's name.
  const planPathToFile = (path: string[]) => (path[0] === 'playbook' ? ['name', ...path.slice(1)] : path);
  const dottedPlanPathToFile = (path: string) => planPathToFile(path === '' ? [] : path.split('.'));
  const templated = new Set<string>();
  const plan = compileNode(
    {
      playbook: definition.name,
      adapter: definition.adapter,
      action: definition.action,
      target,
      params: definition.params ?? {},
      tier: definition.tier,
      expected_effect: definition.expected_effect,
      checks: definition.checks,
      timeout_ms: definition.timeout_ms ?? DEFAULT_TIMEOUT_MS,
    },
    [],
    (path, message) => report(planPathToFile(path), message),
    templated,
  );
  if (failed) return undefined;

  // Fill the templates with a sample error: what still fails as an ActionPlan does so whatever the error is.
  // Failures in filled strings depend on the error; planFor reports those for the error at hand.
  const variables = collectVariables(plan);
  const sample = sampleInput(variables);
  const renderProblems: ValidationError[] = [];
  const rendered = renderNode(plan, [], sample, renderProblems);
  for (const { path, message } of renderProblems) report(dottedPlanPathToFile(path), message);
  const validation = validateSchema<ActionPlan>(ActionPlan, rendered);
  if (!validation.ok) {
    for (const { path, message } of validation.errors) {
      if (templated.has(path)) continue;
      report(dottedPlanPathToFile(path), `${message} (the plan must validate as an ActionPlan)`);
    }
  }
  if (failed) return undefined;

  const playbook: Playbook = {
    name: definition.name,
    ...(definition.description === undefined ? {} : { description: definition.description }),
    tier: definition.tier,
    cooldownMs: cooldownMs as number,
    timeoutMs: definition.timeout_ms ?? DEFAULT_TIMEOUT_MS,
    adapter: definition.adapter,
    action: definition.action,
    definition,
    variables,
    matches: (input) =>
      tests.every((test) => test(input)) &&
      (alternatives.length === 0 || alternatives.some((alternative) => alternative.every((test) => test(input)))),
  };
  compiledPlans.set(playbook, { plan });
  return playbook;
}

/** Check names are unique in a plan; state checks compare fields the expected state names; subjects are literal-safe. */
function checkChecks(definition: PlaybookDefinition, report: (path: (string | number)[], message: string) => void) {
  const seen = new Map<string, number>();
  const expectedFields = Object.keys(definition.expected_effect.target_state);
  definition.checks.forEach((check, index) => {
    const first = seen.get(check.name);
    if (first === undefined) seen.set(check.name, index);
    else report(['checks', index, 'name'], `duplicate check name "${check.name}" (also checks.${first})`);
    if (check.kind === 'state') {
      for (const [fieldIndex, field] of (check.fields ?? []).entries()) {
        if (!expectedFields.includes(field)) {
          report(
            ['checks', index, 'fields', fieldIndex],
            `"${field}" is not in expected_effect.target_state (${expectedFields.join(', ') || 'empty'})`,
          );
        }
      }
      if (expectedFields.length === 0) report(['checks', index], 'a state check needs expected_effect.target_state');
    }
    if (check.kind === 'nats') {
      const problem = subjectProblem(check.subject.replace(/\{\{[^}]*\}\}/g, 'x'));
      if (problem) report(['checks', index, 'subject'], problem);
    }
  });
}

/** NATS subjects of checks are requested, never subscribed: no wildcards, no spaces, no empty tokens. */
function subjectProblem(subject: string): string | undefined {
  if (/[\s*>]/.test(subject) || subject.split('.').some((token) => token === '')) {
    return `"${subject}" is not a plain NATS subject (no spaces, wildcards * or >, or empty tokens)`;
  }
  return undefined;
}

function collectVariables(node: PlanNode, into: Set<string> = new Set()): string[] {
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

function sampleInput(variables: readonly string[]): TriageInput {
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

/** The action plan of a playbook for one error: templates filled, validated as an ActionPlan. */
export function planFor(playbook: Playbook, input: TriageInput): ActionPlan {
  const compiled = compiledPlans.get(playbook);
  if (!compiled) throw new Error(`playbook "${playbook.name}" was not compiled by parseCatalog`);
  const problems: ValidationError[] = [];
  const plan = renderNode(compiled.plan, [], input, problems);
  if (problems.length === 0) {
    const validation = validateSchema<ActionPlan>(ActionPlan, plan);
    if (!validation.ok) problems.push(...validation.errors);
    else {
      validation.value.checks.forEach((check, index) => {
        const problem = check.kind === 'nats' ? subjectProblem(check.subject) : undefined;
        if (problem) problems.push({ path: `checks.${index}.subject`, message: problem });
      });
      if (problems.length === 0) return validation.value;
    }
  }
  throw new Error(
    `playbook "${playbook.name}" gives no valid plan for ${input.kind} on ${input.service}: ${describeErrors(problems)}`,
  );
}
