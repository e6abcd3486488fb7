// How `grace up` shows what its processes write: one readable, coloured line per log record in a terminal, or
// JSON lines (each with a `service` field) for machines. Pure functions of a line to a line.

export type LogStream = 'stdout' | 'stderr';

export interface LogFormat {
  /** One readable line per record (a terminal); otherwise one JSON object per line. */
  pretty: boolean;
  /** ANSI colours (a terminal without NO_COLOR). */
  color: boolean;
}

const ANSI = {
  reset: '\x1b[0m',
  dim: '\x1b[2m',
  bold: '\x1b[1m',
  red: '\x1b[31m',
  green: '\x1b[32m',
  yellow: '\x1b[33m',
  blue: '\x1b[34m',
  magenta: '\x1b[35m',
  cyan: '\x1b[36m',
  gray: '\x1b[90m',
  brightGreen: '\x1b[92m',
  brightBlue: '\x1b[94m',
  brightMagenta: '\x1b[95m',
  brightCyan: '\x1b[96m',
} as const;
type Colour = keyof typeof ANSI;

// One colour per source, so a reader follows a service down the screen.
const SOURCE_COLOURS: Record<string, Colour> = {
  'trigger-mesh': 'cyan',
  sentinel: 'magenta',
  'action-executor': 'blue',
  verifier: 'green',
  'learning-loop': 'brightMagenta',
  'cube-etl': 'brightBlue',
  'chat-gateway': 'brightCyan',
  'demo-target': 'yellow',
  events: 'brightGreen',
  grace: 'bold',
};
/** Width of the source column: the longest name, so every message starts in the same column. */
export const SOURCE_WIDTH = Math.max(...Object.keys(SOURCE_COLOURS).map((s) => s.length));

const LEVEL_COLOURS: Record<string, Colour> = {
  trace: 'gray',
  debug: 'gray',
  info: 'green',
  warn: 'yellow',
  error: 'red',
  fatal: 'red',
};
const PINO_LEVELS: Record<number, string> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};

// The fields worth a glance on a one-line record, in this order, under a shorter name; ids are shortened.
const KEY_FIELDS: [field: string, label: string, shorten: boolean][] = [
  ['correlationid', 'corr', true],
  ['incident_id', 'incident', true],
  ['contract_id', 'contract', true],
  ['action_id', 'action', true],
  ['approval_id', 'approval', true],
  ['playbook', 'playbook', false],
  ['verdict', 'verdict', false],
  ['subject', 'subject', false],
  ['http_port', 'port', false],
  ['signal', 'signal', false],
  ['reason', 'reason', false],
  ['err', 'error', false],
  ['error', 'error', false],
];

const paint = (format: LogFormat, colour: Colour, text: string) =>
  format.color ? `${ANSI[colour]}${text}${ANSI.reset}` : text;

function levelOf(record: Record<string, unknown>, stream: LogStream): string {
  const level = record.level;
  if (typeof level === 'string') return level;
  if (typeof level === 'number') return PINO_LEVELS[level] ?? String(level);
  return stream === 'stderr' ? 'error' : 'info';
}

function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && 'message' in value && typeof value.message === 'string')
    return value.message;
  return JSON.stringify(value);
}

function clock(time: unknown): string {
  const date = typeof time === 'string' || typeof time === 'number' ? new Date(time) : new Date();
  const valid = Number.isNaN(date.getTime()) ? new Date() : date;
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  return `${pad(valid.getHours())}:${pad(valid.getMinutes())}:${pad(valid.getSeconds())}.${pad(valid.getMilliseconds(), 3)}`;
}

/** A JSON object from a line, or undefined when the line is not one (a stack trace, a tsx error). */
export function parseRecord(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** One readable line: time, source (padded, coloured), level, message, key fields. */
export function prettyLine(format: LogFormat, source: string, record: Record<string, unknown>, stream: LogStream) {
  const level = levelOf(record, stream);
  // Services log `msg` (pino); the demo target logs `demo`.
  const message = textOf(record.msg ?? record.demo ?? record.message ?? '');
  const fields = KEY_FIELDS.filter(([field]) => record[field] !== undefined && record[field] !== null).map(
    ([field, label, shorten]) => {
      const text = textOf(record[field]);
      return `${label}=${shorten && text.length > 8 ? text.slice(0, 8) : text}`;
    },
  );
  const parts = [
    paint(format, 'gray', clock(record.time ?? record.at)),
    paint(format, SOURCE_COLOURS[source] ?? 'reset', source.padEnd(SOURCE_WIDTH)),
    paint(format, LEVEL_COLOURS[level] ?? 'reset', level.toUpperCase().padEnd(5)),
    level === 'error' || level === 'fatal' ? paint(format, 'red', message) : message,
  ];
  if (fields.length > 0) parts.push(paint(format, 'dim', fields.join(' ')));
  return parts.join(' ');
}

/** The line `grace up` prints for one output line of a process (no trailing newline). */
export function formatLine(format: LogFormat, source: string, line: string, stream: LogStream): string {
  const record = parseRecord(line);
  if (format.pretty) {
    if (record) return prettyLine(format, source, record, stream);
    return prettyLine(format, source, { msg: line }, stream);
  }
  if (record) return record.service === undefined ? JSON.stringify({ service: source, ...record }) : line;
  return JSON.stringify({
    service: source,
    level: stream === 'stderr' ? 'error' : 'info',
    time: new Date().toISOString(),
    stream,
    msg: line,
  });
}

/** A record `grace up` itself writes (its progress, the bus narration), in the format of the rest. */
export function formatRecord(
  format: LogFormat,
  source: string,
  level: string,
  msg: string,
  fields: Record<string, unknown> = {},
): string {
  const record = { level, time: new Date().toISOString(), service: source, ...fields, msg };
  return format.pretty ? prettyLine(format, source, record, 'stdout') : JSON.stringify(record);
}

export function colour(format: LogFormat, name: Colour, text: string): string {
  return paint(format, name, text);
}
