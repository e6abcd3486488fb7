// Request-reply over NATS with timeouts and contract validation on both sides (`<owner>.query.*`).
import {
  validateQueryResponse,
  validateReply,
  validateRequest,
  type QueryErrorCode,
  type QueryReply,
  type QueryRequest,
  type QueryResponse,
  type QuerySubject,
} from '@grace/contracts';
import type { Span } from '@opentelemetry/api';
import {
  headers as natsHeaders,
  RequestError,
  TimeoutError as NatsTimeoutError,
  type Msg,
  type NatsConnection,
  type Payload,
  type Subscription,
} from '@nats-io/nats-core';
import { errorMessage, withTimeout, TimeoutError } from './errors.js';
import type { Logger } from './logger.js';
import type { KitMetrics } from './metrics.js';
import type { Naming } from './naming.js';
import { failSpan, inSpan, startAnswerSpan, startRequestSpan } from './tracing.js';

/** Thrown by a query handler to answer with a typed error instead of a reply. */
export class QueryError extends Error {
  constructor(
    readonly code: QueryErrorCode,
    message: string,
    readonly details?: { path: string; message: string }[],
  ) {
    super(message);
    this.name = 'QueryError';
  }
}

export type QueryHandler<Q extends QuerySubject> = (
  request: QueryRequest<Q>,
  ctx: { log: Logger },
) => Promise<QueryReply<Q>>;
export type QueryHandlers = { [Q in QuerySubject]?: QueryHandler<Q> };

export interface ServeOptions {
  nc: NatsConnection;
  naming: Naming;
  service: string;
  log: Logger;
  metrics: KitMetrics;
  timeoutMs: number;
  maxRequestBytes: number;
}

/** Subscribe every handler in a queue group named after the service, so replicas share the load. */
export function serveQueries(handlers: QueryHandlers, opts: ServeOptions): Subscription[] {
  const subs: Subscription[] = [];
  for (const [subject, handler] of Object.entries(handlers) as [QuerySubject, QueryHandler<QuerySubject>][]) {
    subs.push(
      opts.nc.subscribe(opts.naming.subject(subject), {
        queue: opts.service,
        callback: (err, msg) => {
          if (err) {
            opts.log.error({ err: errorMessage(err), subject }, 'query subscription failed');
            return;
          }
          const span = startAnswerSpan(subject, msg.headers?.get('traceparent') || undefined, opts.service);
          if (!span) return void answer(subject, handler, msg, opts);
          void inSpan(span, () => answer(subject, handler, msg, opts, span)).finally(() => span.end());
        },
      }),
    );
  }
  return subs;
}

function respond(msg: Msg, response: QueryResponse): void {
  if (msg.reply) msg.respond(JSON.stringify(response));
}

async function answer(
  subject: QuerySubject,
  handler: QueryHandler<QuerySubject>,
  msg: Msg,
  opts: ServeOptions,
  span?: Span,
) {
  const started = process.hrtime.bigint();
  const log = opts.log.child({ query: subject });
  let outcome = 'ok';
  try {
    if (msg.data.length > opts.maxRequestBytes) {
      throw new QueryError(
        'invalid_request',
        `request is ${msg.data.length} bytes; the limit is ${opts.maxRequestBytes}`,
      );
    }
    let body: unknown;
    try {
      body = msg.data.length === 0 ? {} : JSON.parse(Buffer.from(msg.data).toString('utf8'));
    } catch (err) {
      throw new QueryError('invalid_request', `request is not JSON: ${errorMessage(err)}`);
    }
    const request = validateRequest(subject, body);
    if (!request.ok) throw new QueryError('invalid_request', `request breaks the ${subject} contract`, request.errors);
    const reply = await withTimeout(handler(request.value, { log }), opts.timeoutMs, `query ${subject}`);
    const checked = validateReply(subject, reply);
    if (!checked.ok) {
      log.error({ errors: checked.errors }, 'reply breaks its contract');
      throw new QueryError('internal', `the ${subject} reply broke its contract; see the responder's log`);
    }
    respond(msg, { ok: true, data: checked.value });
  } catch (err) {
    const error =
      err instanceof QueryError
        ? { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) }
        : err instanceof TimeoutError
          ? { code: 'timeout' as const, message: err.message }
          : { code: 'internal' as const, message: `internal error answering ${subject}; see the responder's log` };
    if (!(err instanceof QueryError)) log.error({ err }, 'query failed');
    outcome = error.code;
    failSpan(span, new Error(`${error.code}: ${error.message}`));
    respond(msg, { ok: false, error });
  } finally {
    opts.metrics.queries.inc({ subject, outcome });
    opts.metrics.queryDuration.observe({ subject }, Number(process.hrtime.bigint() - started) / 1e9);
  }
}

/** A failed request: the responder's error code, or `timeout` / `unavailable` (nobody answered). */
export class RequestFailedError extends Error {
  constructor(
    readonly subject: string,
    readonly code: QueryErrorCode,
    message: string,
    readonly details: { path: string; message: string }[] = [],
  ) {
    super(`${subject}: ${message}`);
    this.name = 'RequestFailedError';
  }
}

export interface RequestOptions {
  nc: NatsConnection;
  naming: Naming;
  timeoutMs: number;
}

export interface TracedRequestOptions {
  /** Milliseconds before the request times out. */
  timeout: number;
  /** The span's name; by default the subject (e.g. without the deployment prefix, as the kit's queries). */
  name?: string;
}

/**
 * `nc.request` with a CLIENT span while tracing is on, its traceparent in the request's `traceparent` header so
 * the answering side continues the trace; off, only the request. `read` (run in the span) turns the reply into what
 * the caller wants: what it throws (a reply that breaks a protocol) fails the span like a request that gets no
 * reply. The span ends when `read` is done.
 */
export async function tracedRequest<T = Msg>(
  nc: NatsConnection,
  subject: string,
  payload: Payload,
  opts: TracedRequestOptions,
  read: (msg: Msg) => T | Promise<T> = (msg) => msg as T,
): Promise<T> {
  const traced = startRequestSpan(opts.name ?? subject, subject);
  if (!traced) return read(await nc.request(subject, payload, { timeout: opts.timeout }));
  const headers = natsHeaders();
  headers.set('traceparent', traced.traceparent);
  try {
    return await inSpan(traced.span, async () =>
      read(await nc.request(subject, payload, { timeout: opts.timeout, headers })),
    );
  } catch (err) {
    failSpan(traced.span, err);
    throw err;
  } finally {
    traced.span.end();
  }
}

/**
 * Ask the owner of `subject`; the request and the reply are both validated against the contract. While tracing is
 * on, a CLIENT span whose traceparent rides in the request's headers (the answer's span is its child).
 */
export async function request<Q extends QuerySubject>(
  subject: Q,
  body: QueryRequest<Q>,
  opts: RequestOptions,
): Promise<QueryReply<Q>> {
  const checked = validateRequest(subject, body);
  if (!checked.ok)
    throw new RequestFailedError(subject, 'invalid_request', 'request breaks its contract', checked.errors);
  try {
    return await tracedRequest(
      opts.nc,
      opts.naming.subject(subject),
      JSON.stringify(body),
      { timeout: opts.timeoutMs, name: subject },
      (msg) => readReply(subject, msg),
    );
  } catch (err) {
    if (err instanceof RequestFailedError) throw err;
    if (err instanceof RequestError && err.isNoResponders()) {
      throw new RequestFailedError(subject, 'unavailable', 'no service is answering; is its owner running?');
    }
    if (err instanceof NatsTimeoutError || (err instanceof RequestError && err.cause instanceof NatsTimeoutError)) {
      throw new RequestFailedError(subject, 'timeout', `no reply within ${opts.timeoutMs} ms`);
    }
    throw new RequestFailedError(subject, 'unavailable', errorMessage(err));
  }
}

function readReply<Q extends QuerySubject>(subject: Q, msg: Msg): QueryReply<Q> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(msg.data).toString('utf8'));
  } catch {
    throw new RequestFailedError(subject, 'internal', 'reply is not JSON');
  }
  const response = validateQueryResponse(parsed);
  if (!response.ok) throw new RequestFailedError(subject, 'internal', 'reply is not a query response', response.errors);
  if (!response.value.ok) {
    const { code, message, details } = response.value.error;
    throw new RequestFailedError(subject, code, message, details);
  }
  const reply = validateReply(subject, response.value.data);
  if (!reply.ok) throw new RequestFailedError(subject, 'internal', 'reply breaks its contract', reply.errors);
  return reply.value;
}

/**
 * Keyset paging for `*.query.*` lists: the cursor is the sort key of the last item of a page (e.g. its
 * timestamp and id), opaque to the caller. `decodeCursor` refuses a cursor this service did not give out.
 */
export function encodeCursor(key: readonly string[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

export function decodeCursor(cursor: string, parts: number): string[] {
  try {
    const key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(key) && key.length === parts && key.every((k) => typeof k === 'string')) return key as string[];
  } catch {
    // not ours
  }
  throw new QueryError('invalid_request', 'cursor is not one this service gave out');
}
