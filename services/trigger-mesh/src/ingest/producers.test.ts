import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { authenticate, identifySentry, parseProducers, signBody } from './producers.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const file = `producers:
  - name: app
    bearer_sha256: ${sha('app-token-123456')}
  - name: relay
    hmac_secret_env: RELAY_KEY
`;

describe('producer credentials', () => {
  const producers = parseProducers(file, { RELAY_KEY: 'relay-key' });

  it('keep only hashes: of the bearer token, and of the HMAC key', () => {
    expect(producers.list.map((p) => [p.name, p.kind, p.credentialSha256])).toEqual([
      ['app', 'bearer', sha('app-token-123456')],
      ['relay', 'hmac', sha('relay-key')],
    ]);
  });

  it('recognise a bearer token and refuse an unknown one', () => {
    const ok = authenticate(producers, { authorization: 'Bearer app-token-123456' }, Buffer.from('{}'), Date.now());
    expect(ok).toMatchObject({ ok: true, producer: { name: 'app' } });
    expect(authenticate(producers, { authorization: 'Bearer nope-nope-nope' }, Buffer.from('{}'), Date.now())).toEqual({
      ok: false,
      reason: 'unknown bearer token',
    });
    expect(authenticate(producers, { authorization: 'Basic abc' }, Buffer.from('{}'), Date.now())).toEqual({
      ok: false,
      reason: 'Authorization must be "Bearer <token>"',
    });
  });

  it('check an HMAC signature over timestamp and body, and refuse a stale or tampered one', () => {
    const now = 1_800_000_000_000;
    const body = Buffer.from('{"a":1}');
    const headers = { 'x-grace-producer': 'relay', ...signBody('relay-key', body, now / 1000) };
    expect(authenticate(producers, headers, body, now)).toMatchObject({ ok: true, producer: { name: 'relay' } });
    expect(authenticate(producers, headers, Buffer.from('{"a":2}'), now)).toEqual({
      ok: false,
      reason: 'bad signature',
    });
    expect(authenticate(producers, headers, body, now + 301_000)).toMatchObject({ ok: false });
  });

  it('know a Sentry DSN key by its hash, from the query or X-Sentry-Auth, and only for its projects', () => {
    const sentry = parseProducers(
      `producers:\n  - name: shop\n    sentry_key_sha256: ${sha('dsn-public-key')}\n    projects:\n      "42": checkout\n`,
    );
    expect(identifySentry(sentry, {}, { sentry_key: 'dsn-public-key' }, '42')).toMatchObject({
      ok: true,
      producer: { name: 'shop', kind: 'sentry' },
    });
    const header = { 'x-sentry-auth': 'Sentry sentry_version=7, sentry_key=dsn-public-key, sentry_client=x/1' };
    expect(identifySentry(sentry, header, {}, '42')).toMatchObject({ ok: true });
    expect(identifySentry(sentry, header, {}, '43')).toEqual({
      ok: false,
      reason: 'the Sentry key of shop is not for project 43',
    });
    expect(identifySentry(sentry, {}, { sentry_key: 'other' }, '42')).toMatchObject({ ok: false });
    // A Sentry key is no bearer token.
    expect(authenticate(sentry, { authorization: 'Bearer dsn-public-key' }, Buffer.from(''), Date.now())).toMatchObject(
      {
        ok: false,
      },
    );
  });

  it('refuse a file with a missing HMAC key, a duplicate name or a malformed hash, saying where', () => {
    expect(() => parseProducers(file, {})).toThrow(
      'producers.1: environment variable RELAY_KEY (HMAC key of relay) is not set',
    );
    expect(() => parseProducers(`${file}  - name: app\n    bearer_sha256: ${sha('x')}\n`, { RELAY_KEY: 'k' })).toThrow(
      'producers.2.name: "app" is listed twice',
    );
    expect(() => parseProducers('producers:\n  - name: app\n    bearer_sha256: abc\n')).toThrow(/producers\.0/);
  });

  it('ship an example file that loads', () => {
    const example = readFileSync(fileURLToPath(new URL('../../producers.example.yaml', import.meta.url)), 'utf8');
    expect(parseProducers(example, {}).list.map((p) => p.name)).toEqual(['local-dev']);
  });
});
