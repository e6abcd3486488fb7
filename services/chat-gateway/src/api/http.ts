// The HTTP plumbing of the API: request validation against the contracts (ajv), body hardening (size, UTF-8,
// depth), authentication and role guards, and the mapping of NATS request failures to statuses. Errors are the
// kit's HttpError, answered by its jsonErrorHandler.
import { describeErrors, validateSchema } from '@grace/contracts';
import { HttpError, type RequestFailedError } from '@grace/service-kit';
import type { TSchema } from '@sinclair/typebox';
import type { NextFunction, Request, Response } from 'express';
import { isUtf8 } from 'node:buffer';
import { AuthError, hasRole, type Principal, type Role } from '../domain/auth.js';

export const READERS: readonly Role[] = ['viewer', 'operator', 'approver', 'admin'];
export const OPERATORS: readonly Role[] = ['operator', 'admin'];
export const APPROVERS: readonly Role[] = ['approver', 'admin'];
export const ADMINS: readonly Role[] = ['admin'];

/** Deepest JSON accepted in a body: deeper nesting is an attack, not a request. */
const MAX_DEPTH = 32;

function depthOf(value: unknown, depth = 0): number {
  if (depth > MAX_DEPTH || value === null || typeof value !== 'object') return depth;
  let deepest = depth;
  for (const child of Object.values(value as Record<string, unknown>)) {
    deepest = Math.max(deepest, depthOf(child, depth + 1));
    if (deepest > MAX_DEPTH) break;
  }
  return deepest;
}

/** body-parser's `verify`: refuse bytes that are not UTF-8 before they are decoded. */
export function requireUtf8(_req: Request, _res: Response, body: Buffer): void {
  if (!isUtf8(body)) throw new HttpError(400, 'invalid_request', 'the body is not valid UTF-8');
}

/** Validate a value against a contract schema; 400 with every problem and its path otherwise. */
export function check<T>(schema: TSchema, value: unknown, what: string): T {
  if (depthOf(value) > MAX_DEPTH) throw new HttpError(400, 'invalid_request', `${what} is nested too deeply`);
  const result = validateSchema<T>(schema, value);
  if (!result.ok)
    throw new HttpError(400, 'invalid_request', `${what} is not valid: ${describeErrors(result.errors)}`, {
      details: result.errors,
    });
  return result.value;
}

// Control characters other than tab, newline and carriage return, and NUL: never part of a message a person typed.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/;

// A tag (<script>, <img ...>, </b>, <!-- ...): a chat message is plain text, never markup.
const MARKUP = /<\s*[/!]?\s*[a-z][^>]*>|<!--/i;

export function checkText(text: string, what: string, options: { plain?: boolean } = {}): string {
  if (CONTROL.test(text)) throw new HttpError(400, 'invalid_request', `${what} holds control characters`);
  if (options.plain && MARKUP.test(text))
    throw new HttpError(400, 'invalid_request', `${what} holds markup; write plain text`);
  return text;
}

/** Query-string values as the contract types them: numbers, booleans and comma lists where the schema says so. */
export function queryObject(query: Request['query'], types: Record<string, 'number' | 'boolean' | 'list'> = {}) {
  const out: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(query)) {
    if (typeof raw !== 'string') throw new HttpError(400, 'invalid_request', `query parameter ${key} is given twice`);
    const type = types[key];
    if (type === 'number') out[key] = raw.trim() === '' ? raw : Number(raw);
    else if (type === 'boolean') out[key] = raw === 'true' ? true : raw === 'false' ? false : raw;
    else if (type === 'list') out[key] = raw.split(',').filter(Boolean);
    else out[key] = raw;
  }
  return out;
}

export interface Authenticated {
  principal: Principal;
}

export const principalOf = (res: Response): Principal => (res.locals as Authenticated).principal;

/** Bearer authentication; `verify` turns a token into a principal or throws AuthError. */
export function authenticate(verify: (token: string) => Promise<Principal>, remember: (p: Principal) => void) {
  return async (req: Request, res: Response, next: NextFunction) => {
    const header = req.headers.authorization;
    if (!header) throw new HttpError(401, 'unauthorized', 'send a token: Authorization: Bearer <token>');
    const match = /^Bearer ([A-Za-z0-9_=-]+\.[A-Za-z0-9_=-]*\.[A-Za-z0-9_=+/-]*)$/.exec(header);
    if (!match) throw new HttpError(401, 'unauthorized', 'the Authorization header is not "Bearer <JWT>"');
    try {
      (res.locals as Authenticated).principal = await verify(match[1]!);
    } catch (err) {
      if (err instanceof AuthError) throw new HttpError(401, 'unauthorized', err.message);
      throw err;
    }
    remember(principalOf(res));
    next();
  };
}

export function allow(roles: readonly Role[]) {
  return (_req: Request, res: Response, next: NextFunction) => {
    const principal = principalOf(res);
    if (!hasRole(principal, roles))
      throw new HttpError(
        403,
        'forbidden',
        `this needs one of the roles ${roles.join(', ')}; you have ${principal.roles.join(', ')}`,
      );
    next();
  };
}

// Postgres not answering in time or going away (pool wait exceeded, connection refused or ended, server shutting
// down, too many connections, statement timeout): the client may retry, so a 503 and not a 500.
const DATABASE_UNAVAILABLE_CODES = new Set(['57P01', '57P02', '57P03', '53300', '57014', 'ECONNREFUSED', 'ECONNRESET']);

export function databaseUnavailable(err: unknown): boolean {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (DATABASE_UNAVAILABLE_CODES.has(code) || /^08/.test(code))) return true;
  return typeof message === 'string' && /timeout exceeded when trying to connect|Connection terminated/.test(message);
}

/** A failed request to another service, as the API answers it. */
export function fromRequestFailure(err: RequestFailedError): HttpError {
  const status =
    err.code === 'not_found'
      ? 404
      : err.code === 'invalid_request'
        ? 400
        : err.code === 'conflict'
          ? 409
          : err.code === 'forbidden'
            ? 403
            : err.code === 'timeout'
              ? 504
              : 503;
  return new HttpError(status, err.code, err.message, { details: err.details, cause: err });
}
