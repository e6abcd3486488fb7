// An OpenAI-compatible chat-completions client: one POST per turn, bounded in time and size, its answer validated.
import { readBodyCapped, tracedFetch } from '@grace/service-kit';

export interface LlmToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export type LlmMessage =
  | { role: 'system' | 'user'; content: string }
  | { role: 'assistant'; content: string | null; tool_calls?: LlmToolCall[] }
  | { role: 'tool'; tool_call_id: string; content: string };

/** A function the model may call: `parameters` is a JSON Schema object. */
export interface LlmFunction {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
}

/** The model's turn: text, calls to make, or both (then the text is only a preamble). */
export interface LlmAnswer {
  content?: string;
  tool_calls?: LlmToolCall[];
}

export interface Llm {
  complete(
    messages: readonly LlmMessage[],
    tools?: readonly LlmFunction[],
    options?: { signal?: AbortSignal },
  ): Promise<LlmAnswer>;
}

export interface LlmConfig {
  /** The API's base URL, e.g. http://host/v1; `/chat/completions` is appended. */
  url: string;
  apiKey?: string;
  model: string;
  timeoutMs: number;
}

export type LlmFailure = 'timeout' | 'aborted' | 'http' | 'network' | 'invalid_response';

export class LlmError extends Error {
  override readonly name = 'LlmError';

  constructor(
    readonly kind: LlmFailure,
    message: string,
  ) {
    super(message);
  }
}

export const MAX_RESPONSE_BYTES = 1_048_576;
const FUNCTION_NAME = /^[A-Za-z0-9_-]{1,64}$/;

async function readCapped(response: Response, limit: number): Promise<string> {
  const text = await readBodyCapped(response, limit);
  if (text === undefined) throw new LlmError('invalid_response', `the LLM's answer is larger than ${limit} bytes`);
  return text;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function invalid(why: string): LlmError {
  return new LlmError('invalid_response', `the LLM's answer is not a chat completion: ${why}`);
}

function toolCallOf(value: unknown, index: number): LlmToolCall {
  if (!isObject(value) || !isObject(value.function)) throw invalid(`tool_calls[${index}] has no function`);
  const { id, type } = value;
  const { name, arguments: args } = value.function;
  if (typeof id !== 'string' || id === '') throw invalid(`tool_calls[${index}].id is not a string`);
  if (type !== undefined && type !== 'function') throw invalid(`tool_calls[${index}].type is not function`);
  if (typeof name !== 'string' || !FUNCTION_NAME.test(name)) throw invalid(`tool_calls[${index}] names no function`);
  if (typeof args !== 'string') throw invalid(`tool_calls[${index}].function.arguments is not a string`);
  return { id, type: 'function', function: { name, arguments: args } };
}

/** choices[0].message with non-empty content, tool calls, or both; anything else is refused. */
export function parseAnswer(text: string): LlmAnswer {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw invalid('not JSON');
  }
  if (!isObject(body) || !Array.isArray(body.choices) || body.choices.length === 0) throw invalid('no choices');
  const choice: unknown = body.choices[0];
  if (!isObject(choice) || !isObject(choice.message)) throw invalid('choices[0] has no message');
  const { content, tool_calls: calls } = choice.message;
  if (content !== undefined && content !== null && typeof content !== 'string') throw invalid('content is not text');
  if (calls !== undefined && calls !== null && !Array.isArray(calls)) throw invalid('tool_calls is not a list');
  const toolCalls = (calls ?? []).map(toolCallOf);
  const hasText = typeof content === 'string' && content.trim() !== '';
  if (!hasText && toolCalls.length === 0) throw invalid('neither content nor tool calls');
  return {
    ...(hasText ? { content } : {}),
    ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
  };
}

export function createLlm(config: LlmConfig): Llm {
  const endpoint = new URL(`${config.url.replace(/\/+$/, '')}/chat/completions`);
  if (endpoint.protocol !== 'http:' && endpoint.protocol !== 'https:') {
    throw new TypeError(`createLlm: the url must be http(s), got ${endpoint.protocol}`);
  }
  if (!(Number.isFinite(config.timeoutMs) && config.timeoutMs > 0)) {
    throw new RangeError(`createLlm: timeoutMs must be a positive number, got ${config.timeoutMs}`);
  }
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (config.apiKey) headers.authorization = `Bearer ${config.apiKey}`;

  return {
    async complete(messages, tools, options = {}) {
      const timeout = AbortSignal.timeout(config.timeoutMs);
      const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
      const body = {
        model: config.model,
        messages,
        ...(tools && tools.length > 0
          ? { tools: tools.map((fn) => ({ type: 'function', function: fn })), tool_choice: 'auto' }
          : {}),
      };
      try {
        const response = await tracedFetch(endpoint, {
          method: 'POST',
          headers,
          body: JSON.stringify(body),
          signal,
          redirect: 'error',
        });
        if (!response.ok) {
          await response.body?.cancel();
          throw new LlmError('http', `the LLM answered HTTP ${response.status}`);
        }
        return parseAnswer(await readCapped(response, MAX_RESPONSE_BYTES));
      } catch (error) {
        if (error instanceof LlmError) throw error;
        if (timeout.aborted) throw new LlmError('timeout', `the LLM did not answer within ${config.timeoutMs} ms`);
        if (options.signal?.aborted) throw new LlmError('aborted', 'the request to the LLM was cancelled');
        const detail = error instanceof Error ? error.message : String(error);
        throw new LlmError('network', `could not reach the LLM at ${endpoint.host}: ${detail}`);
      }
    },
  };
}
