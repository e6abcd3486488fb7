// Tests of the chat-completions client against a real local HTTP server: answers, errors, garbage, size, hangs.
import { afterEach, describe, expect, it } from '@jest/globals';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLlm, LlmError, MAX_RESPONSE_BYTES, parseAnswer, type LlmFunction } from './llm.js';

interface Seen {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

type Handler = (body: Record<string, unknown>, res: ServerResponse) => void;

const servers: { close(): Promise<void> }[] = [];

/** A local chat-completions server on 127.0.0.1:0; `handler` answers each request (or never does). */
async function serve(handler: Handler): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        // left empty: the assertions on `seen` say what was expected
      }
      seen.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });
      handler(body, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push({
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/`, seen };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

const completion = (message: Record<string, unknown>) => ({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  choices: [{ index: 0, message: { role: 'assistant', ...message }, finish_reason: 'stop' }],
});

const listIncidents: LlmFunction = {
  name: 'list_incidents',
  description: 'Incidents, newest first.',
  parameters: { type: 'object', properties: { open: { type: 'boolean' } } },
};

async function failure(promise: Promise<unknown>): Promise<LlmError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof LlmError) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

describe('createLlm', () => {
  it('POSTs the model, messages and tools to /chat/completions with the bearer key, and returns the content', async () => {
    const { url, seen } = await serve((_body, res) => json(res, 200, completion({ content: 'All quiet.' })));
    const llm = createLlm({ url, apiKey: 'sk-test', model: 'tiny', timeoutMs: 5_000 });
    const answer = await llm.complete([{ role: 'user', content: 'anything up?' }], [listIncidents]);
    expect(answer).toEqual({ content: 'All quiet.' });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: 'POST', path: '/v1/chat/completions' });
    expect(seen[0]!.headers.authorization).toBe('Bearer sk-test');
    expect(seen[0]!.headers['content-type']).toBe('application/json');
    expect(seen[0]!.body).toEqual({
      model: 'tiny',
      messages: [{ role: 'user', content: 'anything up?' }],
      tools: [{ type: 'function', function: listIncidents }],
      tool_choice: 'auto',
    });
  });

  it('sends no authorization without a key, and no tools when there are none', async () => {
    const { url, seen } = await serve((_body, res) => json(res, 200, completion({ content: 'hi' })));
    await createLlm({ url, model: 'tiny', timeoutMs: 5_000 }).complete([{ role: 'user', content: 'hi' }]);
    expect(seen[0]!.headers.authorization).toBeUndefined();
    expect(seen[0]!.body).toEqual({ model: 'tiny', messages: [{ role: 'user', content: 'hi' }] });
  });

  it('returns tool calls', async () => {
    const call = { id: 'call_1', type: 'function', function: { name: 'list_incidents', arguments: '{"open":true}' } };
    const { url } = await serve((_body, res) => json(res, 200, completion({ content: null, tool_calls: [call] })));
    const answer = await createLlm({ url, model: 'tiny', timeoutMs: 5_000 }).complete([], [listIncidents]);
    expect(answer).toEqual({ tool_calls: [call] });
  });

  it('throws an http error on a 500', async () => {
    const { url } = await serve((_body, res) => json(res, 500, { error: { message: 'overloaded' } }));
    const error = await failure(createLlm({ url, model: 'tiny', timeoutMs: 5_000 }).complete([]));
    expect(error.kind).toBe('http');
    expect(error.message).toContain('500');
  });

  it('throws on garbage', async () => {
    const { url } = await serve((_body, res) => res.writeHead(200).end('<html>gateway</html>'));
    expect((await failure(createLlm({ url, model: 'tiny', timeoutMs: 5_000 }).complete([]))).kind).toBe(
      'invalid_response',
    );
  });

  it('throws on an answer larger than 1 MiB, streamed or declared', async () => {
    const big = JSON.stringify(completion({ content: 'x'.repeat(MAX_RESPONSE_BYTES) }));
    const streamed = await serve((_body, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      for (let at = 0; at < big.length; at += 65_536) res.write(big.slice(at, at + 65_536));
      res.end();
    });
    const declared = await serve((_body, res) =>
      res.writeHead(200, { 'content-length': Buffer.byteLength(big) }).end(big),
    );
    for (const { url } of [streamed, declared]) {
      const error = await failure(createLlm({ url, model: 'tiny', timeoutMs: 5_000 }).complete([]));
      expect(error.kind).toBe('invalid_response');
      expect(error.message).toMatch(/larger than/);
    }
  });

  it('times out when the server hangs', async () => {
    const { url } = await serve(() => undefined);
    const error = await failure(createLlm({ url, model: 'tiny', timeoutMs: 200 }).complete([]));
    expect(error.kind).toBe('timeout');
  });

  it('stops when the caller aborts', async () => {
    const { url } = await serve(() => undefined);
    const controller = new AbortController();
    const pending = createLlm({ url, model: 'tiny', timeoutMs: 60_000 }).complete([], [], {
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 50);
    expect((await failure(pending)).kind).toBe('aborted');
  });

  it('reports a server it cannot reach', async () => {
    const { url } = await serve(() => undefined);
    await Promise.all(servers.splice(0).map((server) => server.close()));
    expect((await failure(createLlm({ url, model: 'tiny', timeoutMs: 5_000 }).complete([]))).kind).toBe('network');
  });

  it('refuses a url that is not http(s) and a timeout that is not positive', () => {
    expect(() => createLlm({ url: 'file:///etc', model: 'm', timeoutMs: 1_000 })).toThrow(TypeError);
    expect(() => createLlm({ url: 'http://x/v1', model: 'm', timeoutMs: 0 })).toThrow(RangeError);
  });
});

describe('parseAnswer', () => {
  it.each([
    ['not JSON', '{"choices": ['],
    ['no choices', '{}'],
    ['empty choices', '{"choices": []}'],
    ['no message', '{"choices": [{}]}'],
    ['neither content nor tool calls', '{"choices": [{"message": {"content": null}}]}'],
    ['blank content', '{"choices": [{"message": {"content": "  "}}]}'],
    ['content not text', '{"choices": [{"message": {"content": 42}}]}'],
    ['tool_calls not a list', '{"choices": [{"message": {"tool_calls": {}}}]}'],
    [
      'a tool call without a name',
      '{"choices": [{"message": {"tool_calls": [{"id": "a", "function": {"arguments": "{}"}}]}}]}',
    ],
    [
      'arguments that are not a string',
      '{"choices": [{"message": {"tool_calls": [{"id": "a", "function": {"name": "f", "arguments": {}}}]}}]}',
    ],
    [
      'a tool call of another type',
      '{"choices": [{"message": {"tool_calls": [{"id": "a", "type": "web", "function": {"name": "f", "arguments": "{}"}}]}}]}',
    ],
  ])('refuses %s', (_why, text) => {
    expect(() => parseAnswer(text)).toThrow(LlmError);
  });

  it('accepts content with tool calls, and a tool call without a type', () => {
    const text = JSON.stringify(
      completion({ content: 'Let me look.', tool_calls: [{ id: 'a', function: { name: 'status', arguments: '' } }] }),
    );
    expect(parseAnswer(text)).toEqual({
      content: 'Let me look.',
      tool_calls: [{ id: 'a', type: 'function', function: { name: 'status', arguments: '' } }],
    });
  });
});
