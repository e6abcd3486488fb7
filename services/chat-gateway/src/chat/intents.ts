// A deterministic reading of everyday operator requests into an intent and its arguments: no I/O, no model.
import type { gateway, QueryRequest } from '@grace/contracts';
import type { CubeQuery, IncidentFilter, MuteTarget } from './tools.js';

export type Intent = gateway.Intent;

/** The intent is clear but something it needs is missing or out of bounds: the engine asks for it. */
export interface Clarification {
  clarification: string;
}
type Ask<A> = A | Clarification;

export type CubeAsk = { [Q in CubeQuery]: { query: Q; request: QueryRequest<Q> } }[CubeQuery];
/** A cube question with `period` naming its time range for people, e.g. "this week". */
export type CubeArgs = CubeAsk & { period: string };

export type Understood =
  | { intent: 'help' | 'status' | 'pending_approvals'; args: Record<string, never> }
  | { intent: 'list_incidents'; args: IncidentFilter }
  | { intent: 'show_incident' | 'explain'; args: Ask<{ incident_id: string }> }
  | { intent: 'approve' | 'reject'; args: Ask<{ approval_id: string; comment?: string }> }
  | { intent: 'run_playbook'; args: Ask<{ playbook: string; service: string; environment: string }> }
  | { intent: 'mute'; args: Ask<{ target: MuteTarget; duration_ms: number; reason?: string }> }
  | { intent: 'cube'; args: Ask<CubeArgs> }
  | { intent: 'free_form' | 'unknown'; args: { text: string } };

// Fails to compile when gateway.Intent gains an intent this parser cannot produce.
type Holds<T extends true> = T;
type _EveryIntentCovered = Holds<[Exclude<Intent, Understood['intent']>] extends [never] ? true : false>;

export function needsClarification(args: object): args is Clarification {
  return 'clarification' in args;
}

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
export const MAX_MUTE_MS = 7 * DAY;
const MAX_DAYS_BACK = 90;
const MAX_HOURS_BACK = 168;
const MAX_LIST_LIMIT = 100;

const ID = /^[A-Za-z0-9_.:-]{1,128}$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const UUID = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/i;
// Words that follow a command in ordinary speech but are never the id or name the command asks for.
const NOT_A_NAME = new Set(
  'a an the it this that them these those all any every everything one me my you your incident incidents approval approvals please now pending open last latest yet again here there'.split(
    ' ',
  ),
);
const ENVIRONMENTS = new Set(
  'production prod staging stage dev development test testing qa uat sandbox canary preprod pre-prod demo local'.split(
    ' ',
  ),
);

const isId = (word: string | undefined): word is string =>
  word !== undefined && ID.test(word) && !NOT_A_NAME.has(word.toLowerCase());
const isName = (word: string | undefined): word is string =>
  word !== undefined && NAME.test(word) && !NOT_A_NAME.has(word.toLowerCase());
const isEnvironment = (word: string): boolean => ENVIRONMENTS.has(word.toLowerCase());

/** Trims politeness, greetings and end punctuation; keeps the case of ids. */
function tidy(message: string): { text: string; question: boolean } {
  let text = message
    .replace(/[\u2018\u2019]/g, "'")
    .replace(/[\s\p{Cc}]+/gu, ' ')
    .trim();
  const leading = [
    /^(?:hey|hi|hello|ok|okay|so|yo)\b[\s,!.]*/i,
    /^grace\b[\s,:!.-]*/i,
    /^(?:please|kindly|pls|plz)\b[\s,]*/i,
    /^(?:can|could|would|will) you(?: please)?\s+/i,
    /^(?:i'd like to|i would like to|i want to|let's|lets)\s+/i,
    /^(?:tell me|give me)\s+/i,
  ];
  for (let changed = true; changed;) {
    changed = false;
    for (const pattern of leading) {
      const next = text.replace(pattern, '');
      if (next !== text) [text, changed] = [next, true];
    }
  }
  const question =
    /\?\s*$/.test(text) ||
    /^(?:what|why|how|when|where|who|which|whose|is|are|can|could|should|does|do|did|will|would|has|have|was|were)\b/i.test(
      text,
    );
  for (let changed = true; changed;) {
    const next = text.replace(/[\s,]*\b(?:please|pls|thanks|thank you|thx|ty)[\s!.]*$/i, '').replace(/[\s?!.,;]+$/, '');
    changed = next !== text;
    text = next;
  }
  return { text, question };
}

const HELP =
  /^(?:help(?: me)?|\?|commands|menu|usage|what can you do|what can i (?:ask|say|do)|what do you (?:understand|know|do)|how do i use (?:this|you|grace)|how does this work)$/i;
const STATUS =
  /^(?:(?:the |system |grace |overall )?status|overview|(?:system )?health|sitrep|how are things(?: going| looking)?|how's (?:it|everything|grace)(?: going| doing| looking)?|hows it going|how is (?:everything|grace)(?: going| doing)?|what's (?:going on|up|happening)|whats (?:going on|up|happening)|what is (?:going on|happening)|is everything (?:ok|okay|fine|alright|good)|are we (?:ok|okay|good|paused)|is grace (?:paused|running|ok|okay|healthy))(?: (?:right )?now| today)?$/i;
const APPROVALS = [
  /^(?:(?:list|show|get|any)(?: me)?(?: the| all)? )?(?:pending |open |waiting |outstanding )?approvals?(?: (?:pending|waiting|queue|requests))?$/i,
  /^what(?:'s| is| are)? (?:needs|need|waiting for|awaiting|pending) (?:my |an |your )?approvals?$/i,
  /^(?:is there |are there )?anything (?:to approve|waiting for (?:my )?approval|needing (?:my )?approval|pending approval)$/i,
  /^what (?:do|should|can) i (?:need to )?approve$/i,
];
const VOTE =
  /^(approve|reject|deny|decline)(?: (?:approval|request))?(?: (\S+))?(?:[\s,;:-]+(?:because|since|as|reason:?|comment:?)?\s*([\s\S]*))?$/i;
// The reason may follow the duration with or without "because": "mute x for 2h deploy in progress".
const MUTE =
  /^(?:mute|silence|snooze)(?: the)?(?: (fingerprint|signature))?(?: ([\s\S]+?))?(?: for (\d{1,6}) ?([a-z]+)(?:[\s,;:-]+(?:(?:because|since|as|reason:?)\s+)?([\s\S]+))?)?$/i;
const SHOW_INCIDENT =
  /^(?:(?:show|get|open|display|describe|view|find|status of|details (?:of|for|on)|what about|about|what happened (?:to|with|in))(?: me)?(?: the)? )?(?:details (?:of|for|on) )?incident(?: id)?(?: #?(\S+))?$/i;
const EXPLAIN = /^(?:explain(?: why)?|why)\b\s*([\s\S]*)$/i;

const DURATION_UNITS: [RegExp, number][] = [
  [/^(?:s|secs?|seconds?)$/, SECOND],
  [/^(?:m|mins?|minutes?)$/, MINUTE],
  [/^(?:h|hrs?|hours?)$/, HOUR],
  [/^(?:d|days?)$/, DAY],
  [/^(?:w|wks?|weeks?)$/, 7 * DAY],
];

function readVote(text: string): Understood | undefined {
  const match = VOTE.exec(text);
  if (!match) return undefined;
  const intent = match[1]!.toLowerCase() === 'approve' ? 'approve' : 'reject';
  // "reject abc-1, too risky": the id ends before punctuation.
  const approvalId = match[2]?.replace(/[,;:.-]+$/, '');
  if (!isId(approvalId)) {
    return {
      intent,
      args: { clarification: `Which approval? Say "${intent} <approval-id>"; "approvals" lists them.` },
    };
  }
  const comment = match[3]?.trim().slice(0, 1024);
  return { intent, args: comment ? { approval_id: approvalId, comment } : { approval_id: approvalId } };
}

function readMute(text: string): Understood | undefined {
  const match = MUTE.exec(text);
  if (!match) return undefined;
  const [, kind, rawTarget, amount, unit, reason] = match;
  const example = 'e.g. "mute <fingerprint> for 2h because of the deploy"';
  const target = rawTarget?.trim();
  if (!target)
    return {
      intent: 'mute',
      args: { clarification: `What should I mute? Name a fingerprint or signature, ${example}.` },
    };
  if (!amount || !unit) return { intent: 'mute', args: { clarification: `For how long? ${capitalise(example)}.` } };
  const unitMs = DURATION_UNITS.find(([pattern]) => pattern.test(unit.toLowerCase()))?.[1];
  if (unitMs === undefined) {
    return { intent: 'mute', args: { clarification: `I read durations in s, m, h or d, ${example}.` } };
  }
  const durationMs = Number(amount) * unitMs;
  if (durationMs <= 0 || durationMs > MAX_MUTE_MS) {
    return {
      intent: 'mute',
      args: { clarification: 'A mute lasts from 1 second to 7 days; pick a duration in between.' },
    };
  }
  // A computed fingerprint is 32 hex characters and a producer's starts with p:; a signature is category:kind.
  const asSignature =
    kind?.toLowerCase() === 'signature' ||
    (kind === undefined && !/^p:/i.test(target) && (target.includes(':') || target.includes(' ')));
  if (asSignature ? target.length > 256 : !ID.test(target)) {
    return { intent: 'mute', args: { clarification: `"${target.slice(0, 64)}" is not a fingerprint or signature.` } };
  }
  const args = { target: asSignature ? { signature: target } : { fingerprint: target }, duration_ms: durationMs };
  const why = reason?.trim().slice(0, 2048);
  return { intent: 'mute', args: why ? { ...args, reason: why } : args };
}

function readShowIncident(text: string): Understood | undefined {
  const match = SHOW_INCIDENT.exec(text);
  if (!match) return undefined;
  const id = match[1];
  if (id === undefined) {
    return {
      intent: 'show_incident',
      args: { clarification: 'Which incident? Say "incident <id>"; "open incidents" lists them.' },
    };
  }
  return isId(id) ? { intent: 'show_incident', args: { incident_id: id } } : undefined;
}

function readExplain(text: string): Understood | undefined {
  const match = EXPLAIN.exec(text);
  if (!match) return undefined;
  const rest = match[1]!.trim();
  const single = /^(?:incident )?#?(\S+)$/i.exec(rest)?.[1];
  const named = /\bincident #?(\S+)/i.exec(rest)?.[1];
  const id = [single, named, UUID.exec(rest)?.[0]].find(isId);
  if (id !== undefined) return { intent: 'explain', args: { incident_id: id } };
  // "why is checkout slow" is an open question; "why did you restart checkout" asks about Grace's own decision.
  const aboutADecision =
    /^explain\b/i.test(text) ||
    /^(?:did|has|have|was|were)\b/i.test(rest) ||
    /^(?:do|does) (?:you|grace)\b/i.test(rest);
  if (!aboutADecision || metricOf(rest) !== undefined) return undefined;
  return {
    intent: 'explain',
    args: {
      clarification:
        'Which incident? I explain decisions per incident: say "explain <incident-id>"; "incidents on <service>" finds it.',
    },
  };
}

const LIST_FILLER = new Set(
  'show list get give display find fetch see me are is there any the all my current currently right now that which still what how many recent latest new at moment'.split(
    ' ',
  ),
);
const OPEN_WORDS = new Set(['open', 'active', 'ongoing', 'unresolved', 'live']);
const CLOSED_WORDS = new Set(['closed', 'resolved', 'finished', 'done']);
const QUESTION_WORDS = new Set(['why', 'when', 'where', 'who', 'whose', 'do', 'does', 'did', 'should', 'can', 'could']);
const PLACE_PREPOSITIONS = new Set(['on', 'for', 'of', 'affecting', 'about', 'in', 'at']);

function placeName(filter: IncidentFilter, name: string, kind: 'service' | 'environment' | undefined): boolean {
  const as = kind ?? (isEnvironment(name) ? 'environment' : 'service');
  if (filter[as] !== undefined || !isName(name) || (as === 'environment' && name.length > 64)) return false;
  filter[as] = name;
  return true;
}

/** "open incidents on checkout in production", "show me 5 resolved incidents", "checkout incidents". */
function readIncidentList(text: string): IncidentFilter | undefined {
  const words = text.split(' ');
  const at = words.findIndex((word) => /^incidents$/i.test(word));
  if (at < 0 || at > 8) return undefined;
  const filter: IncidentFilter = {};
  const statusOrFiller = (lower: string): boolean => {
    if (OPEN_WORDS.has(lower)) filter.open = true;
    else if (CLOSED_WORDS.has(lower)) filter.open = false;
    return OPEN_WORDS.has(lower) || CLOSED_WORDS.has(lower) || LIST_FILLER.has(lower);
  };
  for (const word of words.slice(0, at)) {
    const lower = word.toLowerCase();
    if (statusOrFiller(lower)) continue;
    if (/^\d{1,3}$/.test(lower)) filter.limit = Math.min(MAX_LIST_LIMIT, Math.max(1, Number(lower)));
    else if (QUESTION_WORDS.has(lower) || !placeName(filter, word, undefined)) return undefined;
  }
  const after = words.slice(at + 1);
  for (let i = 0; i < after.length; i++) {
    const lower = after[i]!.toLowerCase();
    if (statusOrFiller(lower)) continue;
    if (['limit', 'top', 'first', 'last'].includes(lower) && /^\d{1,3}$/.test(after[i + 1] ?? '')) {
      filter.limit = Math.min(MAX_LIST_LIMIT, Math.max(1, Number(after[++i])));
      continue;
    }
    if (!PLACE_PREPOSITIONS.has(lower) && !['service', 'environment', 'env'].includes(lower)) return undefined;
    let kind: 'service' | 'environment' | undefined;
    if (lower === 'service') kind = 'service';
    if (lower === 'environment' || lower === 'env') kind = 'environment';
    if (/^the$/i.test(after[i + 1] ?? '')) i++;
    const keyword = after[i + 1]?.toLowerCase();
    if (kind === undefined && keyword === 'service') [kind, i] = ['service', i + 1];
    if (kind === undefined && (keyword === 'environment' || keyword === 'env')) [kind, i] = ['environment', i + 1];
    const name = after[++i];
    const trailing = after[i + 1]?.toLowerCase();
    if (kind === undefined && trailing === 'service') [kind, i] = ['service', i + 1];
    if (kind === undefined && (trailing === 'environment' || trailing === 'env')) [kind, i] = ['environment', i + 1];
    if (name === undefined || !placeName(filter, name, kind)) return undefined;
  }
  return filter;
}

/** A time range for a cube question, bucket-sized; `matched` is the phrase that named it, if any. */
export interface Period {
  from: string;
  to: string;
  bucket: 'hour' | 'day';
  label: string;
  matched?: string;
}

const PERIOD =
  /\b(?:(today)|(yesterday)|(this week)|(last week)|(this month)|(last month)|(?:in )?(?:the )?(?:last|past|previous) (?:(\d{1,4}) ?(days?|d|hours?|hrs?|h)\b|(day|hour|week|month|24 hours)))\b/i;

/** Reads "today", "this week", "last N days", ... against `now` (UTC); without one, the last 24 hours by hour. */
export function readPeriod(text: string, now: Date): Period | Clarification {
  const nowMs = now.getTime();
  const hourUp = Math.ceil(nowMs / HOUR) * HOUR;
  const midnight = Math.floor(nowMs / DAY) * DAY;
  const monday = midnight - ((now.getUTCDay() + 6) % 7) * DAY;
  const monthStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
  const range = (from: number, to: number, bucket: 'hour' | 'day', label: string, matched?: string): Period => ({
    // An empty range (asked at exactly midnight, say) would be refused: keep at least one bucket.
    from: new Date(from).toISOString(),
    to: new Date(Math.max(to, from + (bucket === 'hour' ? HOUR : DAY))).toISOString(),
    bucket,
    label,
    ...(matched === undefined ? {} : { matched }),
  });
  const match = PERIOD.exec(text);
  if (!match) return range(hourUp - DAY, hourUp, 'hour', 'the last 24 hours');
  const [matched, today, yesterday, thisWeek, lastWeek, thisMonth, lastMonth, count, unit, single] = match;
  if (today) return range(midnight, hourUp, 'hour', 'today', matched);
  if (yesterday) return range(midnight - DAY, midnight, 'hour', 'yesterday', matched);
  if (thisWeek) return range(monday, nowMs, 'day', 'this week', matched);
  if (lastWeek) return range(monday - 7 * DAY, monday, 'day', 'last week', matched);
  if (thisMonth) return range(monthStart, nowMs, 'day', 'this month', matched);
  if (lastMonth) {
    const previous = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1);
    return range(previous, monthStart, 'day', 'last month', matched);
  }
  const inHours = /^h/i.test(unit ?? single ?? '') || /^24/.test(single ?? '');
  const spelled: Record<string, number> = { day: 1, hour: 1, week: 7, month: 30 };
  const n = count !== undefined ? Number(count) : /^24/.test(single ?? '') ? 24 : (spelled[single!.toLowerCase()] ?? 1);
  if (inHours) {
    if (n < 1 || n > MAX_HOURS_BACK) return { clarification: `I can look back 1 to ${MAX_HOURS_BACK} hours by hour.` };
    return range(hourUp - n * HOUR, hourUp, 'hour', n === 1 ? 'the last hour' : `the last ${n} hours`, matched);
  }
  if (n < 1 || n > MAX_DAYS_BACK) return { clarification: `I can look back 1 to ${MAX_DAYS_BACK} days.` };
  return range(nowMs - n * DAY, nowMs, 'day', n === 1 ? 'the last day' : `the last ${n} days`, matched);
}

const METRICS: [RegExp, CubeQuery][] = [
  [/\bsuccess(?:ful)?(?: ?rates?| ratio)\b|\bhow (?:often|well) does \S+ work\b/i, 'cube.query.success_rate'],
  [
    /\bmttr\b|\bmean time to (?:resolve|resolution|recover|recovery|repair)\b|\btime to (?:resolve|resolution|recover)\b|\bhow long (?:does it take |did it take )?to (?:resolve|fix|recover)\b/i,
    'cube.query.mttr',
  ],
  [
    /\berror trends?\b|\btrending errors\b|\btop errors\b|\bmost (?:common|frequent) errors\b|\berrors? (?:trend|over time)\b/i,
    'cube.query.error_trends',
  ],
  [/\brollbacks?\b|\brollback rates?\b|\bdrift\b|\bdrift rates?\b|\brolled back\b/i, 'cube.query.rollback_drift'],
];

function metricOf(text: string): CubeQuery | undefined {
  return METRICS.find(([pattern]) => pattern.test(text))?.[1];
}

const CUBE_SUBJECT =
  /\b(?:of|for|on|about|in)(?: the)?(?: (playbook|service|environment|env))? ([A-Za-z0-9][A-Za-z0-9._-]*)/gi;

/** "success rate of restart_service this week", "mttr for checkout last 7 days", "rollback rate by tier". */
function readCube(text: string, now: Date): Understood | undefined {
  const query = metricOf(text);
  if (query === undefined) return undefined;
  const period = readPeriod(text, now);
  if (needsClarification(period)) return { intent: 'cube', args: period };
  const rest = period.matched === undefined ? text : text.replace(period.matched, ' ');
  let playbook: string | undefined;
  let service: string | undefined;
  let environment: string | undefined;
  const subjects = [...rest.matchAll(CUBE_SUBJECT)].map(([, kind, name]) => [kind, name] as const);
  const doer = /\bdoes ([A-Za-z0-9][A-Za-z0-9._-]*) work\b/i.exec(rest)?.[1];
  if (doer !== undefined) subjects.push([undefined, doer]);
  for (const [kind, name] of subjects) {
    if (!isName(name) || /^(?:each|every|playbooks|services|tiers?|rates?|errors?|day|week|month)$/i.test(name)) {
      continue;
    }
    const as =
      kind?.toLowerCase().startsWith('env') || (kind === undefined && isEnvironment(name))
        ? 'environment'
        : kind?.toLowerCase() === 'playbook' ||
            (kind === undefined && query === 'cube.query.success_rate' && name.includes('_'))
          ? 'playbook'
          : 'service';
    if (as === 'environment') environment ??= name;
    else if (as === 'playbook') playbook ??= name;
    else service ??= name;
  }
  const range = {
    from: period.from,
    to: period.to,
    bucket: period.bucket,
    ...(service === undefined ? {} : { service }),
    ...(environment === undefined ? {} : { environment }),
  };
  const tier = /\btier ([123])\b/i.exec(rest)?.[1];
  const tierFilter = tier === undefined ? {} : { tier: Number(tier) };
  const label = period.label;
  if (query === 'cube.query.success_rate') {
    const groupBy = /\bby (playbook|service|tier)s?\b/i.exec(rest)?.[1]?.toLowerCase() as
      'playbook' | 'service' | 'tier' | undefined;
    const request = {
      ...range,
      ...tierFilter,
      ...(playbook === undefined ? {} : { playbook }),
      ...(groupBy === undefined ? {} : { group_by: groupBy }),
    };
    return { intent: 'cube', args: { query, request, period: label } };
  }
  if (query === 'cube.query.rollback_drift') {
    return { intent: 'cube', args: { query, request: { ...range, ...tierFilter }, period: label } };
  }
  return { intent: 'cube', args: { query, request: range, period: label } };
}

const RUN_FILLER = new Set(['the', 'playbook', 'service', 'on', 'for', 'against', 'to', 'in', 'environment', 'env']);

/** "run restart_service on checkout in production", and the bare "restart_service checkout staging". */
function readRun(text: string): Understood | undefined {
  const verb = /^(?:run|execute|trigger|apply)\b\s*([\s\S]*)$/i.exec(text);
  const words = (verb ? verb[1]! : text)
    .split(' ')
    .filter((word) => word !== '' && !RUN_FILLER.has(word.toLowerCase()));
  // Without a verb only a snake_case playbook name marks a command: "checkout staging now" is not one.
  if (!verb && (words.length < 2 || words.length > 3 || !words[0]!.includes('_'))) return undefined;
  if (words.length > 3 || !words.every(isName)) return undefined;
  const [playbook, service, environment] = words;
  if (playbook === undefined || service === undefined) {
    return {
      intent: 'run_playbook',
      args: {
        clarification: 'Which playbook, on which service, where? Say "run <playbook> on <service> in <environment>".',
      },
    };
  }
  if (environment === undefined || environment.length > 64) {
    return {
      intent: 'run_playbook',
      args: { clarification: `In which environment? Say "run ${playbook} on ${service} in <environment>".` },
    };
  }
  return { intent: 'run_playbook', args: { playbook, service, environment } };
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Reads one chat message. Deterministic: the same message and `now` always give the same answer. */
export function understand(message: string, now: Date): Understood {
  const { text, question } = tidy(message);
  if (text === '') return { intent: 'unknown', args: { text } };
  if (HELP.test(text)) return { intent: 'help', args: {} };
  if (STATUS.test(text)) return { intent: 'status', args: {} };
  if (APPROVALS.some((pattern) => pattern.test(text))) return { intent: 'pending_approvals', args: {} };
  const command = readVote(text) ?? readMute(text) ?? readShowIncident(text) ?? readExplain(text);
  if (command) return command;
  const filter = readIncidentList(text);
  if (filter) return { intent: 'list_incidents', args: filter };
  const other = readCube(text, now) ?? readRun(text);
  if (other) return other;
  return { intent: question ? 'free_form' : 'unknown', args: { text } };
}
