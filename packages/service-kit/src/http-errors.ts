// The one error shape of every Grace HTTP API, and the error middleware that answers with it:
//
//   { "error": "<stable code>", "message": "<a reason for a human>", "details": [{ "path", "message" }]? }
//
// (the shape of the gateway's published contract, `gateway.ApiError`, that the console reads). A request that is
// wrong is `invalid_request`, whatever is wrong with it. Written against node:http's types, which an express
// Request and Response extend, so the kit needs no express.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { InvalidInputError } from './errors.js';
import type { Logger } from './logger.js';

/** One problem with a request and where it is (`limit`, `1.severity`; '' for the body itself). */
export interface HttpErrorDetail {
  path: string;
  message: string;
}

/** The body of every error answer. */
export interface HttpErrorBody {
  /** A stable code: invalid_request, unauthorized, forbidden, not_found, too_large, unavailable, internal, ... */
  error: string;
  message: string;
  details?: HttpErrorDetail[];
}

/** At most this many details in one answer: enough for a batch of 100 events, a bounded body whatever comes in. */
export const MAX_ERROR_DETAILS = 200;

export interface HttpErrorOptions {
  /** Every problem and its path (validation errors). */
  details?: readonly HttpErrorDetail[];
  /** Headers to answer with, e.g. `{ 'Retry-After': '5' }` or `{ 'WWW-Authenticate': 'Bearer' }`. */
  headers?: Readonly<Record<string, string>>;
  cause?: unknown;
}

/** An error answered as HTTP: its status, a stable code, a reason for a human, and optionally details and headers. */
export class HttpError extends Error {
  readonly details: readonly HttpErrorDetail[];
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    options: HttpErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HttpError';
    this.details = options.details ?? [];
    this.headers = options.headers ?? {};
  }

  toBody(): HttpErrorBody {
    return {
      error: this.code,
      message: this.message,
      ...(this.details.length > 0 ? { details: this.details.slice(0, MAX_ERROR_DETAILS) } : {}),
    };
  }
}

const INTERNAL_MESSAGE = 'something went wrong on our side; it is logged';

/**
 * What an error is answered as. HttpError as it is; the kit's InvalidInputError as 400 with its errors; the body
 * parser's errors (express.json, express.raw): too large 413 `too_large`, not JSON 400, any other 4xx 400-499
 * `invalid_request`; anything else 500 `internal`, which says nothing of the error itself.
 */
export function httpErrorOf(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof InvalidInputError)
    return new HttpError(400, 'invalid_request', err.message, { details: err.errors, cause: err });
  const { status, statusCode, type, limit, message } = (err ?? {}) as {
    status?: unknown;
    statusCode?: unknown;
    type?: unknown;
    limit?: unknown;
    message?: unknown;
  };
  if (type === 'entity.too.large') {
    const over = typeof limit === 'number' ? `larger than ${limit} bytes` : 'too large';
    return new HttpError(413, 'too_large', `the body is ${over}`, { cause: err });
  }
  if (type === 'entity.parse.failed')
    return new HttpError(400, 'invalid_request', 'the body is not valid JSON', { cause: err });
  const code = typeof status === 'number' ? status : typeof statusCode === 'number' ? statusCode : undefined;
  if (code !== undefined && Number.isInteger(code) && code >= 400 && code < 500) {
    const reason = typeof message === 'string' && message ? message.slice(0, 256) : 'the request is not valid';
    return new HttpError(code, 'invalid_request', reason, { cause: err });
  }
  return new HttpError(500, 'internal', INTERNAL_MESSAGE, { cause: err });
}

/** Answer with the error as JSON, unless an answer has already begun (then there is nothing left to say). */
export function sendHttpError(res: ServerResponse, err: HttpError): void {
  if (res.headersSent) return;
  const text = JSON.stringify(err.toBody());
  for (const [name, value] of Object.entries(err.headers)) res.setHeader(name, value);
  res.statusCode = err.status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(text));
  res.end(text);
}

/** An express error-handling middleware (four parameters, so express knows it as one). */
export type JsonErrorHandler = (
  err: unknown,
  req: IncomingMessage,
  res: ServerResponse,
  next: (err?: unknown) => void,
) => void;

/**
 * The last middleware of an express app: every error it is given is answered as `{ error, message, details? }`
 * (see httpErrorOf), synchronously. An error it cannot explain is logged with the request and answered 500
 * without a word of it.
 */
export function jsonErrorHandler(log: Logger): JsonErrorHandler {
  return (err, req, res, _next) => {
    const answer = httpErrorOf(err);
    if (answer.status >= 500 && !(err instanceof HttpError))
      log.error({ err, method: req.method, path: req.url?.split('?')[0] }, 'request failed');
    sendHttpError(res, answer);
  };
}
