import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startGatewaySystem, type GatewaySystem } from './support.js';

/** An OpenAI-compatible endpoint that either answers or never does. */
function startLlmStub() {
  const state = { hang: false, requests: 0 };
  const waiting: ServerResponse[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    state.requests += 1;
    req.resume();
    req.on('end', () => {
      if (state.hang) return void waiting.push(res);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'stub',
          object: 'chat.completion',
          choices: [
            {
              index: 0,
              finish_reason: 'stop',
              message: { role: 'assistant', content: 'All quiet: no open incidents.' },
            },
          ],
        }),
      );
    });
  });
  return new Promise<{ url: string; state: typeof state; stop: () => Promise<void> }>((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
        state,
        stop: () => {
          for (const res of waiting) res.destroy();
          return new Promise<void>((done) => server.close(() => done()));
        },
      }),
    ),
  );
}

describe('gateway chat with an LLM', () => {
  let system: GatewaySystem;
  let llm: Awaited<ReturnType<typeof startLlmStub>>;

  beforeAll(async () => {
    llm = await startLlmStub();
    // The default chat budget (25 s): the acceptance is a fallback within 26 s.
    system = await startGatewaySystem('gwllm', { LLM_URL: llm.url }, []);
  }, 60_000);

  afterAll(async () => {
    await system?.stop();
    await llm?.stop();
  });

  const ask = (message: string, signal?: AbortSignal) =>
    fetch(`${system.url}/api/v1/chat`, {
      method: 'POST',
      headers: { authorization: `Bearer ${system.token(['operator'])}`, 'content-type': 'application/json' },
      body: JSON.stringify({ message }),
      ...(signal ? { signal } : {}),
    }).then(async (res) => ({ status: res.status, json: (await res.json()) as Record<string, unknown> }));

  it('answers a free-form question through the LLM', async () => {
    const res = await ask('is anything on fire in the checkout team today, would you say?');
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ source: 'llm', text: 'All quiet: no open incidents.' });
  });

  it('falls back to the engine within 26 s when the LLM hangs', async () => {
    llm.state.hang = true;
    const res = await ask('what do you make of the errors this morning, honestly?', AbortSignal.timeout(26_000));
    expect(res.status).toBe(200);
    expect(res.json.source).toBe('fallback');
    expect(String(res.json.text).length).toBeGreaterThan(0);
  }, 40_000);
});
