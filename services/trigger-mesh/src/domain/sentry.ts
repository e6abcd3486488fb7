// Sentry events (the store endpoint's and an envelope's event item): their schema and their mapping to error.reported.
import { createHash } from 'node:crypto';
import { validateSchema, type EventData, type Validation } from '@grace/contracts';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import {
  boundedAttributes,
  firstName,
  REPORT_BOUNDS,
  toIsoTimestamp,
  truncate,
  UNKNOWN_ENVIRONMENT,
  UNKNOWN_SERVICE,
} from './report-bounds.js';

type ErrorReported = EventData<'error.reported'>;
type Severity = ErrorReported['severity'];
type StackFrame = Exclude<ErrorReported['stack'], string | undefined>[number];

// SDKs send null for what they do not know; objects allow every field this mapping does not read
// (context_line, vars, mechanism, breadcrumbs, sdk...).
const Nullable = <T extends TSchema>(schema: T) => Type.Optional(Type.Union([schema, Type.Null()]));
const Text = (maxLength: number) => Type.String({ maxLength });

const Frame = Type.Object({
  filename: Nullable(Text(4096)),
  abs_path: Nullable(Text(4096)),
  function: Nullable(Text(4096)),
  module: Nullable(Text(4096)),
  lineno: Nullable(Type.Integer()),
  colno: Nullable(Type.Integer()),
  in_app: Nullable(Type.Boolean()),
});
// Sentry's SDKs keep at most 500 frames from each end of a deep stack.
const Stacktrace = Type.Object({ frames: Type.Array(Frame, { maxItems: 2000 }) });

const ExceptionValue = Type.Object({
  type: Nullable(Text(1024)),
  value: Nullable(Text(65536)),
  module: Nullable(Text(4096)),
  stacktrace: Nullable(Stacktrace),
});

const LogEntry = Type.Object({ message: Nullable(Text(65536)), formatted: Nullable(Text(65536)) });
const TagValue = Type.Union([Text(16384), Type.Number(), Type.Boolean(), Type.Null()]);

export const SentryEvent = Type.Object(
  {
    event_id: Type.Optional(Text(64)),
    /** RFC 3339 (UTC when it has no offset) or Unix seconds. */
    timestamp: Type.Union([
      Type.String({ format: 'iso-date-time' }),
      Type.Number({ minimum: 0, maximum: 253402300799 }),
    ]),
    level: Type.Optional(
      Type.Union([
        Type.Literal('fatal'),
        Type.Literal('error'),
        Type.Literal('warning'),
        Type.Literal('info'),
        Type.Literal('debug'),
      ]),
    ),
    platform: Type.Optional(Text(64)),
    logger: Type.Optional(Text(1024)),
    transaction: Type.Optional(Text(1024)),
    message: Type.Optional(Type.Union([Text(65536), LogEntry])),
    logentry: Type.Optional(LogEntry),
    exception: Type.Optional(Type.Object({ values: Type.Array(ExceptionValue, { maxItems: 100 }) })),
    /** The stack of a message event (attach_stacktrace). */
    stacktrace: Type.Optional(Stacktrace),
    tags: Type.Optional(
      Type.Union([
        Type.Record(Text(1024), TagValue, { maxProperties: 512 }),
        Type.Array(Type.Tuple([Text(1024), TagValue]), { maxItems: 512 }),
      ]),
    ),
    environment: Type.Optional(Text(1024)),
    release: Type.Optional(Text(1024)),
    server_name: Type.Optional(Text(1024)),
    fingerprint: Type.Optional(Type.Array(Text(1024), { maxItems: 64 })),
    // Accepted and not mapped: they may hold personal data, and error.reported has no place for them.
    user: Type.Optional(Type.Unknown()),
    request: Type.Optional(Type.Unknown()),
    contexts: Type.Optional(Type.Unknown()),
    extra: Type.Optional(Type.Unknown()),
  },
  { description: 'needs an exception or a message: checked by validateSentryEvent, which a schema cannot say well' },
);
export type SentryEventType = Static<typeof SentryEvent>;
type SentryException = NonNullable<SentryEventType['exception']>['values'][number];

const MISSING_CONTENT =
  'needs an exception (exception.values with a type or a value) or a message (message or logentry)';

/** Validate a Sentry event against the schema and check that it carries an exception or a message. */
export function validateSentryEvent(value: unknown): Validation<SentryEventType> {
  const checked = validateSchema<SentryEventType>(SentryEvent, value);
  if (!checked.ok) return checked;
  if (!reportedException(checked.value) && !messageText(checked.value)) {
    return { ok: false, errors: [{ path: '', message: MISSING_CONTENT }] };
  }
  return checked;
}

const SEVERITY_BY_LEVEL: Record<NonNullable<SentryEventType['level']>, Severity> = {
  fatal: 'critical',
  error: 'error',
  warning: 'warning',
  info: 'info',
  debug: 'debug',
};

// Sentry's placeholder for "group as Sentry would by default": a fingerprint with it is no fingerprint of ours.
const DEFAULT_FINGERPRINT = /^\{\{\s*default\s*\}\}$/;

/**
 * Map a Sentry event to error.reported. The error reported is the last exception: Sentry lists chained
 * exceptions oldest first, so the last one is the exception that was raised (its cause goes to the `cause`
 * attribute). Throws when the event has neither an exception nor a message (see validateSentryEvent).
 */
export function mapSentry(event: SentryEventType, defaults: { service?: string } = {}): ErrorReported {
  const tags = tagEntries(event.tags);
  const tag = (name: string) => {
    const value = tags.find(([key]) => key === name)?.[1];
    return value === null || value === undefined ? undefined : String(value);
  };
  const exception = reportedException(event);
  const text = messageText(event);
  if (!exception && !text) throw new Error(`a Sentry event ${MISSING_CONTENT}; this one has neither`);

  const kind = exception ? exception.type || 'Error' : 'Message';
  const report: ErrorReported = {
    service: firstName([tag('service'), defaults.service, event.logger], REPORT_BOUNDS.service, UNKNOWN_SERVICE),
    environment: firstName([event.environment, tag('environment')], REPORT_BOUNDS.environment, UNKNOWN_ENVIRONMENT),
    kind: truncate(kind, REPORT_BOUNDS.kind),
    message: truncate((exception ? exception.value?.trim() || kind : text) ?? kind, REPORT_BOUNDS.message),
    severity: SEVERITY_BY_LEVEL[event.level ?? 'error'],
    occurred_at: sentryTimestamp(event.timestamp),
    origin: 'sentry',
  };
  const stack = stackFrames(exception ? exception.stacktrace : event.stacktrace);
  if (stack.length > 0) report.stack = stack;
  const fingerprint = sentryFingerprint(event.fingerprint);
  if (fingerprint) report.fingerprint = fingerprint;
  if (event.release) report.release = truncate(event.release, REPORT_BOUNDS.release);
  if (event.server_name) report.host = truncate(event.server_name, REPORT_BOUNDS.host);

  const cause = exceptionsOf(event).at(-2);
  const attributes = boundedAttributes([
    ...(event.event_id ? [['sentry_event_id', event.event_id] as const] : []),
    ...(event.platform ? [['platform', event.platform] as const] : []),
    ...(event.logger ? [['logger', event.logger] as const] : []),
    ...(event.transaction ? [['transaction', event.transaction] as const] : []),
    ...(cause ? [['cause', [cause.type, cause.value].filter(Boolean).join(': ')] as const] : []),
    ...tags.map(([key, value]) => [`tag.${key}`, value] as const),
  ]);
  if (attributes) report.attributes = attributes;
  return report;
}

function exceptionsOf(event: SentryEventType): SentryException[] {
  return (event.exception?.values ?? []).filter((exception) => exception.type || exception.value);
}

function reportedException(event: SentryEventType): SentryException | undefined {
  return exceptionsOf(event).at(-1);
}

function messageText(event: SentryEventType): string | undefined {
  const { logentry, message } = event;
  const candidates = typeof message === 'string' ? [message] : [message?.formatted, message?.message];
  const text = [logentry?.formatted, logentry?.message, ...candidates].find((value) => value && value.trim() !== '');
  return text?.trim();
}

function tagEntries(tags: SentryEventType['tags']): (readonly [string, string | number | boolean | null])[] {
  if (!tags) return [];
  return Array.isArray(tags) ? tags : Object.entries(tags);
}

function sentryTimestamp(timestamp: string | number): string {
  if (typeof timestamp === 'number') return new Date(Math.round(timestamp * 1000)).toISOString();
  // Sentry reads a timestamp without an offset as UTC; JavaScript would read it as local time.
  const zoned = /(?:z|[+-]\d\d(?::?\d\d)?)$/i.test(timestamp) ? timestamp : `${timestamp}Z`;
  return toIsoTimestamp(zoned);
}

/** The frames, innermost last as Sentry sends them, keeping the innermost 200 of a deeper stack. */
function stackFrames(stacktrace: SentryException['stacktrace']): StackFrame[] {
  const frames: StackFrame[] = [];
  for (const frame of stacktrace?.frames ?? []) {
    const mapped: StackFrame = {};
    const file = frame.filename || frame.abs_path;
    if (frame.function) mapped.function = truncate(frame.function, REPORT_BOUNDS.frameFunction);
    if (file) mapped.file = truncate(file, REPORT_BOUNDS.frameFile);
    if (typeof frame.lineno === 'number' && frame.lineno >= 0) mapped.line = frame.lineno;
    if (typeof frame.colno === 'number' && frame.colno >= 0) mapped.column = frame.colno;
    if (frame.module) mapped.module = truncate(frame.module, REPORT_BOUNDS.frameModule);
    if (Object.keys(mapped).length > 0) frames.push(mapped);
  }
  return frames.slice(-REPORT_BOUNDS.frames);
}

/**
 * `sentry:` + the parts joined by `|`; none when the event has no fingerprint or leans on Sentry's default
 * grouping anywhere in it (we cannot compute Sentry's hash: trigger-mesh fingerprints the event itself).
 * A fingerprint too long for the contract is hashed.
 */
function sentryFingerprint(parts: readonly string[] | undefined): string | undefined {
  if (!parts || parts.length === 0 || parts.some((part) => DEFAULT_FINGERPRINT.test(part.trim()))) return undefined;
  const fingerprint = `sentry:${parts.join('|')}`;
  if (fingerprint.length <= REPORT_BOUNDS.fingerprint) return fingerprint;
  return `sentry:sha256:${createHash('sha256').update(parts.join('|')).digest('hex')}`;
}
