// The CloudEvents 1.0 HTTP protocol binding (binary, structured and batched content modes) and the JSON event
// format, as far as ingest needs them: which mode a request is in, the event of a binary-mode request (ce-*
// headers, percent-decoded, and the body as data), and one CloudEvent in the JSON format made ready for Grace's
// envelope (null attributes unset, `specversion` 1.0, JSON data only, extension attributes checked). Pure: no
// HTTP server, no bus; problems are ValidationErrors with paths, or a BindingError with its HTTP status.
import { SPEC_VERSION, type ValidationError } from '@grace/contracts';

/** The structured-mode media type of the JSON event format. */
export const CLOUDEVENTS_JSON = 'application/cloudevents+json';
/** The batched-mode media type of the JSON batch format. */
export const CLOUDEVENTS_BATCH_JSON = 'application/cloudevents-batch+json';
/** What every JSON `datacontenttype` becomes in a Grace event (its envelope allows only this literal). */
export const GRACE_DATA_CONTENT_TYPE = 'application/json';
/** CloudEvents attribute names: lower-case ASCII letters and digits; Grace's envelope takes at most 20. */
export const ATTRIBUTE_NAME = /^[a-z0-9]+$/;
export const MAX_ATTRIBUTE_NAME_LENGTH = 20;

/** The attributes the CloudEvents 1.0 core defines (and the JSON format's data members); all others are extensions. */
const CORE = new Set([
  'specversion',
  'id',
  'source',
  'type',
  'datacontenttype',
  'dataschema',
  'subject',
  'time',
  'data',
  'data_base64',
]);

/** Request headers by lower-case name, each once or as every value it was sent with (`headersDistinct`). */
export type HeaderMap = Readonly<Record<string, string | readonly string[] | undefined>>;

/** A request the binding cannot take at all: 415 for a media type it does not handle, 400 for a broken body. */
export class BindingError extends Error {
  constructor(
    readonly status: 400 | 415,
    message: string,
  ) {
    super(message);
    this.name = 'BindingError';
  }
}

export interface MediaType {
  /** `type/subtype`, lower case, without parameters. */
  essence: string;
  type: string;
  subtype: string;
  /** Parameters by lower-case name (quoted values unquoted). */
  params: Record<string, string>;
}

const TOKEN = "[!#$%&'*+.^_`|~0-9a-z-]+";
const ESSENCE = new RegExp(`^(${TOKEN})/(${TOKEN})$`);
const PARAM = new RegExp(`^\\s*(${TOKEN})\\s*=\\s*(?:"((?:[^"\\\\]|\\\\.)*)"|([^;"\\s]*))\\s*(?:;|$)`, 'i');

/** An RFC 9110 media type (`application/json; charset=utf-8`); undefined when absent or not one. */
export function parseMediaType(value: string | undefined): MediaType | undefined {
  if (value === undefined) return undefined;
  const semi = value.indexOf(';');
  const essence = (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
  const match = ESSENCE.exec(essence);
  if (!match) return undefined;
  const params: Record<string, string> = {};
  let rest = semi < 0 ? '' : value.slice(semi + 1);
  while (rest.trim() !== '') {
    const p = PARAM.exec(rest);
    if (!p) return undefined;
    params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
    rest = rest.slice(p[0].length);
  }
  return { essence, type: match[1]!, subtype: match[2]!, params };
}

/** JSON-formatted content per the JSON event format: `*\/json` or `*\/*+json`, whatever the parameters. */
export function isJsonMediaType(media: MediaType): boolean {
  return media.subtype === 'json' || media.subtype.endsWith('+json');
}

const JSON_TYPES = 'application/json, text/json or a +json type';

/** The one value of a header, or undefined; several values are the caller's to refuse. */
function single(value: string | readonly string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : value?.[0];
}

export type ContentMode = 'binary' | 'structured' | 'batch' | 'plain';

/** The binary-mode headers of the attributes CloudEvents requires: any of them makes a request binary-mode. */
const REQUIRED_HEADERS = ['ce-specversion', 'ce-id', 'ce-source', 'ce-type'];

/**
 * The content mode of a request, by the binding's rule: a Content-Type prefixed `application/cloudevents-batch` is
 * batched, `application/cloudevents` structured; otherwise a request with the ce-* headers of a required attribute
 * is binary (`ce-specversion` names it; without it the event is refused for lacking it, not taken as plain data);
 * otherwise it is not a CloudEvent binding at all (`plain`: a JSON body of Grace's own shapes).
 */
export function contentModeOf(headers: HeaderMap): ContentMode {
  const essence = parseMediaType(single(headers['content-type']))?.essence ?? '';
  if (essence.startsWith('application/cloudevents-batch')) return 'batch';
  if (essence.startsWith('application/cloudevents')) return 'structured';
  if (REQUIRED_HEADERS.some((h) => headers[h] !== undefined)) return 'binary';
  return 'plain';
}

/** Refuse a charset other than UTF-8 (the only one JSON is exchanged in, RFC 8259). */
function requireUtf8(media: MediaType, what: string): void {
  const charset = media.params.charset?.toLowerCase();
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    throw new BindingError(415, `${what} must be UTF-8 JSON (got charset=${media.params.charset})`);
  }
}

function parseJsonBytes(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new BindingError(400, `body is not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * The JSON body of a structured (`application/cloudevents+json`) or batched (`application/cloudevents-batch+json`)
 * request: 415 for another event format (`+avro`, `+protobuf`) or charset, 400 when it does not parse.
 */
export function parseEventFormatBody(mode: 'structured' | 'batch', headers: HeaderMap, body: Buffer): unknown {
  const raw = single(headers['content-type']) ?? '';
  const media = parseMediaType(raw)!;
  const expected = mode === 'batch' ? CLOUDEVENTS_BATCH_JSON : CLOUDEVENTS_JSON;
  if (media.essence !== expected) {
    throw new BindingError(415, `the event format "${media.essence}" is not supported: send ${expected}`);
  }
  requireUtf8(media, `a ${expected} body`);
  return parseJsonBytes(body);
}

export type Decoded = { ok: true; value: string } | { ok: false; reason: string };

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * A binary-mode header value as the attribute it carries (binding 3.1.3.2): double-quoted strings unescaped
 * first (backslash escapes included), then one round of percent-decoding, upper- or lower-case hex, where the
 * bytes must be valid UTF-8 (an overlong `%C0%A0` is refused). Characters Node read from the wire as Latin-1 are
 * taken as the bytes they were; control characters (U+0000-U+001F, U+007F-U+009F) are refused.
 */
export function decodeHeaderValue(raw: string): Decoded {
  let unquoted = '';
  let quoted = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (quoted && c === '\\') {
      if (i + 1 >= raw.length) return { ok: false, reason: 'ends inside a quoted string' };
      unquoted += raw[++i];
    } else if (c === '"') {
      quoted = !quoted;
    } else {
      unquoted += c;
    }
  }
  if (quoted) return { ok: false, reason: 'has a quoted string without its closing double quote' };

  const bytes: number[] = [];
  for (let i = 0; i < unquoted.length; i++) {
    const c = unquoted[i]!;
    if (c === '%') {
      const hex = unquoted.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) {
        return { ok: false, reason: `has a "%" not followed by two hex digits (send "%" itself as %25)` };
      }
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      const code = c.charCodeAt(0);
      if (code <= 0xff) bytes.push(code);
      else bytes.push(...Buffer.from(c, 'utf8'));
    }
  }
  let value: string;
  try {
    value = utf8.decode(Uint8Array.from(bytes));
  } catch {
    return { ok: false, reason: 'is not valid UTF-8 once percent-decoded' };
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(value)) {
    return { ok: false, reason: 'holds a control character, which no CloudEvents attribute may' };
  }
  return { ok: true, value };
}

/** Why an attribute name is not one Grace takes, or undefined when it is fine. */
function badName(name: string): string | undefined {
  if (!ATTRIBUTE_NAME.test(name)) {
    return 'is not a CloudEvents attribute name (lower-case letters a-z and digits only)';
  }
  if (name.length > MAX_ATTRIBUTE_NAME_LENGTH) {
    return `is not accepted: attribute names are at most ${MAX_ATTRIBUTE_NAME_LENGTH} characters`;
  }
  return undefined;
}

export interface BinaryEvent {
  /** The CloudEvent as the JSON format would hold it (attributes by name, `data` from the body when there is one). */
  event: Record<string, unknown>;
  /** Problems with the ce-* headers, by header name (`ce-source`). */
  errors: ValidationError[];
}

/**
 * The event of a binary-mode request: every `ce-<name>` header is the attribute `<name>` (header names are
 * case-insensitive; each attribute one header, percent-decoded), the Content-Type is `datacontenttype` and the body
 * is `data`. Data must be JSON: 415 for a Content-Type that names another type (or none, with a body), 400 when
 * it does not parse. An empty body is an event without data.
 */
export function binaryEvent(headers: HeaderMap, body: Buffer): BinaryEvent {
  const event: Record<string, unknown> = {};
  const errors: ValidationError[] = [];
  for (const [rawName, value] of Object.entries(headers)) {
    const header = rawName.toLowerCase();
    if (!header.startsWith('ce-') || value === undefined) continue;
    const name = header.slice(3);
    const values = typeof value === 'string' ? [value] : value;
    if (values.length !== 1) {
      errors.push({ path: header, message: `is sent ${values.length} times; an attribute is one header` });
      continue;
    }
    if (name === 'datacontenttype') {
      errors.push({ path: header, message: 'must not be sent: in binary mode the Content-Type is datacontenttype' });
      continue;
    }
    if (name === 'data') {
      errors.push({ path: header, message: 'is not an attribute: in binary mode the body is the data' });
      continue;
    }
    const bad = badName(name);
    if (bad) {
      errors.push({ path: header, message: `names "${name}", which ${bad}` });
      continue;
    }
    const decoded = decodeHeaderValue(values[0]!);
    if (decoded.ok) event[name] = decoded.value;
    else errors.push({ path: header, message: decoded.reason });
  }

  const contentType = headers['content-type'];
  if (contentType !== undefined && typeof contentType !== 'string' && contentType.length !== 1) {
    throw new BindingError(415, 'the Content-Type (datacontenttype) is sent more than once');
  }
  const raw = single(contentType);
  if (raw === undefined) {
    if (body.length > 0) {
      throw new BindingError(415, `binary-mode data needs a Content-Type: send it as JSON (${JSON_TYPES})`);
    }
    return { event, errors };
  }
  const media = parseMediaType(raw);
  if (!media || !isJsonMediaType(media)) {
    throw new BindingError(415, `binary-mode data must be JSON: Content-Type "${raw}" is not ${JSON_TYPES}`);
  }
  requireUtf8(media, 'binary-mode data');
  event.datacontenttype = raw;
  if (body.length > 0) event.data = parseJsonBytes(body);
  return { event, errors };
}

/** A path of a binary-mode event as the request carries it: attributes are ce-* headers, datacontenttype the Content-Type. */
export function binaryPath(path: string): string {
  const [head, ...rest] = path.split('.');
  if (head === '' || head === undefined || head === 'data') return path;
  if (head === 'datacontenttype') return ['content-type', ...rest].join('.');
  return [`ce-${head}`, ...rest].join('.');
}

export interface NormalizedEvent {
  /** Present when there were no errors. */
  event?: Record<string, unknown>;
  errors: ValidationError[];
}

const isScalar = (v: unknown) => typeof v === 'string' || typeof v === 'boolean' || typeof v === 'number';

/**
 * One CloudEvent in the JSON event format made ready for Grace's envelope: attributes that are `null` are unset
 * (JSON format 2.2; `data: null` stays, an explicit null payload); `specversion` must be 1.0; `data_base64` is
 * refused (Grace carries JSON data only); `datacontenttype` must declare JSON and becomes `application/json`
 * (absent, JSON is implied, and it is set); extension attribute names and scalar values are checked here so the
 * reason is clear. `id`, `source`, `type`, `time` and `data` are the contract's to check.
 */
export function normalizeEvent(value: unknown): NormalizedEvent {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { errors: [{ path: '', message: 'is not a CloudEvent (a JSON object)' }] };
  }
  const errors: ValidationError[] = [];
  const event: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(value as Record<string, unknown>)) {
    if (v === null && name !== 'data') continue;
    event[name] = v;
  }

  const version = event.specversion;
  if (version === undefined) errors.push({ path: 'specversion', message: 'is required' });
  else if (version !== SPEC_VERSION) {
    errors.push({
      path: 'specversion',
      message: `specversion ${JSON.stringify(version)} is not supported: send CloudEvents ${SPEC_VERSION}`,
    });
  }

  const base64 = 'data_base64' in event;
  if (base64) errors.push({ path: 'data_base64', message: 'data_base64 is not supported: send data as JSON' });

  // With data_base64, datacontenttype is the binary data's own type: data_base64 alone is the reason.
  if (!base64) {
    const declared = event.datacontenttype;
    const media = typeof declared === 'string' ? parseMediaType(declared) : undefined;
    if (declared === undefined || (media && isJsonMediaType(media))) event.datacontenttype = GRACE_DATA_CONTENT_TYPE;
    else if (typeof declared !== 'string') {
      errors.push({ path: 'datacontenttype', message: 'must be a string (a media type)' });
    } else {
      errors.push({
        path: 'datacontenttype',
        message: `${JSON.stringify(declared)} is not supported: data must be JSON (${JSON_TYPES})`,
      });
    }
  }

  for (const [name, v] of Object.entries(event)) {
    if (CORE.has(name)) continue;
    const bad = badName(name);
    if (bad) errors.push({ path: name, message: `${JSON.stringify(name)} ${bad}` });
    else if (!isScalar(v)) {
      errors.push({ path: name, message: 'an extension attribute holds a string, a number or a boolean' });
    }
  }
  return errors.length > 0 ? { errors } : { event, errors };
}
