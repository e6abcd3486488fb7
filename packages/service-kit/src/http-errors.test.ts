import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidInputError } from './errors.js';
import { HttpError, httpErrorOf, jsonErrorHandler, MAX_ERROR_DETAILS } from './http-errors.js';
import type { Logger } from './logger.js';

// body-parser's errors as it makes them (http-errors: status, statusCode, expose, type, and limit for the size).
const bodyParserError = (status: number, type: string, message: string, extra: object = {}) =>
  Object.assign(new Error(message), { status, statusCode: status, expose: status < 500, type, ...extra });

describe('HttpError and httpErrorOf', () => {
  it('keeps an HttpError as it is, and answers it as { error, message, details? }', () => {
    const err = new HttpError(400, 'invalid_request', 'the query is not valid', {
      details: [{ path: 'limit', message: 'must be <= 500' }],
    });
    expect(httpErrorOf(err)).toBe(err);
    expect(err.toBody()).toEqual({
      error: 'invalid_request',
      message: 'the query is not valid',
      details: [{ path: 'limit', message: 'must be <= 500' }],
    });
    expect(new HttpError(404, 'not_found', 'no such thing', { details: [] }).toBody()).toEqual({
      error: 'not_found',
      message: 'no such thing',
    });
    const many = Array.from({ length: 500 }, (_, i) => ({ path: String(i), message: 'is required' }));
    expect(new HttpError(400, 'invalid_request', 'x', { details: many }).toBody().details).toHaveLength(
      MAX_ERROR_DETAILS,
    );
  });

  it("maps the kit's invalid input and body-parser's errors, and says nothing of an error it cannot explain", () => {
    expect(httpErrorOf(new InvalidInputError('bad', [{ path: 'a', message: 'is required' }])).toBody()).toEqual({
      error: 'invalid_request',
      message: 'bad',
      details: [{ path: 'a', message: 'is required' }],
    });
    const tooLarge = httpErrorOf(
      bodyParserError(413, 'entity.too.large', 'request entity too large', { limit: 65536 }),
    );
    expect([tooLarge.status, tooLarge.toBody()]).toEqual([
      413,
      { error: 'too_large', message: 'the body is larger than 65536 bytes' },
    ]);
    const notJson = httpErrorOf(bodyParserError(400, 'entity.parse.failed', 'Unexpected token } in JSON'));
    expect([notJson.status, notJson.toBody()]).toEqual([
      400,
      { error: 'invalid_request', message: 'the body is not valid JSON' },
    ]);
    const charset = httpErrorOf(bodyParserError(415, 'charset.unsupported', 'unsupported charset "LATIN-9"'));
    expect([charset.status, charset.toBody()]).toEqual([
      415,
      { error: 'invalid_request', message: 'unsupported charset "LATIN-9"' },
    ]);
    for (const err of [
      new Error('connect ECONNREFUSED 10.0.0.7:5432 password=hunter2'),
      bodyParserError(500, 'stream.encoding.set', 'stream encoding should not be set'),
      'a string',
      undefined,
    ]) {
      const answer = httpErrorOf(err);
      expect([answer.status, answer.toBody()]).toEqual([
        500,
        { error: 'internal', message: 'something went wrong on our side; it is logged' },
      ]);
    }
  });
});

describe('jsonErrorHandler', () => {
  const logged: { obj: Record<string, unknown>; msg: string }[] = [];
  const log = { error: (obj: Record<string, unknown>, msg: string) => logged.push({ obj, msg }) } as unknown as Logger;
  const handler = jsonErrorHandler(log);
  const thrown = new Map<string, unknown>([
    [
      '/retry',
      new HttpError(503, 'unavailable', 'the event bus did not accept the events; retry later', {
        headers: { 'Retry-After': '5' },
      }),
    ],
    ['/crash', new Error('relation "secrets" does not exist')],
  ]);
  let server: Server;
  let base: string;

  beforeAll(async () => {
    // No express: node's request and response are all the handler needs.
    server = createServer((req, res) => handler(thrown.get((req.url ?? '').split('?')[0]!), req, res, () => undefined));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('is an error middleware to express: four parameters', () => {
    expect(handler).toHaveLength(4);
  });

  it('answers an HttpError with its status, headers and the one JSON shape, without logging it', async () => {
    const res = await fetch(`${base}/retry`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await res.json()).toEqual({
      error: 'unavailable',
      message: 'the event bus did not accept the events; retry later',
    });
    expect(logged).toEqual([]);
  });

  it('answers any other error 500 without a word of it, and logs it with the request', async () => {
    const res = await fetch(`${base}/crash?token=abc`);
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ error: 'internal', message: 'something went wrong on our side; it is logged' });
    expect(text).not.toContain('secrets');
    expect(logged).toEqual([
      { obj: { err: thrown.get('/crash'), method: 'GET', path: '/crash' }, msg: 'request failed' },
    ]);
  });
});
