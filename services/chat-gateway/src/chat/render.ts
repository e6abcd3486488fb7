// Plain-text renderings of tool replies for the chat: one line per item, numbers and durations for people.
import type { QueryReply } from '@grace/contracts';
import type { CubeArgs } from './intents.js';
import type { SystemStatus } from './tools.js';

/** Longest answer in lines; the console shows the full data beside it. */
export const MAX_LINES = 40;
const MAX_ITEMS = 25;
const MAX_CHARS = 16_000;

type Incident = QueryReply<'sentinel.query.incidents'>['items'][number];
type IncidentDetail = QueryReply<'sentinel.query.incident'>;
type Decision = IncidentDetail['trail'][number];
type Approval = QueryReply<'executor.query.approvals'>['items'][number];

const numbers = new Intl.NumberFormat('en-US');

export function formatNumber(value: number): string {
  return numbers.format(value);
}

export function plural(count: number, noun: string, nouns = `${noun}s`): string {
  return `${formatNumber(count)} ${count === 1 ? noun : nouns}`;
}

export function percent(rate: number): string {
  return `${(rate * 100).toFixed(1)}%`;
}

/** "2024-06-13 15:20 UTC": absolute, so an answer reads the same when scrolled back to. */
export function formatTime(iso: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** "850 ms", "42 s", "3 min 12 s", "1 h 5 min", "2 d 3 h". */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  const seconds = Math.round(ms / 1_000);
  const units: [number, string][] = [
    [86_400, 'd'],
    [3_600, 'h'],
    [60, 'min'],
    [1, 's'],
  ];
  const parts: string[] = [];
  let rest = seconds;
  for (const [size, unit] of units) {
    if (rest >= size || (parts.length === 0 && size === 1)) {
      parts.push(`${Math.floor(rest / size)} ${unit}`);
      rest %= size;
    }
    if (parts.length === 2) break;
  }
  // "1 h 0 min" reads worse than "1 h".
  return parts.filter((part, i) => i === 0 || !part.startsWith('0 ')).join(' ');
}

export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Bounds an answer to MAX_LINES lines and the reply's size, saying what was left out. */
export function bound(lines: readonly string[]): string {
  const kept =
    lines.length <= MAX_LINES
      ? lines
      : [...lines.slice(0, MAX_LINES - 1), `…and ${lines.length - MAX_LINES + 1} more lines.`];
  return clip(kept.join('\n'), MAX_CHARS);
}

/** The first MAX_ITEMS lines of a list, then how many more there are. */
function list<T>(items: readonly T[], line: (item: T) => string): string[] {
  const lines = items.slice(0, MAX_ITEMS).map(line);
  if (items.length > MAX_ITEMS) lines.push(`…and ${formatNumber(items.length - MAX_ITEMS)} more.`);
  return lines;
}

export function renderStatus(status: SystemStatus): string[] {
  const lines = status.paused
    ? [
        `Grace is PAUSED${status.paused_by ? ` by ${status.paused_by}` : ''}${status.paused_at ? ` since ${formatTime(status.paused_at)}` : ''}` +
          `${status.reason ? `: ${status.reason}` : ''}. New actions are held until an admin resumes.`,
      ]
    : ['Grace is running: remediation actions go ahead as policy allows.'];
  if (status.dry_run) lines.push('Dry-run mode is on: actions are planned and recorded, not executed.');
  lines.push(
    `Open incidents: ${formatNumber(status.open_incidents)}`,
    `Pending approvals: ${formatNumber(status.pending_approvals)}`,
    `Open action contracts: ${formatNumber(status.open_contracts)}; held actions: ${formatNumber(status.held_actions)}`,
  );
  if (status.open_incidents > 0) lines.push('Say "open incidents" for the list.');
  if (status.pending_approvals > 0) lines.push('Say "approvals" to see what waits for a vote.');
  return lines;
}

function incidentLine(incident: Incident): string {
  const attempts = incident.attempts > 0 ? `, ${plural(incident.attempts, 'attempt')}` : '';
  return (
    `${incident.incident_id}  ${incident.severity}  ${incident.service}/${incident.environment}  ${clip(incident.kind, 60)}` +
    ` — ${incident.status}${attempts}, ${plural(incident.occurrences, 'occurrence')}, opened ${formatTime(incident.opened_at)}`
  );
}

export function renderIncidents(
  reply: QueryReply<'sentinel.query.incidents'>,
  filter: { open?: boolean; service?: string; environment?: string },
): string[] {
  const which = filter.open === true ? 'open ' : filter.open === false ? 'closed ' : '';
  const where = `${filter.service ? ` on ${filter.service}` : ''}${filter.environment ? ` in ${filter.environment}` : ''}`;
  if (reply.items.length === 0) return [`No ${which}incidents${where}.`];
  const more = reply.next_cursor !== undefined;
  const lines = [
    `${more ? 'The latest ' : ''}${plural(reply.items.length, `${which}incident`, `${which}incidents`)}${where}, newest first:`,
    ...list(reply.items, incidentLine),
  ];
  if (more) lines.push('There are more: narrow it down by service or environment.');
  lines.push('Say "incident <id>" for details or "explain <id>" for why Grace acted.');
  return lines;
}

export function renderIncident(detail: IncidentDetail): string[] {
  const { incident } = detail;
  const lines = [
    `Incident ${incident.incident_id}: ${clip(incident.kind, 120)} on ${incident.service}/${incident.environment}`,
    `Status: ${incident.status}, severity ${incident.severity}` +
      `${incident.blast_radius ? `, blast radius ${incident.blast_radius}` : ''}` +
      `, ${plural(incident.occurrences, 'occurrence')}, ${plural(incident.attempts, 'attempt')}`,
    `Why: ${clip(incident.reason, 300)}`,
    `Fingerprint ${incident.fingerprint}; signature ${incident.signature}`,
    `Opened ${formatTime(incident.opened_at)}; last change ${formatTime(incident.changed_at)}`,
  ];
  if (incident.muted_until) lines.push(`Muted until ${formatTime(incident.muted_until)}`);
  if (incident.playbook) {
    lines.push(`Current playbook: ${incident.playbook}${incident.action_id ? ` (action ${incident.action_id})` : ''}`);
  }
  const recent = detail.timeline.slice(-8);
  if (recent.length > 0) {
    lines.push(detail.timeline.length > recent.length ? 'Timeline (latest 8):' : 'Timeline:');
    for (const step of recent) lines.push(`  ${formatTime(step.at)}  ${step.status} — ${clip(step.reason, 160)}`);
  }
  if (detail.trail.length > 0) {
    const outcomes = detail.trail.map((decision) => `${decision.playbook} ${decision.outcome}`).join(', ');
    lines.push(`Attempts: ${clip(outcomes, 300)}. Say "explain ${incident.incident_id}" for the decision trail.`);
  }
  return lines;
}

const OUTCOMES: Record<Decision['outcome'], string> = {
  pending: 'pending (running or being verified)',
  verified: 'verified, the fix held',
  failed: 'failed',
  drift: 'drift, the fix did not hold',
  rolled_back: 'rolled back',
  denied: 'denied by policy',
};

function candidatesLine(decision: Decision): string {
  const shown = decision.candidates.slice(0, 8).map((candidate) => {
    if (candidate.excluded !== undefined) return `${candidate.playbook} excluded (${clip(candidate.excluded, 80)})`;
    const chosen = candidate.playbook === decision.playbook ? ' (chosen)' : '';
    const draw = candidate.score === undefined ? '' : ` drew ${candidate.score.toFixed(2)}`;
    return `${candidate.playbook}${draw}${chosen}`;
  });
  const more = decision.candidates.length > shown.length ? `, +${decision.candidates.length - shown.length} more` : '';
  return shown.length === 0 ? 'no other candidates recorded' : `${shown.join(', ')}${more}`;
}

/** The decision trail: for each attempt the playbook, why, the Thompson draws or exclusions, and the outcome. */
export function renderExplanation(detail: IncidentDetail): string[] {
  const { incident, trail } = detail;
  const lines = [
    `Incident ${incident.incident_id} (${clip(incident.kind, 80)} on ${incident.service}/${incident.environment}) is ` +
      `${incident.status}: ${clip(incident.reason, 240)}`,
  ];
  if (trail.length === 0) {
    lines.push('Grace has not attempted a remediation on it yet.');
    return lines;
  }
  lines.push(
    `Grace made ${plural(trail.length, 'attempt')}, each choosing a playbook by a draw from what it learned works for this error:`,
  );
  for (const decision of trail) {
    const outcome = `${OUTCOMES[decision.outcome]}${decision.outcome_reason ? `: ${clip(decision.outcome_reason, 200)}` : ''}`;
    const confidence = decision.confidence === undefined ? '' : ` (confidence ${decision.confidence.toFixed(2)})`;
    lines.push(
      `Attempt ${decision.attempt}: ${decision.playbook} at ${formatTime(decision.decided_at)} (action ${decision.action_id})`,
      `  Why: ${clip(decision.reason, 240)}`,
      `  Candidates: ${candidatesLine(decision)}`,
      `  Outcome: ${outcome}${confidence}`,
    );
  }
  return lines;
}

function approvalLine(approval: Approval): string {
  const approvals = approval.votes.filter((vote) => vote.counted && vote.decision === 'approve').length;
  const { plan } = approval;
  return (
    `${approval.approval_id}  ${plan.playbook} on ${plan.target.service}/${plan.target.environment} (tier ${plan.tier})` +
    ` — ${approvals} of ${approval.quorum.required} ${approval.quorum.role} votes, expires ${formatTime(approval.expires_at)}` +
    ` — ${clip(approval.reason, 160)}`
  );
}

export function renderApprovals(reply: QueryReply<'executor.query.approvals'>): string[] {
  if (reply.items.length === 0) return ['Nothing is waiting for approval.'];
  return [
    `${plural(reply.items.length, 'approval')} pending, oldest first:`,
    ...list(reply.items, approvalLine),
    ...(reply.next_cursor === undefined ? [] : ['There are more; vote on these first.']),
    'Say "approve <id>" or "reject <id> because ...".',
  ];
}

interface Tally {
  executed: number;
  verified: number;
}

function byKey<T, A>(rows: readonly T[], key: (row: T) => string, start: () => A, add: (sum: A, row: T) => void) {
  const sums = new Map<string, A>();
  for (const row of rows) {
    const k = key(row);
    let sum = sums.get(k);
    if (sum === undefined) sums.set(k, (sum = start()));
    add(sum, row);
  }
  return [...sums];
}

function scope(request: { service?: string; environment?: string }): string {
  return `${request.service ? ` for ${request.service}` : ''}${request.environment ? ` in ${request.environment}` : ''}`;
}

/** One cube answer: totals over the range per group (the buckets are in `data` for a chart). */
export function renderCube(args: CubeArgs, reply: QueryReply<CubeArgs['query']>): string[] {
  const when = `${args.period} (${formatTime(args.request.from)} to ${formatTime(args.request.to)})`;
  const none = [`No data${scope(args.request)} for ${when}.`];
  switch (args.query) {
    case 'cube.query.success_rate': {
      const { rows } = reply as QueryReply<'cube.query.success_rate'>;
      if (rows.length === 0) return none;
      const groupBy = args.request.group_by ?? 'playbook';
      const groups = byKey(
        rows,
        (row) => row.group,
        (): Tally => ({ executed: 0, verified: 0 }),
        (sum, row) => {
          sum.executed += row.executed;
          sum.verified += row.verified;
        },
      ).sort(([, a], [, b]) => b.executed - a.executed);
      const rate = ({ executed, verified }: Tally) =>
        `${executed === 0 ? 'n/a' : percent(verified / executed)} (${formatNumber(verified)} of ${formatNumber(executed)} verified)`;
      const subject = args.request.playbook ? ` of ${args.request.playbook}` : '';
      const lines = [`Success rate${subject} by ${groupBy}${scope(args.request)}, ${when}:`];
      lines.push(
        ...list(groups, ([group, tally]) => `${groupBy === 'tier' ? `tier ${group}` : group}: ${rate(tally)}`),
      );
      if (groups.length > 1) {
        const total = groups.reduce(
          (sum, [, t]) => ({ executed: sum.executed + t.executed, verified: sum.verified + t.verified }),
          {
            executed: 0,
            verified: 0,
          },
        );
        lines.push(`Overall: ${rate(total)}`);
      }
      return lines;
    }
    case 'cube.query.mttr': {
      const { rows } = reply as QueryReply<'cube.query.mttr'>;
      if (rows.length === 0) return none;
      const places = byKey(
        rows,
        (row) => `${row.service}/${row.environment}`,
        () => ({ resolved: 0, totalMs: 0, worstP90: 0 }),
        (sum, row) => {
          sum.resolved += row.resolved;
          sum.totalMs += row.mean_ms * row.resolved;
          sum.worstP90 = Math.max(sum.worstP90, row.p90_ms);
        },
      ).sort(([, a], [, b]) => b.resolved - a.resolved);
      return [
        `Mean time to resolve${scope(args.request)}, ${when}:`,
        ...list(places, ([place, sum]) =>
          sum.resolved === 0
            ? `${place}: nothing resolved`
            : `${place}: ${plural(sum.resolved, 'incident')} resolved, mean ${formatDuration(sum.totalMs / sum.resolved)}, ` +
              `slowest p90 ${formatDuration(sum.worstP90)}`,
        ),
      ];
    }
    case 'cube.query.error_trends': {
      const { rows } = reply as QueryReply<'cube.query.error_trends'>;
      if (rows.length === 0) return none;
      const errors = byKey(
        rows,
        (row) => row.fingerprint,
        () => ({ kind: '', category: undefined as string | undefined, occurrences: 0, previous: 0 }),
        (sum, row) => {
          sum.kind = row.kind;
          sum.category ??= row.category;
          sum.occurrences += row.occurrences;
          sum.previous += row.previous_week_occurrences;
        },
      ).sort(([, a], [, b]) => b.occurrences - a.occurrences);
      const change = (now: number, before: number) =>
        before === 0
          ? 'none the week before'
          : `${now >= before ? '+' : ''}${percent((now - before) / before)} week over week`;
      return [
        `Top errors${scope(args.request)}, ${when}:`,
        ...list(errors, ([fingerprint, e]) => {
          const category = e.category ? ` (${e.category})` : '';
          return `${formatNumber(e.occurrences)}× ${clip(e.kind, 60)}${category} [${fingerprint}], ${change(e.occurrences, e.previous)}`;
        }),
      ];
    }
    case 'cube.query.rollback_drift': {
      const { rows, worst_playbooks: worst } = reply as QueryReply<'cube.query.rollback_drift'>;
      if (rows.length === 0 && worst.length === 0) return none;
      const tiers = byKey(
        rows,
        (row) => String(row.tier),
        () => ({ executed: 0, rolled_back: 0, drifted: 0 }),
        (sum, row) => {
          sum.executed += row.executed;
          sum.rolled_back += row.rolled_back;
          sum.drifted += row.drifted;
        },
      ).sort(([a], [b]) => a.localeCompare(b));
      const rates = (executed: number, rolledBack: number, drifted: number) =>
        executed === 0
          ? 'nothing executed'
          : `${percent(rolledBack / executed)} rolled back, ${percent(drifted / executed)} drifted, of ${formatNumber(executed)} executed`;
      const lines = [
        `Rollback and drift by tier${scope(args.request)}, ${when}:`,
        ...tiers.map(([tier, sum]) => `Tier ${tier}: ${rates(sum.executed, sum.rolled_back, sum.drifted)}`),
      ];
      if (worst.length > 0) {
        lines.push('Worst playbooks:');
        lines.push(
          ...list(
            worst,
            (p) => `  ${p.playbook} (${p.adapter}, tier ${p.tier}): ${rates(p.executed, p.rolled_back, p.drifted)}`,
          ),
        );
      }
      return lines;
    }
  }
}
