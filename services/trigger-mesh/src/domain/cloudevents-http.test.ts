// Tests of the CloudEvents 1.0 HTTP binding and JSON event format as ingest reads them.
import { describe, expect, it } from '@jest/globals';
import {
  binaryEvent,
  binaryPath,
  BindingError,
  contentModeOf,
  decodeHeaderValue,
  isJsonMediaType,
  normalizeEvent,
  parseEventFormatBody,
  parseMediaType,
} from './cloudevents-http.js';

const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const bindingError = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    if (err instanceof BindingError) return { status: err.status, message: err.message };
    throw err;
  }
  throw new Error('no BindingError');
};

describe('media types', () => {
  it('parses the essence in lower case and the parameters, quoted ones unquoted', () => {
    expect(parseMediaType('Application/JSON; Charset="UTF-8" ;q=1')).toEqual({
      essence: 'application/json',
      type: 'application',
      subtype: 'json',
      params: { charset: 'UTF-8', q: '1' },
    });
    expect(parseMediaType('application/json;')).toMatchObject({ essence: 'application/json', params: {} });
    expect(parseMediaType(undefined)).toBeUndefined();
    expect(parseMediaType('json')).toBeUndefined();
    expect(parseMediaType('application/json; charset')).toBeUndefined();
  });

  it('takes */json and */*+json as JSON, whatever the parameters, and nothing else', () => {
    const isJson = (t: string) => isJsonMediaType(parseMediaType(t)!);
    for (const t of ['application/json', 'application/json; charset=utf-8', 'text/json', 'application/problem+json']) {
      expect(isJson(t)).toBe(true);
    }
    for (const t of ['text/plain', 'application/jsonl', 'application/json-seq', 'application/octet-stream']) {
      expect(isJson(t)).toBe(false);
    }
  });
});

describe('content modes', () => {
  it('follows the Content-Type first (batched, structured), then the ce-* headers (binary)', () => {
    expect(contentModeOf({ 'content-type': 'application/cloudevents-batch+json' })).toBe('batch');
    expect(contentModeOf({ 'content-type': 'application/cloudevents+json; charset=UTF-8' })).toBe('structured');
    // Structured mode MAY repeat the attributes as headers; the body is what counts.
    expect(contentModeOf({ 'content-type': 'application/cloudevents+json', 'ce-specversion': '1.0' })).toBe(
      'structured',
    );
    expect(contentModeOf({ 'content-type': 'application/json', 'ce-specversion': '1.0' })).toBe('binary');
    // A binary-mode request that forgot ce-specversion is refused for it, not taken as plain data.
    expect(contentModeOf({ 'content-type': 'application/json', 'ce-id': '1' })).toBe('binary');
    expect(contentModeOf({ 'content-type': 'application/json', 'ce-traceparent': 'x' })).toBe('plain');
    expect(contentModeOf({})).toBe('plain');
  });

  it('reads structured and batched bodies as JSON, refusing other event formats and charsets with 415', () => {
    expect(
      parseEventFormatBody('structured', { 'content-type': 'application/cloudevents+json' }, json({ a: 1 })),
    ).toEqual({ a: 1 });
    expect(
      parseEventFormatBody('batch', { 'content-type': 'application/cloudevents-batch+json; charset=utf-8' }, json([])),
    ).toEqual([]);
    expect(
      bindingError(() =>
        parseEventFormatBody('structured', { 'content-type': 'application/cloudevents+avro' }, Buffer.alloc(1)),
      ),
    ).toEqual({
      status: 415,
      message: 'the event format "application/cloudevents+avro" is not supported: send application/cloudevents+json',
    });
    expect(
      bindingError(() =>
        parseEventFormatBody(
          'structured',
          { 'content-type': 'application/cloudevents+json; charset=latin1' },
          json({}),
        ),
      ),
    ).toEqual({ status: 415, message: 'a application/cloudevents+json body must be UTF-8 JSON (got charset=latin1)' });
    expect(
      bindingError(() =>
        parseEventFormatBody('structured', { 'content-type': 'application/cloudevents+json' }, Buffer.from('{')),
      ),
    ).toMatchObject({ status: 400, message: expect.stringMatching(/^body is not JSON: /) });
  });
});

describe('binary-mode header values', () => {
  it('percent-decodes UTF-8, upper- or lower-case, and accepts needless encoding', () => {
    expect(decodeHeaderValue('Euro%20%E2%82%AC%20%F0%9F%98%80')).toEqual({ ok: true, value: 'Euro € 😀' });
    expect(decodeHeaderValue('caf%c3%a9')).toEqual({ ok: true, value: 'café' });
    expect(decodeHeaderValue('%41%42C')).toEqual({ ok: true, value: 'ABC' });
    expect(decodeHeaderValue('100%25')).toEqual({ ok: true, value: '100%' });
    expect(decodeHeaderValue('plain/value-1')).toEqual({ ok: true, value: 'plain/value-1' });
  });

  it('unescapes a double-quoted string before percent-decoding (older senders)', () => {
    expect(decodeHeaderValue('"a \\"quoted\\" value %25"')).toEqual({ ok: true, value: 'a "quoted" value %' });
    expect(decodeHeaderValue('"unterminated')).toEqual({
      ok: false,
      reason: 'has a quoted string without its closing double quote',
    });
  });

  it('takes raw UTF-8 bytes that Node read as Latin-1 as the characters they are', () => {
    expect(decodeHeaderValue(Buffer.from('café', 'utf8').toString('latin1'))).toEqual({ ok: true, value: 'café' });
  });

  it('refuses broken percent-encoding, invalid or overlong UTF-8 and control characters', () => {
    expect(decodeHeaderValue('100%')).toEqual({
      ok: false,
      reason: 'has a "%" not followed by two hex digits (send "%" itself as %25)',
    });
    expect(decodeHeaderValue('%zz')).toMatchObject({ ok: false });
    expect(decodeHeaderValue('%C0%A0')).toEqual({ ok: false, reason: 'is not valid UTF-8 once percent-decoded' });
    expect(decodeHeaderValue('%E2%82')).toEqual({ ok: false, reason: 'is not valid UTF-8 once percent-decoded' });
    expect(decodeHeaderValue('line%0Abreak')).toEqual({
      ok: false,
      reason: 'holds a control character, which no CloudEvents attribute may',
    });
  });
});

describe('binary-mode events', () => {
  const headers = {
    'ce-specversion': '1.0',
    'ce-id': 'order%2F42',
    'ce-source': '/checkout/web',
    'ce-type': 'error.reported',
    'ce-time': '2026-11-25T10:00:00Z',
    'ce-subject': 'caf%C3%A9%20order',
    'ce-tenant': 'acme',
    'content-type': 'application/json; charset=utf-8',
    authorization: 'Bearer not-an-attribute',
  };

  it('maps ce-* headers to attributes, the Content-Type to datacontenttype and the body to data', () => {
    expect(binaryEvent(headers, json({ kind: 'X' }))).toEqual({
      event: {
        specversion: '1.0',
        id: 'order/42',
        source: '/checkout/web',
        type: 'error.reported',
        time: '2026-11-25T10:00:00Z',
        subject: 'café order',
        tenant: 'acme',
        datacontenttype: 'application/json; charset=utf-8',
        data: { kind: 'X' },
      },
      errors: [],
    });
  });

  it('reads header names case-insensitively and an empty body as an event without data', () => {
    const { event } = binaryEvent(
      { 'CE-SpecVersion': '1.0', 'Ce-Id': '1', 'content-type': 'text/json' },
      Buffer.alloc(0),
    );
    expect(event).toEqual({ specversion: '1.0', id: '1', datacontenttype: 'text/json' });
    expect(binaryEvent({ 'ce-specversion': '1.0' }, Buffer.alloc(0)).event).toEqual({ specversion: '1.0' });
  });

  it('names the header of every attribute it cannot take', () => {
    const { errors } = binaryEvent(
      {
        ...headers,
        'ce-id': ['1', '2'],
        'ce-datacontenttype': 'application/json',
        'ce-data': '{}',
        'ce-data_base64': 'eyJ9',
        'ce-averyveryverylongname1': 'x',
        'ce-source': '100%',
      },
      json({}),
    );
    expect(errors).toEqual([
      { path: 'ce-id', message: 'is sent 2 times; an attribute is one header' },
      { path: 'ce-source', message: 'has a "%" not followed by two hex digits (send "%" itself as %25)' },
      { path: 'ce-datacontenttype', message: 'must not be sent: in binary mode the Content-Type is datacontenttype' },
      { path: 'ce-data', message: 'is not an attribute: in binary mode the body is the data' },
      {
        path: 'ce-data_base64',
        message:
          'names "data_base64", which is not a CloudEvents attribute name (lower-case letters a-z and digits only)',
      },
      {
        path: 'ce-averyveryverylongname1',
        message: 'names "averyveryverylongname1", which is not accepted: attribute names are at most 20 characters',
      },
    ]);
  });

  it('refuses data that is not JSON with 415, and JSON that does not parse with 400', () => {
    expect(bindingError(() => binaryEvent({ ...headers, 'content-type': 'text/plain' }, Buffer.from('hi')))).toEqual({
      status: 415,
      message:
        'binary-mode data must be JSON: Content-Type "text/plain" is not application/json, text/json or a +json type',
    });
    const { 'content-type': _omitted, ...untyped } = headers;
    expect(bindingError(() => binaryEvent(untyped, Buffer.from('{}')))).toEqual({
      status: 415,
      message: 'binary-mode data needs a Content-Type: send it as JSON (application/json, text/json or a +json type)',
    });
    expect(
      bindingError(() => binaryEvent({ ...headers, 'content-type': 'application/json; charset=utf-16' }, json({}))),
    ).toEqual({ status: 415, message: 'binary-mode data must be UTF-8 JSON (got charset=utf-16)' });
    expect(bindingError(() => binaryEvent(headers, Buffer.from('{"kind":')))).toMatchObject({
      status: 400,
      message: expect.stringMatching(/^body is not JSON: /),
    });
  });

  it('names the header of an attribute path', () => {
    expect(binaryPath('type')).toBe('ce-type');
    expect(binaryPath('datacontenttype')).toBe('content-type');
    expect(binaryPath('data.severity')).toBe('data.severity');
    expect(binaryPath('')).toBe('');
  });
});

describe('JSON-format events made ready for the Grace envelope', () => {
  const event = {
    specversion: '1.0',
    id: 'A-1',
    source: '/checkout',
    type: 'error.reported',
    data: { kind: 'X' },
  };

  it('implies and normalises a JSON datacontenttype to application/json', () => {
    for (const declared of [undefined, 'application/json; charset=utf-8', 'text/json', 'application/vnd.acme+json']) {
      expect(normalizeEvent({ ...event, datacontenttype: declared })).toEqual({
        event: { ...event, datacontenttype: 'application/json' },
        errors: [],
      });
    }
  });

  it('treats null attributes as unset but keeps a null payload', () => {
    expect(normalizeEvent({ ...event, time: null, subject: null, data: null }).event).toEqual({
      ...event,
      datacontenttype: 'application/json',
      data: null,
    });
  });

  it('refuses data_base64, another specversion and non-JSON data with the reason', () => {
    expect(normalizeEvent({ ...event, data: undefined, data_base64: 'aGk=' }).errors).toEqual([
      { path: 'data_base64', message: 'data_base64 is not supported: send data as JSON' },
    ]);
    expect(
      normalizeEvent({ ...event, data: undefined, datacontenttype: 'application/octet-stream', data_base64: 'aGk=' })
        .errors,
    ).toEqual([{ path: 'data_base64', message: 'data_base64 is not supported: send data as JSON' }]);
    expect(normalizeEvent({ ...event, specversion: '0.3' }).errors).toEqual([
      { path: 'specversion', message: 'specversion "0.3" is not supported: send CloudEvents 1.0' },
    ]);
    expect(normalizeEvent({ ...event, specversion: undefined }).errors).toEqual([
      { path: 'specversion', message: 'is required' },
    ]);
    expect(normalizeEvent({ ...event, datacontenttype: 'text/xml' }).errors).toEqual([
      {
        path: 'datacontenttype',
        message: '"text/xml" is not supported: data must be JSON (application/json, text/json or a +json type)',
      },
    ]);
    expect(normalizeEvent([event]).errors).toEqual([{ path: '', message: 'is not a CloudEvent (a JSON object)' }]);
  });

  it('checks extension attribute names and values', () => {
    expect(normalizeEvent({ ...event, tenant: 'acme', priority: 3, urgent: true }).event).toMatchObject({
      tenant: 'acme',
      priority: 3,
      urgent: true,
    });
    expect(
      normalizeEvent({ ...event, Tenant: 'a', 'x-b': 'b', abcdefghijklmnopqrstu: 'c', nested: { a: 1 } }).errors,
    ).toEqual([
      {
        path: 'Tenant',
        message: '"Tenant" is not a CloudEvents attribute name (lower-case letters a-z and digits only)',
      },
      { path: 'x-b', message: '"x-b" is not a CloudEvents attribute name (lower-case letters a-z and digits only)' },
      {
        path: 'abcdefghijklmnopqrstu',
        message: '"abcdefghijklmnopqrstu" is not accepted: attribute names are at most 20 characters',
      },
      { path: 'nested', message: 'an extension attribute holds a string, a number or a boolean' },
    ]);
  });
});
