// The playbook catalog: compiling the operator-owned YAML of playbooks, matching errors to playbooks, and plans.
// The file's schema is in catalog-schema.ts and its templates in templates.ts.
//
// Semantics (also documented at the top of playbooks.yaml):
// - A playbook applies to an error when every field of `applies_to` matches and, when `any` is given, at least one
//   of its entries matches too. An omitted field matches anything; a list matches when any entry does.
// - `candidatesFor` returns the playbooks that apply, in file order; choosing among them is the sentinel's job.
// - Templates `{{ variable }}` fill strings of target, params, expected_effect.target_state and checks from the
//   error. They only substitute text: no expressions, no code. Unknown variables are refused when the file is read.
import { createHash } from 'node:crypto';
import {
  describeErrors,
  REMEDIATION_OPERATIONS,
  schemas,
  validateSchema,
  type ValidationError,
} from '@grace/contracts';
import { compileErrorMatch, compileOperatorFile, parseDuration } from '@grace/service-kit';
import {
  PlaybookCatalogSchema,
  VALUE_OR_LIST,
  type PlaybookCatalogFile,
  type PlaybookDefinition,
} from './catalog-schema.js';
import {
  collectVariables,
  compileNode,
  renderNode,
  sampleInput,
  type PlanNode,
  type TriageInput,
} from './templates.js';

export { PlaybookCatalogSchema, type PlaybookDefinition } from './catalog-schema.js';
export type { TriageInput } from './templates.js';

const { ActionPlan } = schemas;
type ActionPlan = schemas.ActionPlan;

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
// Case-insensitive: error messages say Timeout, timeout and TIMEOUT for the same thing.
const REGEX_FLAGS = 'i';
const DEFAULT_TIMEOUT_MS = 60_000;
const RESERVED_ACTIONS: readonly string[] = REMEDIATION_OPERATIONS;

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
