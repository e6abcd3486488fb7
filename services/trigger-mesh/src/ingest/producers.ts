// Producer credentials for HTTP ingest: bearer tokens (kept only as sha256) or HMAC-signed bodies.
import { validateSchema } from '@grace/contracts';
import { Type, type Static } from '@sinclair/typebox';
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { parse as parseYaml } from 'yaml';

const ProducerName = Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{0,63}$' });

const BearerProducer = Type.Object(
  {
    name: ProducerName,
    bearer_sha256: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'sha256 (hex) of the bearer token' }),
    service: Type.Optional(Type.String({ maxLength: 128, description: 'default service for its events' })),
  },
  { additionalProperties: false },
);

const HmacProducer = Type.Object(
  {
    name: ProducerName,
    hmac_secret_env: Type.String({
      pattern: '^[A-Z_][A-Z0-9_]*$',
      description: 'the environment variable holding the HMAC-SHA256 key',
    }),
    service: Type.Optional(Type.String({ maxLength: 128 })),
  },
  { additionalProperties: false },
);

const SentryProducer = Type.Object(
  {
    name: ProducerName,
    sentry_key_sha256: Type.String({
      pattern: '^[0-9a-f]{64}$',
      description: "sha256 (hex) of the DSN's public key: the SDKs' DSN is http://<key>@<host>/<project>",
    }),
    projects: Type.Optional(
      Type.Record(Type.String({ pattern: '^[0-9]{1,20}$' }), Type.String({ minLength: 1, maxLength: 128 }), {
        description:
          'the Sentry project ids (digits) this key may send for, each with the service its events count for; ' +
          'omitted: any project, for `service`',
        additionalProperties: false,
        minProperties: 1,
        maxProperties: 1_000,
      }),
    ),
    service: Type.Optional(Type.String({ maxLength: 128 })),
  },
  { additionalProperties: false },
);

export const ProducersFile = Type.Object(
  { producers: Type.Array(Type.Union([BearerProducer, HmacProducer, SentryProducer]), { maxItems: 1_000 }) },
  { additionalProperties: false },
);
export type ProducersFile = Static<typeof ProducersFile>;

export interface Producer {
  name: string;
  kind: 'bearer' | 'hmac' | 'sentry';
  /** sha256 of the bearer token, or of the HMAC key (recorded, never the key itself). */
  credentialSha256: string;
  hmacKey?: Buffer;
  service?: string;
  /** A Sentry key's projects (id -> service); none: any project, counted for `service`. */
  sentryProjects?: ReadonlyMap<string, string>;
}

export interface Producers {
  list: Producer[];
  byBearerHash: Map<string, Producer>;
  bySentryKeyHash: Map<string, Producer>;
  byName: Map<string, Producer>;
}

export const NO_PRODUCERS: Producers = {
  list: [],
  byBearerHash: new Map(),
  bySentryKeyHash: new Map(),
  byName: new Map(),
};

/** Each kind of producer is known by its credential field. */
const KINDS = [
  ['bearer_sha256', BearerProducer],
  ['hmac_secret_env', HmacProducer],
  ['sentry_key_sha256', SentryProducer],
] as const;

/**
 * The errors of a file that fails, entry by entry against the schema of the kind each entry names (the union's
 * own errors list every kind's complaints); undefined when the file is not a list of entries.
 */
function entryErrors(raw: unknown): { path: string; message: string }[] | undefined {
  const entries = (raw as { producers?: unknown } | null)?.producers;
  if (!Array.isArray(entries)) return undefined;
  const errors = entries.flatMap((entry: unknown, i) => {
    if (entry === null || typeof entry !== 'object') return [{ path: `producers.${i}`, message: 'must be an object' }];
    const kinds = KINDS.filter(([key]) => key in entry);
    if (kinds.length !== 1)
      return [
        {
          path: `producers.${i}`,
          message: `needs exactly one of ${KINDS.map(([key]) => key).join(', ')} (has ${kinds.length})`,
        },
      ];
    const checked = validateSchema(kinds[0]![1], entry);
    return checked.ok
      ? []
      : checked.errors.map((e) => ({ path: [`producers.${i}`, e.path].filter(Boolean).join('.'), message: e.message }));
  });
  return errors.length > 0 ? errors : undefined;
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/** Parse and validate a producers file; HMAC keys are read from the environment now. */
export function parseProducers(text: string, env: NodeJS.ProcessEnv = process.env): Producers {
  const raw: unknown = parseYaml(text);
  const file = validateSchema<ProducersFile>(ProducersFile, raw);
  if (!file.ok)
    throw new Error((entryErrors(raw) ?? file.errors).map((e) => `${e.path || '(root)'}: ${e.message}`).join('; '));
  const list: Producer[] = [];
  const names = new Set<string>();
  const sentryKeys = new Map<string, string>();
  for (const [i, p] of file.value.producers.entries()) {
    if (names.has(p.name)) throw new Error(`producers.${i}.name: "${p.name}" is listed twice`);
    names.add(p.name);
    if ('sentry_key_sha256' in p) {
      const other = sentryKeys.get(p.sentry_key_sha256);
      if (other) throw new Error(`producers.${i}.sentry_key_sha256: the same Sentry key as ${other}`);
      sentryKeys.set(p.sentry_key_sha256, p.name);
    }
    if ('bearer_sha256' in p) {
      list.push({
        name: p.name,
        kind: 'bearer',
        credentialSha256: p.bearer_sha256,
        ...(p.service ? { service: p.service } : {}),
      });
    } else if ('sentry_key_sha256' in p) {
      list.push({
        name: p.name,
        kind: 'sentry',
        credentialSha256: p.sentry_key_sha256,
        ...(p.service ? { service: p.service } : {}),
        ...(p.projects ? { sentryProjects: new Map(Object.entries(p.projects)) } : {}),
      });
    } else {
      const key = env[p.hmac_secret_env];
      if (!key)
        throw new Error(`producers.${i}: environment variable ${p.hmac_secret_env} (HMAC key of ${p.name}) is not set`);
      list.push({
        name: p.name,
        kind: 'hmac',
        credentialSha256: sha256(key),
        hmacKey: Buffer.from(key),
        ...(p.service ? { service: p.service } : {}),
      });
    }
  }
  return {
    list,
    byBearerHash: new Map(list.filter((p) => p.kind === 'bearer').map((p) => [p.credentialSha256, p])),
    bySentryKeyHash: new Map(list.filter((p) => p.kind === 'sentry').map((p) => [p.credentialSha256, p])),
    byName: new Map(list.map((p) => [p.name, p])),
  };
}

export const SIGNATURE_MAX_SKEW_S = 300;

export type AuthResult = { ok: true; producer: Producer } | { ok: false; reason: string };

/**
 * Who sent a request, from its headers alone (the body is not read yet): the producer, and for a signed request
 * the check of the body that must still pass once it has been read.
 */
export type Identified =
  { ok: true; producer: Producer; checkBody?: (rawBody: Buffer) => AuthResult } | { ok: false; reason: string };

type Headers = Record<string, string | string[] | undefined>;

const headerOf = (headers: Headers, name: string) => {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/**
 * `Authorization: Bearer <token>`, or `X-Grace-Producer`, `X-Grace-Timestamp` (unix seconds) and
 * `X-Grace-Signature: sha256=<hex HMAC of "<timestamp>.<raw body>">` (the signature is checked by `checkBody`).
 */
export function identify(producers: Producers, headers: Headers, nowMs: number): Identified {
  const authorization = headerOf(headers, 'authorization');
  if (authorization) {
    const match = /^Bearer\s+(\S{8,512})$/i.exec(authorization);
    if (!match) return { ok: false, reason: 'Authorization must be "Bearer <token>"' };
    const producer = producers.byBearerHash.get(sha256(match[1]!));
    return producer ? { ok: true, producer } : { ok: false, reason: 'unknown bearer token' };
  }
  const name = headerOf(headers, 'x-grace-producer');
  const timestamp = headerOf(headers, 'x-grace-timestamp');
  const signature = headerOf(headers, 'x-grace-signature');
  if (!name && !signature) return { ok: false, reason: 'no credentials: send a bearer token or an HMAC signature' };
  if (!name || !timestamp || !signature) {
    return { ok: false, reason: 'an HMAC request needs X-Grace-Producer, X-Grace-Timestamp and X-Grace-Signature' };
  }
  const producer = producers.byName.get(name);
  const key = producer?.hmacKey;
  if (!producer || !key) return { ok: false, reason: `no HMAC producer named "${name}"` };
  const ts = Number(timestamp);
  if (!Number.isInteger(ts) || Math.abs(nowMs / 1000 - ts) > SIGNATURE_MAX_SKEW_S) {
    return { ok: false, reason: `X-Grace-Timestamp must be unix seconds within ${SIGNATURE_MAX_SKEW_S} s of now` };
  }
  const given = /^sha256=([0-9a-f]{64})$/.exec(signature);
  if (!given) return { ok: false, reason: 'X-Grace-Signature must be "sha256=<64 hex digits>"' };
  return {
    ok: true,
    producer,
    checkBody(rawBody) {
      const expected = createHmac('sha256', key).update(`${timestamp}.`).update(rawBody).digest();
      return timingSafeEqual(Buffer.from(given[1]!, 'hex'), expected)
        ? { ok: true, producer }
        : { ok: false, reason: 'bad signature' };
    },
  };
}

/**
 * A Sentry SDK's request: the DSN's public key in the `sentry_key` query parameter or in
 * `X-Sentry-Auth: Sentry sentry_key=<key>, sentry_version=7, ...`, allowed for the DSN's project.
 */
export function identifySentry(
  producers: Producers,
  headers: Headers,
  query: Record<string, unknown>,
  project: string,
): Identified {
  const auth = headerOf(headers, 'x-sentry-auth') ?? headerOf(headers, 'authorization');
  const fromHeader = auth ? /(?:^|[\s,])sentry_key=([^\s,]+)/.exec(auth)?.[1] : undefined;
  const key = typeof query.sentry_key === 'string' ? query.sentry_key : fromHeader;
  if (!key) return { ok: false, reason: "no Sentry key: send the DSN's public key as sentry_key or in X-Sentry-Auth" };
  const producer = producers.bySentryKeyHash.get(sha256(key));
  if (!producer) return { ok: false, reason: 'unknown Sentry key (the public key of the DSN)' };
  if (producer.sentryProjects && !producer.sentryProjects.has(project))
    return { ok: false, reason: `the Sentry key of ${producer.name} is not for project ${project}` };
  return { ok: true, producer };
}

/** `identify`, then the body's check: the whole authentication of a request already read. */
export function authenticate(producers: Producers, headers: Headers, rawBody: Buffer, nowMs: number): AuthResult {
  const who = identify(producers, headers, nowMs);
  if (!who.ok) return who;
  return who.checkBody ? who.checkBody(rawBody) : { ok: true, producer: who.producer };
}

/** Sign a body the way `authenticate` checks it (for producers and tests). */
export function signBody(key: string, rawBody: string | Buffer, timestampS: number): Record<string, string> {
  const mac = createHmac('sha256', key).update(`${timestampS}.`).update(rawBody).digest('hex');
  return { 'x-grace-timestamp': String(timestampS), 'x-grace-signature': `sha256=${mac}` };
}
