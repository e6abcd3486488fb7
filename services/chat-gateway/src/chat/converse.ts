// One chat turn: the engine for what it understands, else the LLM with read-only tools, else the engine as fallback.
import type { QueryRequest } from '@grace/contracts';
import { permitted, respond, type EngineReply } from './engine.js';
import { needsClarification, readPeriod, understand, type Intent } from './intents.js';
import { LlmError, type Llm, type LlmFunction, type LlmMessage, type LlmToolCall } from './llm.js';
import { clip } from './render.js';
import { ToolError, type ChatTools, type ChatUser, type CubeQuery } from './tools.js';

export interface ChatOptions {
  llm?: Llm;
  /** The whole LLM conversation (its turns and tool calls) must end by then. */
  budgetMs?: number;
  now?: Date;
}

export interface ChatAnswer extends EngineReply {
  source: 'engine' | 'llm' | 'fallback';
}

export const DEFAULT_BUDGET_MS = 25_000;
const MAX_TOOL_CALLS = 3;
const MAX_TOOL_RESULT_CHARS = 12_000;
const MAX_TEXT_CHARS = 16_000;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const ID = /^[A-Za-z0-9_.:-]{1,128}$/;

const nameProperty = (description: string) => ({ type: 'string', pattern: NAME.source, description });
const period = {
  type: 'string',
  description: 'today, yesterday, this week, last week, this month, last month, last N days or last N hours',
};

/** The read-only tools the LLM may call, each with the intent whose role rule it follows. */
const FUNCTIONS: (LlmFunction & { intent: Intent })[] = [
  {
    name: 'status',
    intent: 'status',
    description: 'Whether Grace is paused or in dry-run, and counts of open incidents, approvals and contracts.',
    parameters: { type: 'object', properties: {} },
  },
  {
    name: 'list_incidents',
    intent: 'list_incidents',
    description: 'Incidents, newest first.',
    parameters: {
      type: 'object',
      properties: {
        open: { type: 'boolean', description: 'true: only open ones; false: only resolved or escalated ones' },
        service: nameProperty('only this service'),
        environment: nameProperty('only this environment'),
        limit: { type: 'integer', minimum: 1, maximum: 50 },
      },
    },
  },
  {
    name: 'show_incident',
    intent: 'show_incident',
    description:
      'One incident with its timeline and decision trail (each attempt: playbook, why, candidates, outcome).',
    parameters: {
      type: 'object',
      properties: { incident_id: { type: 'string' } },
      required: ['incident_id'],
    },
  },
  {
    name: 'pending_approvals',
    intent: 'pending_approvals',
    description: 'Risky actions waiting for approval, with their quorum and votes.',
    parameters: { type: 'object', properties: {} },
  },
  ...(
    [
      ['success_rate', 'Verified / executed actions per playbook, service or tier.'],
      ['mttr', 'Mean, p50 and p90 time to resolve incidents per service and environment.'],
      ['error_trends', 'Top error signatures by occurrences, with week-over-week change.'],
      ['rollback_drift', 'Rollback and drift rates by tier and adapter, with the worst playbooks.'],
    ] as const
  ).map(([name, description]) => ({
    name: `cube_${name}`,
    intent: 'cube' as const,
    description,
    parameters: {
      type: 'object',
      properties: {
        period,
        service: nameProperty('only this service'),
        environment: nameProperty('only this environment'),
        ...(name === 'success_rate'
          ? { playbook: nameProperty('only this playbook'), group_by: { enum: ['playbook', 'service', 'tier'] } }
          : {}),
      },
    },
  })),
];

function systemPrompt(user: ChatUser, now: Date): string {
  return [
    "You are the assistant in Grace's operator chat. Grace is a self-healing remediation platform: it captures",
    'errors, opens incidents, chooses a remediation playbook by Thompson sampling over what worked before, runs it',
    'through a policy-checked executor (risky actions wait for approvals), verifies the fix and learns from it.',
    'Answer briefly in plain text (no markdown, no tables), at most about 15 lines. Look facts up with the',
    'functions rather than guessing; you may call at most 3. They are read-only: to approve, reject, run a playbook',
    'or mute, tell the user the chat command: "approve <id>", "reject <id> because ...",',
    '"run <playbook> on <service> in <environment>", "mute <fingerprint> for 2h because ...".',
    'When a function answers with an error, say so plainly.',
    `The user is ${user.id} with roles: ${user.roles.join(', ') || 'none'}. Now is ${now.toISOString()}.`,
  ].join('\n');
}

class ToolLoop extends Error {}

function optionalName(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || !NAME.test(value)) throw new ToolError('invalid_request', `${field} is not a name`);
  return value;
}

function cubeRequest(query: CubeQuery, args: Record<string, unknown>, now: Date): QueryRequest<CubeQuery> {
  const asked = typeof args.period === 'string' ? args.period : '';
  const range = readPeriod(asked, now);
  if (needsClarification(range)) throw new ToolError('invalid_request', range.clarification);
  if (asked !== '' && range.matched === undefined) {
    throw new ToolError('invalid_request', `period "${clip(asked, 40)}" is not understood; use e.g. "last 7 days"`);
  }
  const service = optionalName(args.service, 'service');
  const environment = optionalName(args.environment, 'environment');
  const playbook = query === 'cube.query.success_rate' ? optionalName(args.playbook, 'playbook') : undefined;
  const groupBy = ['playbook', 'service', 'tier'].includes(args.group_by as string) ? args.group_by : undefined;
  return {
    from: range.from,
    to: range.to,
    bucket: range.bucket,
    ...(service === undefined ? {} : { service }),
    ...(environment === undefined ? {} : { environment }),
    ...(playbook === undefined ? {} : { playbook }),
    ...(groupBy === undefined || query !== 'cube.query.success_rate' ? {} : { group_by: groupBy }),
  } as QueryRequest<CubeQuery>;
}

async function callTool(name: string, args: Record<string, unknown>, tools: ChatTools, now: Date): Promise<unknown> {
  switch (name) {
    case 'status':
      return tools.status();
    case 'pending_approvals':
      return tools.pendingApprovals();
    case 'show_incident': {
      if (typeof args.incident_id !== 'string' || !ID.test(args.incident_id)) {
        throw new ToolError('invalid_request', 'incident_id is not an id');
      }
      return tools.showIncident(args.incident_id);
    }
    case 'list_incidents': {
      const service = optionalName(args.service, 'service');
      const environment = optionalName(args.environment, 'environment');
      const limit = Number.isInteger(args.limit) ? Math.min(50, Math.max(1, args.limit as number)) : 20;
      return tools.listIncidents({
        ...(typeof args.open === 'boolean' ? { open: args.open } : {}),
        ...(service === undefined ? {} : { service }),
        ...(environment === undefined ? {} : { environment }),
        limit,
      });
    }
  }
  const query = `cube.query.${name.slice('cube_'.length)}` as CubeQuery;
  return tools.cube(query, cubeRequest(query, args, now));
}

/** Runs one call of the model's through `tools`, under the user's roles; its result or error goes back as JSON. */
async function runToolCall(call: LlmToolCall, user: ChatUser, tools: ChatTools, now: Date): Promise<string> {
  const fn = FUNCTIONS.find((candidate) => candidate.name === call.function.name);
  const failure = (error: string, message: string) => JSON.stringify({ error, message });
  if (fn === undefined) return failure('not_found', `there is no function ${call.function.name}`);
  if (!permitted(user, fn.intent)) return failure('forbidden', 'the user has no role that may read this');
  let args: unknown;
  try {
    args = call.function.arguments.trim() === '' ? {} : JSON.parse(call.function.arguments);
  } catch {
    return failure('invalid_request', 'the arguments are not JSON');
  }
  if (typeof args !== 'object' || args === null || Array.isArray(args)) {
    return failure('invalid_request', 'the arguments are not an object');
  }
  try {
    const result = JSON.stringify(await callTool(fn.name, args as Record<string, unknown>, tools, now));
    return result.length <= MAX_TOOL_RESULT_CHARS ? result : `${result.slice(0, MAX_TOOL_RESULT_CHARS)}…(truncated)`;
  } catch (error) {
    if (error instanceof ToolError) return failure(error.code, error.message);
    return failure('internal', error instanceof Error ? error.message : 'the tool failed');
  }
}

/** Settles with `work`, or rejects when `signal` aborts first (tools take no signal of their own). */
function unlessAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(new LlmError('aborted', 'the chat budget ran out'));
    if (signal.aborted) return abort();
    signal.addEventListener('abort', abort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', abort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', abort);
        reject(error);
      },
    );
  });
}

async function askLlm(
  message: string,
  user: ChatUser,
  tools: ChatTools,
  llm: Llm,
  now: Date,
  signal: AbortSignal,
): Promise<string> {
  const messages: LlmMessage[] = [
    { role: 'system', content: systemPrompt(user, now) },
    { role: 'user', content: message },
  ];
  const functions = FUNCTIONS.map(({ name, description, parameters }) => ({ name, description, parameters }));
  let calls = 0;
  for (;;) {
    const answer = await llm.complete(messages, functions, { signal });
    if (!answer.tool_calls) {
      const text = answer.content?.trim();
      if (!text) throw new LlmError('invalid_response', 'the LLM answered with no text');
      return text;
    }
    calls += answer.tool_calls.length;
    if (calls > MAX_TOOL_CALLS) throw new ToolLoop(`the LLM asked for more than ${MAX_TOOL_CALLS} tool calls`);
    messages.push({ role: 'assistant', content: answer.content ?? null, tool_calls: answer.tool_calls });
    for (const call of answer.tool_calls) {
      const content = await unlessAborted(runToolCall(call, user, tools, now), signal);
      messages.push({ role: 'tool', tool_call_id: call.id, content });
    }
  }
}

function whyUnavailable(error: unknown, budgetSpent: boolean): { code: string; text: string } {
  if (budgetSpent || (error instanceof LlmError && error.kind === 'timeout')) {
    return { code: 'timeout', text: 'it did not answer in time' };
  }
  if (error instanceof ToolLoop) return { code: 'tool_loop', text: 'it kept asking for more data than I allow' };
  if (error instanceof LlmError && error.kind === 'http') return { code: 'http', text: 'it answered with an error' };
  if (error instanceof LlmError && error.kind === 'invalid_response') {
    return { code: 'invalid_response', text: 'its answer could not be read' };
  }
  return { code: 'unreachable', text: 'it could not be reached' };
}

/** Answers one chat message. Never throws; an LLM failure falls back to the engine's answer. */
export async function chatReply(
  message: string,
  user: ChatUser,
  tools: ChatTools,
  options: ChatOptions = {},
): Promise<ChatAnswer> {
  const now = options.now ?? new Date();
  const understood = understand(message, now);
  const open = understood.intent === 'free_form' || understood.intent === 'unknown';
  if (!open || options.llm === undefined) return { ...(await respond(understood, user, tools)), source: 'engine' };

  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.budgetMs ?? DEFAULT_BUDGET_MS);
  try {
    const text = await askLlm(message, user, tools, options.llm, now, controller.signal);
    return { intent: understood.intent, text: clip(text, MAX_TEXT_CHARS), source: 'llm' };
  } catch (error) {
    const why = whyUnavailable(error, controller.signal.aborted);
    const fallback = await respond(understood, user, tools);
    return {
      intent: fallback.intent,
      text: `The assistant is unavailable right now (${why.text}), so here is what I can do without it.\n${fallback.text}`,
      data: { ...fallback.data, assistant_error: why.code },
      source: 'fallback',
    };
  } finally {
    clearTimeout(timer);
  }
}
