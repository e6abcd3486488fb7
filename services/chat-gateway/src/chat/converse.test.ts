// Tests of one chat turn against a real local chat-completions server: engine, LLM, tool calls and fallbacks.
import { afterEach, describe, expect, it } from '@jest/globals';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chatReply } from './converse.js';
import { createLlm, type Llm } from './llm.js';
import type { ChatTools, ChatUser } from './tools.js';

const NOW = new Date('2024-06-13T15:20:00.000Z');
const viewer: ChatUser = { id: 'vera', roles: ['viewer'] };

interface Turn {
  messages: { role: string; content?: string | null; tool_call_id?: string }[];
  tools?: { function: { name: string } }[];
}

const servers: { close(): Promise<void> }[] = [];

/** A local chat-completions server: `answer` gets the request and its number (from 0), and writes the response. */
async function llmServer(
  answer: (turn: Turn, n: number, res: ServerResponse) => void,
): Promise<{ llm: Llm; turns: Turn[] }> {
  const turns: Turn[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const turn = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Turn;
      turns.push(turn);
      answer(turn, turns.length - 1, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push({
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  return { llm: createLlm({ url, model: 'tiny', timeoutMs: 10_000 }), turns };
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

function send(res: ServerResponse, message: Record<string, unknown>): void {
  res
    .writeHead(200, { 'content-type': 'application/json' })
    .end(JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', ...message } }] }));
}

const toolCall = (id: string, name: string, args: unknown) => ({
  id,
  type: 'function',
  function: { name, arguments: JSON.stringify(args) },
});

/** Read-only fake tools that record calls; the others fail the test if the LLM path ever reaches them. */
function fakeTools(override: Partial<ChatTools> = {}): { tools: ChatTools; calls: [string, unknown[]][] } {
  const calls: [string, unknown[]][] = [];
  const forbidden = async () => {
    throw new Error('the LLM path must not act');
  };
  const tools: ChatTools = {
    status: async () => {
      calls.push(['status', []]);
      return {
        paused: false,
        held_actions: 0,
        open_contracts: 0,
        dry_run: false,
        open_incidents: 1,
        pending_approvals: 0,
      };
    },
    listIncidents: async (filter) => {
      calls.push(['listIncidents', [filter]]);
      return { items: [] };
    },
    showIncident: async (id) => {
      calls.push(['showIncident', [id]]);
      throw new Error(`no ${id}`);
    },
    pendingApprovals: async () => {
      calls.push(['pendingApprovals', []]);
      return { items: [] };
    },
    cube: (async (query: string, request: unknown) => {
      calls.push(['cube', [query, request]]);
      return { rows: [] };
    }) as ChatTools['cube'],
    vote: forbidden,
    runPlaybook: forbidden,
    mute: forbidden,
    ...override,
  };
  return { tools, calls };
}

describe('chatReply without the LLM', () => {
  it('answers a concrete intent with the engine even when an LLM is configured', async () => {
    const { llm, turns } = await llmServer((_turn, _n, res) => send(res, { content: 'should not be asked' }));
    const { tools, calls } = fakeTools();
    const reply = await chatReply('status', viewer, tools, { llm, now: NOW });
    expect(reply).toMatchObject({ intent: 'status', source: 'engine' });
    expect(reply.text).toContain('Open incidents: 1');
    expect(calls).toEqual([['status', []]]);
    expect(turns).toEqual([]);
  });

  it('answers an open question with the engine when no LLM is configured', async () => {
    const reply = await chatReply('why is checkout slow?', viewer, fakeTools().tools, { now: NOW });
    expect(reply).toMatchObject({ intent: 'free_form', source: 'engine' });
    expect(reply.text).toMatch(/I understand:/);
  });
});

describe('chatReply with the LLM', () => {
  it('passes an open question to the LLM with the system prompt and the read-only tools', async () => {
    const { llm, turns } = await llmServer((_turn, _n, res) => send(res, { content: 'Checkout looks fine to me.' }));
    const reply = await chatReply('why is checkout slow?', viewer, fakeTools().tools, { llm, now: NOW });
    expect(reply).toEqual({ intent: 'free_form', text: 'Checkout looks fine to me.', source: 'llm' });
    expect(turns[0]!.messages[0]).toMatchObject({ role: 'system', content: expect.stringContaining('Grace') });
    expect(turns[0]!.messages[0]!.content).toContain('roles: viewer');
    expect(turns[0]!.messages[1]).toEqual({ role: 'user', content: 'why is checkout slow?' });
    expect(turns[0]!.tools!.map((tool) => tool.function.name).sort()).toEqual([
      'cube_error_trends',
      'cube_mttr',
      'cube_rollback_drift',
      'cube_success_rate',
      'list_incidents',
      'pending_approvals',
      'show_incident',
      'status',
    ]);
  });

  it('runs a tool call through the tools and hands the result back before answering', async () => {
    const { llm, turns } = await llmServer((_turn, n, res) =>
      n === 0
        ? send(res, {
            content: null,
            tool_calls: [toolCall('call_1', 'list_incidents', { open: true, service: 'checkout' })],
          })
        : send(res, { content: 'No open incidents on checkout.' }),
    );
    const { tools, calls } = fakeTools();
    const reply = await chatReply('is anything wrong with checkout?', viewer, tools, { llm, now: NOW });
    expect(reply).toMatchObject({ source: 'llm', text: 'No open incidents on checkout.' });
    expect(calls).toEqual([['listIncidents', [{ open: true, service: 'checkout', limit: 20 }]]]);
    expect(turns).toHaveLength(2);
    expect(turns[1]!.messages.slice(2)).toEqual([
      {
        role: 'assistant',
        content: null,
        tool_calls: [toolCall('call_1', 'list_incidents', { open: true, service: 'checkout' })],
      },
      { role: 'tool', tool_call_id: 'call_1', content: '{"items":[]}' },
    ]);
  });

  it('computes the range of a cube call from its period and reports tool errors to the LLM', async () => {
    const { llm, turns } = await llmServer((_turn, n, res) =>
      n === 0
        ? send(res, {
            tool_calls: [
              toolCall('a', 'cube_mttr', { period: 'this week', service: 'checkout' }),
              toolCall('b', 'show_incident', { incident_id: 'inc-9' }),
            ],
          })
        : send(res, { content: 'Done.' }),
    );
    const { tools, calls } = fakeTools();
    await chatReply('how are we doing on resolving checkout issues?', viewer, tools, { llm, now: NOW });
    expect(calls[0]).toEqual([
      'cube',
      [
        'cube.query.mttr',
        { from: '2024-06-10T00:00:00.000Z', to: '2024-06-13T15:20:00.000Z', bucket: 'day', service: 'checkout' },
      ],
    ]);
    const results = turns[1]!.messages.filter((message) => message.role === 'tool').map((m) => JSON.parse(m.content!));
    expect(results).toEqual([{ rows: [] }, { error: 'internal', message: 'no inc-9' }]);
  });

  it('applies the role rules to tool calls and refuses unknown functions', async () => {
    const { llm, turns } = await llmServer((_turn, n, res) =>
      n === 0
        ? send(res, { tool_calls: [toolCall('a', 'status', {}), toolCall('b', 'run_playbook', { playbook: 'x' })] })
        : send(res, { content: 'You cannot see that.' }),
    );
    const { tools, calls } = fakeTools();
    const reply = await chatReply('is anything broken?', { id: 'nobody', roles: [] }, tools, { llm, now: NOW });
    expect(reply.source).toBe('llm');
    expect(calls).toEqual([]);
    const results = turns[1]!.messages.filter((message) => message.role === 'tool').map((m) => JSON.parse(m.content!));
    expect(results.map((result: { error: string }) => result.error)).toEqual(['forbidden', 'not_found']);
  });
});

describe('chatReply falls back to the engine', () => {
  const expectFallback = (reply: Awaited<ReturnType<typeof chatReply>>, code: string) => {
    expect(reply.source).toBe('fallback');
    expect(reply.intent).toBe('free_form');
    expect(reply.text).toMatch(/^The assistant is unavailable right now \(.+\), so here is what I can do without it\./);
    expect(reply.text).toContain('I understand:');
    expect(reply.data).toEqual({ assistant_error: code });
  };

  it('when the LLM answers 500', async () => {
    const { llm } = await llmServer((_turn, _n, res) => res.writeHead(500).end('{"error":"boom"}'));
    expectFallback(await chatReply('what is up with payments?', viewer, fakeTools().tools, { llm, now: NOW }), 'http');
  });

  it('when the LLM answers garbage', async () => {
    const { llm } = await llmServer((_turn, _n, res) => res.writeHead(200).end('not json at all'));
    expectFallback(
      await chatReply('what is up with payments?', viewer, fakeTools().tools, { llm, now: NOW }),
      'invalid_response',
    );
  });

  it('when the LLM hangs past the budget, and the call still settles', async () => {
    const { llm, turns } = await llmServer(() => undefined);
    const reply = await chatReply('what is up with payments?', viewer, fakeTools().tools, {
      llm,
      budgetMs: 300,
      now: NOW,
    });
    expectFallback(reply, 'timeout');
    expect(reply.text).toContain('it did not answer in time');
    expect(turns).toHaveLength(1);
  });

  it('when a tool hangs past the budget', async () => {
    const { llm } = await llmServer((_turn, _n, res) => send(res, { tool_calls: [toolCall('a', 'status', {})] }));
    const { tools } = fakeTools({ status: () => new Promise(() => undefined) });
    expectFallback(
      await chatReply('what is up with payments?', viewer, tools, { llm, budgetMs: 300, now: NOW }),
      'timeout',
    );
  });

  it('when the LLM keeps calling tools, after at most 3 calls', async () => {
    const { llm, turns } = await llmServer((_turn, n, res) =>
      send(res, { tool_calls: [toolCall(`call_${n}`, 'pending_approvals', {})] }),
    );
    const { tools, calls } = fakeTools();
    expectFallback(await chatReply('what is up with payments?', viewer, tools, { llm, now: NOW }), 'tool_loop');
    expect(calls).toHaveLength(3);
    expect(turns).toHaveLength(4);
  });

  it('when the LLM cannot be reached, keeping the engine intent for unknown messages', async () => {
    const { llm } = await llmServer(() => undefined);
    await Promise.all(servers.splice(0).map((server) => server.close()));
    const reply = await chatReply('banana', viewer, fakeTools().tools, { llm, now: NOW });
    expect(reply).toMatchObject({ intent: 'unknown', source: 'fallback', data: { assistant_error: 'unreachable' } });
    expect(reply.text).toContain('I did not understand "banana"');
  });
});
