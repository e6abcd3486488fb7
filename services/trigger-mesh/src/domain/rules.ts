// Routing rules: the operator-owned YAML that drops, re-grades, categorises, routes and mutes reported errors.
//
// Semantics (also documented in rules.example.yaml):
// - Rules are evaluated in file order against the event as reported (after redaction). Match fields always test
//   that event, never what an earlier rule changed: a rule that raises severity does not make later rules see it.
// - A rule matches when every match field it gives matches; an omitted field matches anything, `match: {}`
//   matches every event. A list matches when any entry does.
// - Every matching rule's actions apply in file order; for severity, category, route and mute_for a later rule
//   overrides an earlier one.
// - A matching rule with `drop: true` ends evaluation: the event is dropped (not captured, only counted per rule).
//   `drop: true` stands alone in its rule, because nothing else would happen to a dropped event.
import { createHash } from 'node:crypto';
import { Severity as SeveritySchema, type EventData } from '@grace/contracts';
import {
  AttributeMatches,
  compileErrorMatch,
  compileOperatorFile,
  EntryName,
  NamePatterns,
  parseDuration,
  SeverityPatterns,
  type Report,
} from '@grace/service-kit';
import { Type, type Static } from '@sinclair/typebox';

type ErrorReported = EventData<'error.reported'>;
type Severity = ErrorReported['severity'];

// Regexes come from the operator and run on every event: bounded in length, compiled once.
const RegexSource = Type.String({ minLength: 1, maxLength: 1024, description: 'a JavaScript regular expression' });
const tagOptions = { minLength: 1, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' };

const RuleMatch = Type.Object(
  {
    service: Type.Optional(NamePatterns),
    environment: Type.Optional(NamePatterns),
    kind: Type.Optional(NamePatterns),
    severity: Type.Optional(SeverityPatterns),
    min_severity: Type.Optional(SeveritySchema),
    message: Type.Optional(RegexSource),
    attributes: Type.Optional(AttributeMatches),
  },
  { additionalProperties: false, description: 'every given field must match; an omitted field matches anything' },
);

const RuleActions = Type.Object(
  {
    drop: Type.Optional(Type.Boolean({ description: 'noise: not captured, only counted per rule' })),
    severity: Type.Optional(SeveritySchema),
    category: Type.Optional(Type.String({ ...tagOptions, maxLength: 64 })),
    route: Type.Optional(Type.String({ ...tagOptions, maxLength: 128 })),
    mute_for: Type.Optional(
      Type.String({ minLength: 1, maxLength: 16, description: 'a whole number and s, m, h or d; at most 30d' }),
    ),
  },
  { additionalProperties: false, minProperties: 1 },
);

const RoutingRule = Type.Object(
  {
    name: EntryName,
    description: Type.Optional(Type.String({ maxLength: 1024 })),
    match: RuleMatch,
    actions: RuleActions,
  },
  { additionalProperties: false },
);

export const RoutingRulesSchema = Type.Object(
  { version: Type.Literal(1), rules: Type.Array(RoutingRule, { maxItems: 1000 }) },
  { additionalProperties: false },
);
export type RoutingRules = Static<typeof RoutingRulesSchema>;
export type RoutingRule = Static<typeof RoutingRule>;

export interface RoutingDecision {
  drop: boolean;
  /** The rule that dropped the event. */
  droppedBy?: string;
  severity?: Severity;
  category?: string;
  route?: string;
  mutedUntil?: Date;
  /** Every rule that matched, in file order (the dropping rule last). */
  matched: string[];
}

export interface CompiledRules {
  version: number;
  /** sha256 hex of the source text. */
  checksum: string;
  /** The rules as written, validated. */
  rules: readonly RoutingRule[];
  evaluate(data: ErrorReported, now: Date): RoutingDecision;
}

// Longer silences are a decision to ignore an error for good: that is what `drop` is for.
const MUTE_FOR = { max: '30d', overMax: 'use drop for errors to ignore for good' };
// A field that takes a value or a list of values (a union in the schema).
const VALUE_OR_LIST = /^rules\.\d+\.match\.(service|environment|kind|severity)$/;

type Test = (data: ErrorReported) => boolean;

interface CompiledRule {
  readonly name: string;
  readonly actions: RoutingRule['actions'];
  readonly muteMs: number | undefined;
  readonly tests: readonly Test[];
}

/**
 * Parse, validate and compile a routing rules file; throws OperatorFileError (file "routing rules") listing every
 * problem with its path and line.
 */
export function parseRules(source: string): CompiledRules {
  const file = compileOperatorFile<RoutingRules, RoutingRule, CompiledRule>(source, {
    file: 'routing rules',
    schema: RoutingRulesSchema,
    valueOrList: VALUE_OR_LIST,
    entries: 'rules',
    entry: 'rule',
    compile: compileRule,
  });
  const compiled = file.entries;
  return {
    version: file.value.version,
    checksum: createHash('sha256').update(source).digest('hex'),
    rules: file.value.rules,
    evaluate: (data, now) => evaluateRules(compiled, data, now),
  };
}

function compileRule(rule: RoutingRule, report: Report): CompiledRule {
  const tests = compileErrorMatch(rule.match, (path, message) => report(['match', ...path], message));
  const { drop, ...changes } = rule.actions;
  if (drop && Object.keys(changes).length > 0) {
    report(
      ['actions'],
      `drop: true cannot be combined with ${Object.keys(changes).join(', ')}: a dropped event is never captured`,
    );
  }
  let muteMs: number | undefined;
  if (rule.actions.mute_for !== undefined) {
    const parsed = parseDuration(rule.actions.mute_for, MUTE_FOR);
    if (typeof parsed === 'string') report(['actions', 'mute_for'], parsed);
    else muteMs = parsed;
  }
  return { name: rule.name, actions: rule.actions, muteMs, tests };
}

/** No rules: nothing dropped, nothing changed. */
export const EMPTY_RULES: CompiledRules = {
  version: 1,
  checksum: createHash('sha256').update('').digest('hex'),
  rules: [],
  evaluate: () => ({ drop: false, matched: [] }),
};

function evaluateRules(rules: readonly CompiledRule[], data: ErrorReported, now: Date): RoutingDecision {
  const decision: RoutingDecision = { drop: false, matched: [] };
  for (const rule of rules) {
    if (!rule.tests.every((test) => test(data))) continue;
    decision.matched.push(rule.name);
    const { actions } = rule;
    if (actions.drop) {
      decision.drop = true;
      decision.droppedBy = rule.name;
      break;
    }
    if (actions.severity !== undefined) decision.severity = actions.severity;
    if (actions.category !== undefined) decision.category = actions.category;
    if (actions.route !== undefined) decision.route = actions.route;
    if (rule.muteMs !== undefined) decision.mutedUntil = new Date(now.getTime() + rule.muteMs);
  }
  return decision;
}
