// The action policy: the operator-owned YAML of rules that deny, raise the tier of, hold for approval or dry-run the
// actions asked of the executor, its schema, and the decision for one action.
//
// Semantics (also documented at the top of policies.yaml):
// - Rules are read in file order. A rule matches when every field of `match` matches; an omitted field matches
//   anything, a list matches when any of its entries does.
// - tier and min_tier see the effective tier so far: a raise_tier of an earlier rule changes what later rules see.
// - The first matching deny wins and ends the evaluation: a denied decision carries no approval and no dry run.
//   Among matching require_approval rules the largest quorum wins (the first one on a tie); dry_run comes from the
//   first matching rule that sets it.
// - A window is read on the clock of its time zone: from is inclusive, to exclusive. When to comes before from the
//   window runs overnight and belongs to the day it starts on: `days: [fri], from: '22:00', to: '06:00'` covers
//   Saturday 03:00, not Friday 03:00.
import { Adapter, Role, Tier } from '@grace/contracts';
import {
  compileNames,
  compileOperatorFile,
  EntryName,
  NamePatterns,
  parseDuration,
  type FilePath,
  type Report,
} from '@grace/service-kit';
import { Type, type Static, type TSchema } from '@sinclair/typebox';

const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
type Weekday = (typeof WEEKDAYS)[number];
const Weekday = Type.Union(WEEKDAYS.map((day) => Type.Literal(day)));
type RoleName = Static<typeof Role>;

const ClockTime = Type.String({ minLength: 1, maxLength: 5, description: 'HH:MM on a 24-hour clock' });
const TimeZone = Type.String({ minLength: 1, maxLength: 64, description: 'an IANA time zone; default UTC' });
const Window = Type.Object(
  {
    days: Type.Optional(Type.Array(Weekday, { minItems: 1, maxItems: 7, uniqueItems: true })),
    from: Type.Optional(ClockTime),
    to: Type.Optional(ClockTime),
    timezone: Type.Optional(TimeZone),
    when: Type.Optional(Type.Union([Type.Literal('inside'), Type.Literal('outside')])),
  },
  { additionalProperties: false, description: 'days default to every day, timezone to UTC, when to inside' },
);

const Match = Type.Object(
  {
    service: Type.Optional(NamePatterns),
    environment: Type.Optional(NamePatterns),
    playbook: Type.Optional(NamePatterns),
    adapter: Type.Optional(Type.Union([Adapter, Type.Array(Adapter, { minItems: 1, maxItems: 3 })])),
    action: Type.Optional(NamePatterns),
    tier: Type.Optional(Type.Union([Tier, Type.Array(Tier, { minItems: 1, maxItems: 3 })])),
    min_tier: Type.Optional(Tier),
    window: Type.Optional(Window),
  },
  { additionalProperties: false, description: 'every given field must match; an omitted field matches anything' },
);

const Expiry = Type.String({ minLength: 1, maxLength: 16, description: 'a whole number and s, m, h or d; 1m to 7d' });
const ApprovalSettings = Type.Object(
  {
    quorum: Type.Optional(Type.Integer({ minimum: 1, maximum: 16, description: 'how many distinct approvals' })),
    role: Type.Optional(Role),
    expires_in: Type.Optional(Expiry),
  },
  { additionalProperties: false },
);
type ApprovalSettings = Static<typeof ApprovalSettings>;

const DenyReason = Type.String({ minLength: 1, maxLength: 1024, description: 'the reason the denial gives' });
const Effect = Type.Object(
  {
    deny: Type.Optional(Type.Union([Type.Boolean(), DenyReason])),
    raise_tier: Type.Optional(Tier),
    require_approval: Type.Optional(Type.Union([Type.Boolean(), ApprovalSettings])),
    dry_run: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

const RuleDefinition = Type.Object(
  {
    name: EntryName,
    description: Type.Optional(Type.String({ maxLength: 1024 })),
    match: Match,
    effect: Effect,
  },
  { additionalProperties: false },
);
type RuleDefinition = Static<typeof RuleDefinition>;

const Defaults = Type.Object({ approval: Type.Optional(ApprovalSettings) }, { additionalProperties: false });
const PolicyFile = Type.Object(
  {
    version: Type.Literal(1),
    defaults: Type.Optional(Defaults),
    rules: Type.Array(RuleDefinition, { maxItems: 200 }),
  },
  { additionalProperties: false },
);
type PolicyFile = Static<typeof PolicyFile>;
export const PolicySchema: TSchema = PolicyFile;

// Fields that take a value or a list of values (unions in the schema).
const VALUE_OR_LIST = /^rules\.\d+\.match\.(service|environment|playbook|adapter|action|tier)$/;
// An approval that waits longer than a week is stale: the situation it was asked about has changed.
const EXPIRY = { max: '7d', overMax: 'ask again later instead' };
const MIN_EXPIRY_MS = 60_000;
// What a file without defaults.approval asks for.
const DEFAULT_APPROVAL: ApprovalRequirement = { quorum: 2, role: 'approver', expiresIn: '30m', expiresInMs: 1_800_000 };

export interface PolicyInput {
  service: string;
  environment: string;
  playbook: string;
  adapter: Static<typeof Adapter>;
  action: string;
  /** The tier the plan asks for, 1 to 3. */
  tier: number;
  now: Date;
}

export interface PolicyDecision {
  /** The effective tier, after every raise_tier of the matching rules. */
  tier: number;
  denied?: { rule: string; reason: string };
  approval?: { rule: string; quorum: { required: number; role: RoleName }; expiresInMs: number; reason: string };
  dryRun?: { rule: string };
  /** Names of the matching rules, in file order (up to the deny that ended the evaluation). */
  matched: string[];
}

export interface CompiledPolicy {
  /** The file's version field. */
  readonly version: number;
  /** How many rules the file holds. */
  readonly rules: number;
}

interface ApprovalRequirement {
  quorum: number;
  role: RoleName;
  /** As written, for the reason given to approvers. */
  expiresIn: string;
  expiresInMs: number;
}

interface CompiledRule {
  readonly name: string;
  matches(input: PolicyInput, tier: number): boolean;
  readonly denyReason?: string;
  readonly raiseTier?: number;
  readonly approval?: ApprovalRequirement;
  readonly dryRun: boolean;
}

const compiledRules = new WeakMap<CompiledPolicy, readonly CompiledRule[]>();

/**
 * Parse, validate and compile an action policy; throws OperatorFileError (file "action policy") listing every
 * problem with its path and line.
 */
export function parsePolicy(text: string): CompiledPolicy {
  const file = compileOperatorFile<PolicyFile, RuleDefinition, CompiledRule, ApprovalRequirement>(text, {
    file: 'action policy',
    schema: PolicySchema,
    valueOrList: VALUE_OR_LIST,
    entries: 'rules',
    entry: 'rule',
    shared: (policy, report) =>
      compileApproval(policy.defaults?.approval ?? {}, DEFAULT_APPROVAL, (path, message) =>
        report(['defaults', 'approval', ...path], message),
      ),
    compile: (definition, report, defaults) => compileRule(definition, defaults ?? DEFAULT_APPROVAL, report),
  });
  const policy: CompiledPolicy = { version: file.value.version, rules: file.entries.length };
  compiledRules.set(policy, file.entries);
  return policy;
}

function compileRule(definition: RuleDefinition, defaults: ApprovalRequirement, report: Report): CompiledRule {
  const { match, effect } = definition;
  const tests: ((input: PolicyInput, tier: number) => boolean)[] = [];
  for (const field of ['service', 'environment', 'playbook', 'action'] as const) {
    const patterns = match[field];
    if (patterns === undefined) continue;
    const test = compileNames(patterns);
    tests.push((input) => test(input[field]));
  }
  if (match.adapter !== undefined) {
    const adapters = new Set<string>(listOf(match.adapter));
    tests.push((input) => adapters.has(input.adapter));
  }
  if (match.tier !== undefined) {
    const tiers = new Set(listOf(match.tier));
    tests.push((_input, tier) => tiers.has(tier));
    if (match.min_tier !== undefined) report(['match', 'min_tier'], 'give tier or min_tier, not both');
  } else if (match.min_tier !== undefined) {
    const minimum = match.min_tier;
    tests.push((_input, tier) => tier >= minimum);
  }
  if (match.window !== undefined) {
    const inWindow = compileWindow(match.window, (path, message) => report(['match', 'window', ...path], message));
    tests.push((input) => inWindow(input.now));
  }

  const { deny, raise_tier: raiseTier, require_approval: requireApproval, dry_run: dryRun = false } = effect;
  if ((deny === undefined || deny === false) && raiseTier === undefined && !requireApproval && !dryRun) {
    report(['effect'], 'the effect does nothing: give deny, raise_tier, require_approval or dry_run');
  }
  const approval =
    typeof requireApproval === 'object'
      ? compileApproval(requireApproval, defaults, (path, message) =>
          report(['effect', 'require_approval', ...path], message),
        )
      : requireApproval
        ? defaults
        : undefined;
  return {
    name: definition.name,
    matches: (input, tier) => tests.every((test) => test(input, tier)),
    denyReason: deny === true ? `denied by policy rule ${definition.name}` : deny || undefined,
    raiseTier,
    approval,
    dryRun,
  };
}

/** Settings written in the file, each one falling back to `fallback`'s. */
function compileApproval(
  settings: ApprovalSettings,
  fallback: ApprovalRequirement,
  report: Report,
): ApprovalRequirement {
  let expiresInMs = fallback.expiresInMs;
  if (settings.expires_in !== undefined) {
    const parsed = parseDuration(settings.expires_in, EXPIRY);
    if (typeof parsed === 'string') report(['expires_in'], parsed);
    else if (parsed < MIN_EXPIRY_MS) {
      report(['expires_in'], `"${settings.expires_in}" is shorter than 1m: approvers need time to answer`);
    } else expiresInMs = parsed;
  }
  return {
    quorum: settings.quorum ?? fallback.quorum,
    role: settings.role ?? fallback.role,
    expiresIn: settings.expires_in ?? fallback.expiresIn,
    expiresInMs,
  };
}

function compileWindow(window: Static<typeof Window>, report: Report): (now: Date) => boolean {
  const timeZone = window.timezone ?? 'UTC';
  let clock: Intl.DateTimeFormat | undefined;
  try {
    const options = { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' } as const;
    clock = new Intl.DateTimeFormat('en-US', options);
  } catch {
    report(['timezone'], `unknown time zone "${timeZone}": use an IANA name such as Europe/Berlin or UTC`);
  }
  const from = window.from === undefined ? undefined : minutesOf(window.from, ['from'], report);
  const to = window.to === undefined ? undefined : minutesOf(window.to, ['to'], report);
  if ((window.from === undefined) !== (window.to === undefined)) {
    report([], 'give both from and to, or neither for the whole day');
  } else if (window.from === undefined && window.days === undefined) {
    report([], 'a window needs days, or from and to');
  }
  if (from !== undefined && from === to) {
    report(['to'], `from and to are both ${window.to}: the window would be empty (omit both for the whole day)`);
  }

  const days = new Set<Weekday>(window.days ?? WEEKDAYS);
  const outside = window.when === 'outside';
  return (now) => {
    if (clock === undefined) return false;
    const { day, minutes } = localTime(clock, now);
    let inside: boolean;
    if (from === undefined || to === undefined) inside = days.has(day);
    else if (from < to) inside = days.has(day) && minutes >= from && minutes < to;
    else inside = (days.has(day) && minutes >= from) || (days.has(dayBefore(day)) && minutes < to);
    return inside !== outside;
  };
}

function minutesOf(time: string, path: FilePath, report: Report): number | undefined {
  const parsed = /^([01][0-9]|2[0-3]):([0-5][0-9])$/.exec(time);
  if (!parsed) {
    report(path, `"${time}" is not a time: write HH:MM on a 24-hour clock, 00:00 to 23:59 (quoted in YAML)`);
    return undefined;
  }
  return Number(parsed[1]) * 60 + Number(parsed[2]);
}

function localTime(clock: Intl.DateTimeFormat, now: Date): { day: Weekday; minutes: number } {
  const parts = new Map(clock.formatToParts(now).map((part) => [part.type, part.value]));
  return {
    day: parts.get('weekday')!.toLowerCase() as Weekday,
    minutes: Number(parts.get('hour')) * 60 + Number(parts.get('minute')),
  };
}

function dayBefore(day: Weekday): Weekday {
  return WEEKDAYS[(WEEKDAYS.indexOf(day) + 6) % 7]!;
}

function listOf<T>(value: T | readonly T[]): readonly T[] {
  return Array.isArray(value) ? value : [value as T];
}

/** The decision of the policy for one action: rules in file order, the effective tier, what holds the action. */
export function evaluatePolicy(policy: CompiledPolicy, input: PolicyInput): PolicyDecision {
  const rules = compiledRules.get(policy);
  if (!rules) throw new Error('the policy was not compiled by parsePolicy');
  let tier = input.tier;
  const matched: string[] = [];
  let approval: { rule: string; requirement: ApprovalRequirement } | undefined;
  let dryRun: PolicyDecision['dryRun'];
  for (const rule of rules) {
    if (!rule.matches(input, tier)) continue;
    matched.push(rule.name);
    if (rule.denyReason !== undefined) return { tier, denied: { rule: rule.name, reason: rule.denyReason }, matched };
    if (rule.raiseTier !== undefined && rule.raiseTier > tier) tier = rule.raiseTier;
    if (rule.approval && (!approval || rule.approval.quorum > approval.requirement.quorum)) {
      approval = { rule: rule.name, requirement: rule.approval };
    }
    if (rule.dryRun && !dryRun) dryRun = { rule: rule.name };
  }
  const decision: PolicyDecision = { tier, matched };
  if (approval) {
    const { quorum, role, expiresIn, expiresInMs } = approval.requirement;
    decision.approval = {
      rule: approval.rule,
      quorum: { required: quorum, role },
      expiresInMs,
      reason: `policy rule ${approval.rule}: a tier ${tier} action needs the approval of ${quorum} ${role}${
        quorum === 1 ? '' : 's'
      } within ${expiresIn}`,
    };
  }
  if (dryRun) decision.dryRun = dryRun;
  return decision;
}
