// Fingerprints: what makes two error reports "the same error" (normalised message, kind, service, top frames).
import { createHash } from 'node:crypto';
import type { EventData } from '@grace/contracts';

type ErrorReport = EventData<'error.reported'>;
type Stack = ErrorReport['stack'];

interface Frame {
  function?: string | undefined;
  file?: string | undefined;
  module?: string | undefined;
}

// Only the head of a message decides its fingerprint: bounds the work and the material hashed.
const MAX_MESSAGE_INPUT = 8_192;
const MAX_NORMALIZED = 1_024;
const MAX_STACK_LINES = 400;
const MAX_LINE = 2_048;
const FILE_SEGMENTS = 3;
// The contract's bound on a fingerprint; a producer's fingerprint longer than that minus the prefix is hashed.
const MAX_FINGERPRINT = 128;
const PRODUCER_PREFIX = 'p:';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

// Applied in order to the lower-cased message; each takes out something that varies between occurrences.
const MESSAGE_RULES: [RegExp, string | ((match: string) => string)][] = [
  [/(?<![a-z0-9+.-])([a-z][a-z0-9+.-]{0,31}:\/\/[^\s?#'"]{0,2048})\?[^\s#'"]{1,4096}/g, '$1?<query>'],
  [/"(?:[^"\\\n]|\\.){0,512}"/g, '<str>'],
  // An apostrophe inside a word (can't, user's) opens no quoted value.
  [/(?<![\w'])'(?:[^'\\\n]|\\.){0,512}'(?!\w)/g, '<str>'],
  [/(?<![a-z0-9._%+-])[a-z0-9._%+-]{1,64}@[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63}){1,8}/g, '<email>'],
  [/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uuid>'],
  [/\b\d{4}-\d{2}-\d{2}(?:[t ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:z|[+-]\d{2}(?::?\d{2})?)?)?/g, '<ts>'],
  [/\b\d{1,2}\/\d{1,2}\/\d{2,4}\b/g, '<ts>'],
  [/\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d{1,9})?\b/g, '<ts>'],
  [/\b(?:\d{1,3}\.){3}\d{1,3}\b/g, '<ip>'],
  // IPv6: at least one digit, and `::` or 5+ colons, so that `abc:10:5` and `std::io` stay.
  [
    /(?<![\w:.])(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}(?![\w:])/g,
    (m) => (/\d/.test(m) && (m.includes('::') || m.split(':').length > 5) ? '<ip>' : m),
  ],
  [/\b0x[0-9a-f]+\b/g, '<hex>'],
  [/(?<![a-z0-9])[0-9a-f]{7,}(?![a-z0-9])/g, (m) => (/\d/.test(m) && /[a-f]/.test(m) ? '<hex>' : m)],
  // Ids that mix letters and digits (pod hashes, request ids); shorter ones (sha256, utf8mb4, http2) keep words.
  [/(?<![a-z0-9])[a-z0-9]{8,}(?![a-z0-9])/g, (m) => (/\d/.test(m) && /[a-z]/.test(m) ? '<id>' : m)],
  [/\d+(?:\.\d+)*/g, '<num>'],
  [/\s+/g, ' '],
];

/** The message with what varies between occurrences of one error replaced by placeholders; lower case, bounded. */
export function normalizeMessage(message: string): string {
  let text = message.slice(0, MAX_MESSAGE_INPUT).toLowerCase();
  for (const [pattern, replacement] of MESSAGE_RULES) {
    text = typeof replacement === 'string' ? text.replace(pattern, replacement) : text.replace(pattern, replacement);
  }
  return text.trim().slice(0, MAX_NORMALIZED);
}

function stripLineColumn(location: string): string {
  return location.replace(/(?::\d+){1,2}$/, '');
}

// JVM lambda classes are numbered per run: Foo$$Lambda$14/0x0000000800c1840 is Foo$$Lambda in every run.
const JVM_LAMBDA = /\$\$Lambda\$\d+\/0x[0-9a-f]+/gi;

/** A Java frame's function without its module or classloader prefix (java.base/, app//). */
function javaFunction(fn: string): string {
  const name = fn.replace(JVM_LAMBDA, '$$$$Lambda');
  return name.slice(name.lastIndexOf('/') + 1);
}

function parseAtLine(rest: string): Frame {
  // .NET: at Ns.Type.Method(String s) in C:\src\File.cs:line 42
  const dotnet = rest.includes(':line ') ? /^(.*?\))\s+in\s+(.+):line\s+\d+$/.exec(rest) : null;
  if (dotnet) return { function: dotnet[1]?.replace(/\(.*\)$/, ''), file: dotnet[2] };
  // Node: at fn (file:line:column); endsWith first keeps the match linear.
  if (rest.endsWith(')')) {
    const node = /^(.*?)\s+\((.*)\)$/.exec(rest);
    if (node) return { function: node[1], file: stripLineColumn(node[2] ?? '') };
    // Java: at com.x.Y.z(Y.java:42)
    const java = /^([^\s(]+)\(([^()]*)\)$/.exec(rest);
    if (java) return { function: javaFunction(java[1] ?? ''), file: stripLineColumn(java[2] ?? '') };
  }
  // Node without a function name: at file:line:column
  return { file: stripLineColumn(rest) };
}

/** Frames of a raw stack trace, innermost first. Node, Java, .NET, Python, Go, Ruby and PHP traces. */
function parseStack(stack: string): Frame[] {
  const lines = stack.split(/\r?\n/, MAX_STACK_LINES).map((line) => line.slice(0, MAX_LINE));
  const frames: Frame[] = [];
  let python: Frame[] | undefined;
  let previous = '';
  for (const line of lines) {
    const trimmed = line.trim();
    let m: RegExpExecArray | null;
    if (/^Traceback \(most recent call last\):/.test(trimmed)) {
      // Chained Python exceptions print one traceback each; the last one is the exception raised.
      python = [];
    } else if ((m = /^File "([^"]*)", line \d+(?:, in (.+))?$/.exec(trimmed))) {
      (python ??= []).push({ file: m[1], function: m[2] });
    } else if ((m = /^at\s+(.+)$/.exec(trimmed))) {
      frames.push(parseAtLine(m[1] ?? ''));
    } else if ((m = /^\t(\S.*?):\d+(?:\s\+0x[0-9a-f]+)?$/.exec(line)) && /\)$/.test(previous)) {
      // Go: the function line, then its file on a tab-indented line.
      frames.push({ function: previous.trim().replace(/\(.*\)$/, ''), file: m[1] });
    } else if ((m = /^(?:from\s+)?(.+?):\d+:in\s+[`'](.+)'$/.exec(trimmed))) {
      frames.push({ file: m[1], function: m[2] });
    } else if ((m = /^#\d+\s+(.+?)\(\d+\):\s+(.+)$/.exec(trimmed))) {
      frames.push({ file: m[1], function: (m[2] ?? '').replace(/\(.*\)$/, '') });
    }
    previous = line;
  }
  // Python prints the innermost frame last.
  return python && python.length > 0 ? python.reverse() : frames;
}

/**
 * A file as it reads on every host: the absolute prefix differs between laptops, CI and containers, so only the
 * last three path segments count (after the last node_modules/ or site-packages/ for dependencies), without
 * package versions, bundle content hashes, query strings, URL schemes or line and column numbers.
 */
function normalizeFile(file: string): string {
  let path = stripLineColumn(file.trim().replace(/\\/g, '/'))
    .replace(/^[a-z][a-z0-9+.-]*:\/\/\/?/i, '')
    .replace(/[?#].*$/, '')
    .replace(/@v?\d+(?:\.\d+){0,3}[\w.+-]*/g, '')
    .replace(/\bpython\d+(?:\.\d+)?\//g, 'python/')
    .replace(/[.-][0-9a-f]{6,}(?=\.(?:m?js|cjs|css)$)/i, '');
  const dependency = /(?:^|\/)(?:node_modules|site-packages|dist-packages)\//g;
  let start = 0;
  for (let m = dependency.exec(path); m !== null; m = dependency.exec(path)) start = m.index + m[0].length;
  path = path.slice(start);
  return path
    .split('/')
    .filter((segment) => segment !== '' && segment !== '.')
    .slice(-FILE_SEGMENTS)
    .join('/');
}

function normalizeFunction(fn: string): string {
  return fn
    .trim()
    .replace(/\s+/g, ' ')
    .replace(JVM_LAMBDA, '$$$$Lambda')
    .replace(/\b0x[0-9a-f]+\b/gi, '<hex>')
    .slice(0, 256);
}

function formatFrame(frame: Frame): string | undefined {
  const fn = frame.function ? normalizeFunction(frame.function) : '';
  const file = frame.file ? normalizeFile(frame.file) : '';
  const module = frame.module ? normalizeFile(frame.module) : '';
  if (!fn && !file && !module) return undefined;
  return `${fn || '<anonymous>'}${file ? ` (${file})` : ''}${module ? ` [${module}]` : ''}`;
}

/**
 * The n innermost frames, normalised: no line or column numbers, no absolute path prefixes, no package
 * versions. Frame arrays come innermost last (the contract); raw stacks are parsed. A raw stack in a format
 * not recognised gives its first lines after the message, normalised like a message.
 */
export function topFrames(stack: Stack, n = 3): string[] {
  if (stack === undefined || n <= 0) return [];
  const frames = typeof stack === 'string' ? parseStack(stack) : [...stack].reverse();
  const formatted: string[] = [];
  for (const frame of frames) {
    const text = formatFrame(frame);
    if (text) formatted.push(text);
    if (formatted.length === n) return formatted;
  }
  if (formatted.length > 0 || typeof stack !== 'string') return formatted;
  const lines = stack.split(/\r?\n/, MAX_STACK_LINES).filter((line) => line.trim() !== '');
  return (lines.length > 1 ? lines.slice(1) : lines)
    .slice(0, n)
    .map((line) => normalizeMessage(line.slice(0, MAX_LINE)));
}

/**
 * The first 32 hex characters of sha256(JSON.stringify([service, kind, normalizeMessage(message), topFrames(stack)])),
 * kind trimmed. JSON keeps the parts apart: no choice of separator can run one part into the next.
 */
export function computeFingerprint(input: { service: string; kind: string; message: string; stack?: Stack }): string {
  const material = JSON.stringify([
    input.service,
    input.kind.trim(),
    normalizeMessage(input.message),
    topFrames(input.stack),
  ]);
  return sha256(material).slice(0, 32);
}

/**
 * The producer's fingerprint when it gives one (it knows its errors best), else the computed one. A producer's
 * fingerprint is prefixed `p:` so that it can never collide with a computed one (32 hex characters); it is
 * not scoped by service, so a producer may group one error across services on purpose. One too long for the
 * contract with the prefix is hashed.
 */
export function fingerprintOf(data: ErrorReport): string {
  const given = data.fingerprint?.trim();
  if (!given) return computeFingerprint(data);
  return given.length + PRODUCER_PREFIX.length <= MAX_FINGERPRINT
    ? `${PRODUCER_PREFIX}${given}`
    : `${PRODUCER_PREFIX}${sha256(given).slice(0, 32)}`;
}
