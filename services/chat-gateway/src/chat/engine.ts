// The deterministic chat engine: carries out an understood request through the tools, role-checked, in plain text.
import { needsClarification, type CubeArgs, type Intent, type Understood } from './intents.js';
import {
  bound,
  clip,
  formatDuration,
  formatTime,
  renderApprovals,
  renderCube,
  renderExplanation,
  renderIncident,
  renderIncidents,
  renderStatus,
} from './render.js';
import { ToolError, type ChatRole, type ChatTools, type ChatUser } from './tools.js';

export interface EngineReply {
  intent: Intent;
  text: string;
  data?: Record<string, unknown>;
}

// The arguments of each intent once nothing is left to clarify.
type Settled<I extends Intent> = Exclude<Extract<Understood, { intent: I }>['args'], { clarification: string }>;
type RunArgs = Settled<'run_playbook'>;
type MuteArgs = Settled<'mute'>;

const ANYONE: readonly ChatRole[] = ['viewer', 'operator', 'approver', 'admin'];
const ROLES: Record<Intent, readonly ChatRole[]> = {
  help: [],
  free_form: [],
  unknown: [],
  status: ANYONE,
  list_incidents: ANYONE,
  show_incident: ANYONE,
  explain: ANYONE,
  pending_approvals: ANYONE,
  cube: ANYONE,
  approve: ['approver', 'admin'],
  reject: ['approver', 'admin'],
  run_playbook: ['operator', 'admin'],
  mute: ['operator', 'admin'],
};

/** Whether the user may ask for this intent; the LLM's tool calls go through the same rule. */
export function permitted(user: ChatUser, intent: Intent): boolean {
  const needed = ROLES[intent];
  return needed.length === 0 || user.roles.some((role) => needed.includes(role));
}

const DOING: Record<Intent, string> = {
  help: 'help',
  free_form: 'answer',
  unknown: 'answer',
  status: 'read the status',
  list_incidents: 'list incidents',
  show_incident: 'look at incidents',
  explain: 'look at incidents',
  pending_approvals: 'list approvals',
  cube: 'read the analytics',
  approve: 'approve actions',
  reject: 'reject actions',
  run_playbook: 'run playbooks',
  mute: 'mute errors',
};

/** Which part of Grace answers for an intent, to name it when it fails. */
const SERVICE: Partial<Record<Intent, string>> = {
  status: 'executor',
  list_incidents: 'sentinel',
  show_incident: 'sentinel',
  explain: 'sentinel',
  mute: 'sentinel',
  pending_approvals: 'executor',
  approve: 'executor',
  reject: 'executor',
  run_playbook: 'executor',
  cube: 'analytics cube',
};

const EXAMPLES = [
  'status: "status", "how are things", "what\'s going on"',
  'incidents: "open incidents", "incidents on checkout in production"',
  'one incident: "incident <id>"',
  'why Grace acted: "explain <incident-id>", "why <incident-id>"',
  'approvals: "what needs approval", "approve <id> because ...", "reject <id> because ..." (approvers)',
  'run a playbook: "run restart_service on checkout in production" (operators)',
  'mute: "mute <fingerprint or signature> for 2h because ..." (operators, up to 7 days)',
  'metrics: "success rate of restart_service this week", "mttr for checkout last 7 days", "error trends today", ' +
    '"rollback rate by tier this month"',
];

export function helpLines(): string[] {
  return ['I understand:', ...EXAMPLES.map((example) => `- ${example}`)];
}

function roleNames(roles: readonly ChatRole[]): string {
  return roles.length === 0 ? 'none' : roles.join(', ');
}

function describeFailure(error: unknown, understood: Understood): string {
  const service = `The ${SERVICE[understood.intent] ?? 'gateway'}`;
  if (!(error instanceof ToolError)) {
    const detail = error instanceof Error ? `: ${clip(error.message, 200)}` : '';
    return `Something went wrong while trying to ${DOING[understood.intent]}${detail}. Try again; if it keeps failing, check the gateway's logs.`;
  }
  const detail = clip(error.message, 300);
  switch (error.code) {
    case 'not_found': {
      const args = understood.args as { incident_id?: string; approval_id?: string };
      if (args.incident_id)
        return `I could not find incident ${args.incident_id}. Check the id; "incidents" lists recent ones.`;
      if (args.approval_id) {
        return `I could not find a pending approval ${args.approval_id}: it may be decided or expired. "approvals" lists the pending ones.`;
      }
      return `Grace could not find that: ${detail}. Check the names and ids.`;
    }
    case 'forbidden':
      return `Grace refused: ${detail}. Ask someone with the right role, or an admin.`;
    case 'unavailable':
      return `${service} is unavailable right now (${detail}). Try again in a minute; if it persists, check that it is running.`;
    case 'invalid_request':
      return `${service} rejected the request: ${detail}. Check the names and values and try again.`;
    case 'timeout':
      return `${service} did not answer in time. Try again in a moment; "status" shows whether Grace is healthy.`;
  }
}

async function carryOut(understood: Understood, user: ChatUser, tools: ChatTools): Promise<EngineReply> {
  const reply = (lines: readonly string[], data?: Record<string, unknown>): EngineReply => ({
    intent: understood.intent,
    text: bound(lines),
    ...(data === undefined ? {} : { data }),
  });
  switch (understood.intent) {
    case 'help':
      return reply(helpLines());
    case 'free_form':
      return reply(["I can't answer open questions on my own.", ...helpLines()]);
    case 'unknown': {
      const said = understood.args.text === '' ? 'that' : `"${clip(understood.args.text, 80)}"`;
      return reply([`I did not understand ${said}.`, ...helpLines()]);
    }
    case 'status': {
      const status = await tools.status();
      return reply(renderStatus(status), status);
    }
    case 'pending_approvals': {
      const approvals = await tools.pendingApprovals();
      return reply(renderApprovals(approvals), approvals);
    }
    case 'list_incidents': {
      const filter = understood.args;
      const incidents = await tools.listIncidents({ ...filter, limit: filter.limit ?? 20 });
      return reply(renderIncidents(incidents, filter), incidents);
    }
  }
  const { args } = understood;
  if (needsClarification(args)) return reply([args.clarification]);
  switch (understood.intent) {
    case 'show_incident':
    case 'explain': {
      const { incident_id: incidentId } = args as { incident_id: string };
      const detail = await tools.showIncident(incidentId);
      return reply(understood.intent === 'explain' ? renderExplanation(detail) : renderIncident(detail), detail);
    }
    case 'approve':
    case 'reject': {
      const { approval_id: approvalId, comment } = args as { approval_id: string; comment?: string };
      const { vote_id: voteId } = await tools.vote(approvalId, understood.intent, comment);
      return reply(
        [
          `Your ${understood.intent} vote on ${approvalId} is on its way to the executor (vote ${voteId}).`,
          'It counts toward the quorum if you may vote on it; "approvals" shows where it stands.',
        ],
        { approval_id: approvalId, vote_id: voteId, decision: understood.intent },
      );
    }
    case 'run_playbook': {
      const { playbook, service, environment } = args as RunArgs;
      const { action_id: actionId } = await tools.runPlaybook(playbook, service, environment);
      return reply(
        [
          `Asked Grace to run ${playbook} on ${service} in ${environment} (action ${actionId}).`,
          `Policy and approvals still apply; "approvals" and "incidents on ${service}" show what happens next.`,
        ],
        { action_id: actionId, playbook, service, environment },
      );
    }
    case 'mute': {
      const { target, duration_ms: durationMs, reason } = args as MuteArgs;
      const why = reason ?? `muted from the chat by ${user.id}`;
      const { muted_until: mutedUntil } = await tools.mute(target, durationMs, why);
      const what =
        target.signature !== undefined ? `signature ${target.signature}` : `fingerprint ${target.fingerprint}`;
      return reply([`Muted ${what} for ${formatDuration(durationMs)}, until ${formatTime(mutedUntil)}.`], {
        ...target,
        muted_until: mutedUntil,
      });
    }
    case 'cube': {
      const cube = args as CubeArgs;
      const result = await tools.cube(cube.query, cube.request);
      return reply(renderCube(cube, result), { query: cube.query, request: cube.request, ...result });
    }
  }
  return reply(helpLines());
}

/** Answers one understood message; never throws: a failing tool becomes a sentence saying what to do. */
export async function respond(understood: Understood, user: ChatUser, tools: ChatTools): Promise<EngineReply> {
  if (!permitted(user, understood.intent)) {
    const needed = ROLES[understood.intent];
    const role = needed === ANYONE ? 'a Grace role (viewer or above)' : `the ${needed.join(' or ')} role`;
    return {
      intent: understood.intent,
      text: `You need ${role} to ${DOING[understood.intent]}; your roles: ${roleNames(user.roles)}. Ask an admin if you should have it.`,
      data: { error: 'forbidden' },
    };
  }
  try {
    return await carryOut(understood, user, tools);
  } catch (error) {
    const code = error instanceof ToolError ? error.code : 'internal';
    return { intent: understood.intent, text: describeFailure(error, understood), data: { error: code } };
  }
}
