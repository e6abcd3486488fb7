// The http adapter: runs an action by POSTing a signed JSON request to the target's webhook (`target.url`).
//
// Protocol, for webhook authors:
// - Every call is `POST target.url` with the JSON body `{ operation, ...request }`: operation `execute` carries a
//   RemediationRequest, `snapshot` a SnapshotRequest, `restore` a RestoreRequest (schemas in @grace/contracts).
// - Headers: `content-type: application/json`; `idempotency-key` (execute: the request's idempotency_key; snapshot:
//   `<contract_id>:snapshot`; restore: `<contract_id>:restore:<snapshot_id>`), the same on every retry, so act at
//   most once per key; `x-grace-operation`; `x-grace-timestamp` (unix seconds); and, when a secret is configured,
//   `x-grace-signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>` (check it with verifySignature).
// - Answer 2xx with a JSON RemediationReply (execute), SnapshotReply (snapshot) or RestoreReply (restore), at most
//   1 MiB; any other 2xx body is an error. 5xx, 408, 429 and network errors are retried with exponential backoff
//   (`retry-after` seconds honoured for 429 and 503, up to 10 s); any other status is a refusal, never retried.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  RemediationReply,
  RestoreReply,
  SnapshotReply,
  describeErrors,
  validateSchema,
  type RemediationRequest,
} from '@grace/contracts';
import type { TSchema } from '@sinclair/typebox';
import { AdapterError, type ActionAdapter } from './adapter.js';
import { readBodyCapped, tracedFetch } from '@grace/service-kit';

export interface HttpAdapterOptions {
  /** Key of the `x-grace-signature` HMAC; empty sends no signature. */
  secret: string;
  /** Tries after the first on 5xx, 408, 429 and network errors; default 2. */
  retries?: number;
  /** Wait before the first retry, doubled for each next one; default 250. */
  retryBaseMs?: number;
  userAgent?: string;
}

// The schema each operation's answer must match, and its name for error messages.
const replies = {
  execute: { schema: RemediationReply, name: 'RemediationReply' },
  snapshot: { schema: SnapshotReply, name: 'SnapshotReply' },
  restore: { schema: RestoreReply, name: 'RestoreReply' },
} satisfies Record<string, { schema: TSchema; name: string }>;
type Operation = keyof typeof replies;

const MAX_RESPONSE_BYTES = 1024 * 1024;
const MAX_RETRY_AFTER_MS = 10_000;
const BODY_CHARS_IN_MESSAGES = 512;

type Target = RemediationRequest['target'];

/** The `x-grace-signature` value of a body: `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`. */
export function signBody(secret: string, timestamp: number | string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * For webhooks: true when `header` is the signature of the raw `body` at `timestamp` (the `x-grace-timestamp`
 * header) and the timestamp is within `toleranceSeconds` of `now`, which stops replays of old requests.
 */
export function verifySignature(
  secret: string,
  timestamp: number | string,
  body: string,
  header: string | undefined,
  { toleranceSeconds = 300, now = new Date() }: { toleranceSeconds?: number; now?: Date } = {},
): boolean {
  if (!secret || !header || !/^\d+$/.test(String(timestamp))) return false;
  if (Math.abs(now.getTime() / 1000 - Number(timestamp)) > toleranceSeconds) return false;
  const expected = Buffer.from(signBody(secret, timestamp, body));
  const received = Buffer.from(header);
  return expected.length === received.length && timingSafeEqual(expected, received);
}

function webhookUrl(target: Target): URL {
  const url = target.url !== undefined && URL.canParse(target.url) ? new URL(target.url) : undefined;
  if (url?.protocol !== 'http:' && url?.protocol !== 'https:') {
    throw new AdapterError(`the http adapter needs target.url, an http(s) webhook, for service ${target.service}`);
  }
  return url;
}

function timeoutError(): AdapterError {
  return new AdapterError('webhook did not answer before the action timeout', true);
}

function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

function retryAfterMs(response: Response): number | undefined {
  if (response.status !== 429 && response.status !== 503) return undefined;
  const header = response.headers.get('retry-after')?.trim();
  return header && /^\d+$/.test(header) ? Math.min(Number(header) * 1000, MAX_RETRY_AFTER_MS) : undefined;
}

function describeAnswer(status: number, body: string | undefined): string {
  if (body === undefined) return `${status} with a body larger than 1 MiB (refused)`;
  return `${status}: ${body.slice(0, BODY_CHARS_IN_MESSAGES)}`;
}

function describeNetworkError(error: unknown): string {
  // fetch rejects with `TypeError: fetch failed` whose cause says what failed (ECONNREFUSED, a reset, ...). Duck
  // typed, not instanceof: the error may come from another realm (a vm context under jest).
  const { cause } = (error ?? {}) as { cause?: { message?: unknown; code?: unknown } };
  const detail = cause?.message || cause?.code || (error as { message?: unknown })?.message;
  return typeof detail === 'string' && detail ? detail : String(error);
}

type Outcome<T> = { ok: true; value: T } | { ok: false; message: string; retryable: boolean };

export function createHttpAdapter(options: HttpAdapterOptions): ActionAdapter {
  const { secret, retries = 2, retryBaseMs = 250, userAgent = 'grace-action-executor' } = options;
  const tries = 1 + Math.max(0, Math.floor(retries));

  function headers(operation: Operation, idempotencyKey: string, body: string): Record<string, string> {
    const timestamp = Math.floor(Date.now() / 1000);
    return {
      'content-type': 'application/json',
      'user-agent': userAgent,
      'idempotency-key': idempotencyKey,
      'x-grace-operation': operation,
      'x-grace-timestamp': String(timestamp),
      ...(secret ? { 'x-grace-signature': signBody(secret, timestamp, body) } : {}),
    };
  }

  /** Post until the webhook answers something not worth retrying, or the tries run out. */
  async function call<T>(
    operation: Operation,
    request: { target: Target },
    idempotencyKey: string,
    signal: AbortSignal,
  ): Promise<Outcome<T>> {
    const url = webhookUrl(request.target);
    const body = JSON.stringify({ operation, ...request });
    let lastFailure = '';
    let retryAfter: number | undefined;
    for (let attempt = 0; attempt < tries; attempt++) {
      const backoffMs = retryAfter ?? retryBaseMs * 2 ** (attempt - 1);
      // The sleep rejects as soon as the signal fires; the check below turns that into the timeout error.
      if (attempt > 0) await sleep(backoffMs, undefined, { signal }).catch(() => {});
      if (signal.aborted) throw timeoutError();
      let status: number;
      let text: string | undefined;
      try {
        // A redirect is answered as a refusal rather than followed (a followed POST may turn into a GET). Tracing
        // on, each try is a CLIENT span whose traceparent the webhook gets.
        const response = await tracedFetch(url, {
          method: 'POST',
          headers: headers(operation, idempotencyKey, body),
          body,
          signal,
          redirect: 'manual',
        });
        status = response.status;
        retryAfter = retryAfterMs(response);
        text = await readBodyCapped(response, MAX_RESPONSE_BYTES);
      } catch (error) {
        if (signal.aborted) throw timeoutError();
        retryAfter = undefined;
        lastFailure = describeNetworkError(error);
        continue;
      }
      if (isRetryableStatus(status)) {
        lastFailure = `answered ${describeAnswer(status, text)}`;
        continue;
      }
      if (status < 200 || status >= 300 || text === undefined) {
        return { ok: false, message: `webhook answered ${describeAnswer(status, text)}`, retryable: false };
      }
      return { ok: true, value: parseReply<T>(operation, text) };
    }
    const message = `webhook gave no usable answer to ${operation} in ${tries} tries; last: ${lastFailure}`;
    return { ok: false, message, retryable: true };
  }

  return {
    name: 'http',

    describe(plan) {
      const url = webhookUrl(plan.target);
      // Origin and path only: a webhook's query string may carry a token that has no place in an audit entry.
      return `POST action ${plan.action} to webhook ${url.origin}${url.pathname}`;
    },

    async snapshot(request, signal) {
      const outcome = await call<SnapshotReply>('snapshot', request, `${request.contract_id}:snapshot`, signal);
      if (!outcome.ok) throw new AdapterError(outcome.message, outcome.retryable);
      return outcome.value.state;
    },

    async execute(request, signal) {
      const outcome = await call<RemediationReply>('execute', request, request.idempotency_key, signal);
      return outcome.ok ? outcome.value : { status: 'failed', actual_state: {}, message: outcome.message };
    },

    async restore(request, signal) {
      const key = `${request.contract_id}:restore:${request.snapshot_id}`;
      const outcome = await call<RestoreReply>('restore', request, key, signal);
      return outcome.ok ? outcome.value : { status: 'failed', actual_state: {}, message: outcome.message };
    },
  };
}

function parseReply<T>(operation: Operation, text: string): T {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new AdapterError(
      `webhook answered ${operation} with a body that is not JSON: ${text.slice(0, BODY_CHARS_IN_MESSAGES)}`,
    );
  }
  const { schema, name } = replies[operation];
  const result = validateSchema<T>(schema, json);
  if (!result.ok)
    throw new AdapterError(`webhook's ${operation} answer is not a ${name}: ${describeErrors(result.errors)}`);
  return result.value;
}
