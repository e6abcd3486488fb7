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

  it('keep a Sentry key as its hash with its projects, and identify it whichever way an SDK sends it', () => {
    const sentry = parseProducers(
      `producers:\n  - name: shop\n    sentry_key_sha256: ${sha('k1')}\n    service: shop\n    projects:\n      "42": checkout\n      "43": search\n  - name: any\n    sentry_key_sha256: ${sha('k2')}\n    service: legacy\n`,
    );
    expect(sentry.list.map((p) => [p.name, p.kind, p.credentialSha256, p.service])).toEqual([
      ['shop', 'sentry', sha('k1'), 'shop'],
      ['any', 'sentry', sha('k2'), 'legacy'],
    ]);
    expect([...sentry.list[0]!.sentryProjects!]).toEqual([
      ['42', 'checkout'],
      ['43', 'search'],
    ]);
    // Without `projects`, any project.
    expect(identifySentry(sentry, {}, { sentry_key: 'k2' }, '9999')).toMatchObject({
      ok: true,
      producer: { name: 'any' },
    });
    // Some clients put it in Authorization; the query wins over a header.
    expect(identifySentry(sentry, { authorization: 'Sentry sentry_key=k1,sentry_version=7' }, {}, '43')).toMatchObject({
      ok: true,
      producer: { name: 'shop' },
    });
    expect(
      identifySentry(sentry, { 'x-sentry-auth': 'Sentry sentry_key=k1' }, { sentry_key: 'k2' }, '1'),
    ).toMatchObject({
      ok: true,
      producer: { name: 'any' },
    });
    expect(identifySentry(sentry, { 'x-sentry-auth': 'Sentry sentry_version=7' }, {}, '42')).toEqual({
      ok: false,
      reason: "no Sentry key: send the DSN's public key as sentry_key or in X-Sentry-Auth",
    });
    expect(identifySentry(sentry, {}, { sentry_key: 'k3' }, '42')).toEqual({
      ok: false,
      reason: 'unknown Sentry key (the public key of the DSN)',
    });
    // A Sentry key identifies nothing on Grace's own routes, nor a bearer token on the Sentry ones.
    expect(identifySentry(producers, { authorization: 'Bearer app-token-123456' }, {}, '42')).toMatchObject({
      ok: false,
    });
  });

  it('refuse a Sentry entry that is malformed, ambiguous, or has a key listed twice, saying where', () => {
    const entry = (lines: string) => `producers:\n  - name: s\n    sentry_key_sha256: ${sha('k')}\n${lines}`;
    expect(() => parseProducers('producers:\n  - name: s\n    sentry_key_sha256: abc\n')).toThrow(
      'producers.0.sentry_key_sha256: must match pattern "^[0-9a-f]{64}$"',
    );
    expect(() => parseProducers(entry('    projects:\n      checkout: checkout\n'))).toThrow(
      'producers.0.projects.checkout: is not an allowed property',
    );
    expect(() => parseProducers(entry('    projects: {}\n'))).toThrow(
      'producers.0.projects: must NOT have fewer than 1 properties',
    );
    expect(() => parseProducers(entry('    projects:\n      "42": ""\n'))).toThrow(
      'producers.0.projects.42: must NOT have fewer than 1 characters',
    );
    expect(() => parseProducers(entry(`    bearer_sha256: ${sha('t')}\n`))).toThrow(
      'producers.0: needs exactly one of bearer_sha256, hmac_secret_env, sentry_key_sha256 (has 2)',
    );
    expect(() => parseProducers(entry(`  - name: t\n    sentry_key_sha256: ${sha('k')}\n`))).toThrow(
      'producers.1.sentry_key_sha256: the same Sentry key as s',
    );
  });

  it('ship an example file that loads', () => {
    const example = readFileSync(fileURLToPath(new URL('../../producers.example.yaml', import.meta.url)), 'utf8');
    expect(parseProducers(example, {}).list.map((p) => p.name)).toEqual(['local-dev']);
  });
});
