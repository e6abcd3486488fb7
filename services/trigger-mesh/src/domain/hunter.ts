// The hunter: redacts secrets and flags injection attempts in an error report before it is stored or forwarded.
import type { EventData } from '@grace/contracts';

export type FindingCategory = 'secret' | 'injection';

/** What was found and where; never the secret itself. */
export interface Finding {
  category: FindingCategory;
  kind: string;
  location: string;
}

type ErrorReport = EventData<'error.reported'>;
type StackFrame = Extract<NonNullable<ErrorReport['stack']>, unknown[]>[number];

// Performance: this runs on every event (target >= 5,000 typical events/s on one core). Every pattern below is
// linear in the text: quantifiers are bounded or range over a class that the next token cannot match, no group
// that can match the same text two ways is repeated, and most patterns start with a literal or a lookbehind
// that lets the engine reject a position at once. Worst case stays O(n * k) for a small constant bound k.

// The contract's bounds for the fields the hunter rewrites (a replacement can be longer than what it replaces).
const MAX = { kind: 256, message: 16_384, stack: 32_768, function: 512, file: 1_024, module: 512, attribute: 4_096 };
const FRAME_FIELDS = ['function', 'file', 'module'] as const;
// Fields with minLength 1: a value made only of control characters must not become empty.
const NEUTRALIZED_EMPTY = '[neutralized]';

const redacted = (kind: string) => `[REDACTED:${kind}]`;

/** Values that are already masked, or that hold no secret (`password=null`, `token=${TOKEN}`). */
const PLACEHOLDER =
  /^(?:\[REDACTED[^\]]{0,64}\]|\*+|x{3,}|<[^>]{0,64}>|\$\{[^}]{0,64}\}|\{\{[^}]{0,64}\}\}|%s|\?|null|nil|none|undefined|true|false|redacted|hidden|masked)$/i;

function isPlaceholder(value: string): boolean {
  return value.trim() === '' || PLACEHOLDER.test(value.trim());
}

/** A bare value that reads like a credential rather than a word: `expired` no, `hunter2` or `9f8e…` yes. */
function looksLikeToken(value: string): boolean {
  if (value.length >= 6 && /\d/.test(value) && /[A-Za-z]/.test(value)) return true;
  return value.length >= 20 && /[a-z]/.test(value) && /[A-Z]/.test(value);
}

/** The secret kind a key names (`db_password`, `apiKey`, `X-Api-Key`, `client_secret`), if any. */
function secretKeyKind(key: string): 'connection_password' | 'api_key' | undefined {
  const k = key.toLowerCase().replace(/[^a-z0-9]+/g, '_');
  if (/(?:^|_)(?:pass|pwd)$|passw(?:or)?d$|passphrase$/.test(k)) return 'connection_password';
  if (/(?:secret|token|api_?key|access_?key|private_?key|credentials?)$/.test(k)) return 'api_key';
  return undefined;
}

/** Attribute keys whose whole value is a secret, beyond the key names secretKeyKind knows. */
function isSensitiveAttribute(key: string): boolean {
  if (secretKeyKind(key)) return true;
  const k = key.toLowerCase().replace(/[^a-z0-9]+/g, '_');
  return /(?:authorization|cookie|credentials?|jwt|bearer|(?:^|_)auth|(?:^|_)session)$/.test(k);
}

type Match = RegExpExecArray;

interface SecretRule {
  kind: string;
  pattern: RegExp;
  /** The replacement for a match, or undefined when the match holds no secret after all. */
  redact: (m: Match) => string | undefined;
  /** The finding's kind when it depends on the match. */
  kindOf?: (m: Match) => string;
  /** Where, from the match's start, to go on scanning after a match that was no secret (default: its end). */
  resumeAfterSkip?: (m: Match) => number;
}

// High-entropy rule. A candidate is a maximal run of >= 32 base64/base64url characters (optional `=` padding);
// it is redacted when ALL of these hold:
//   - it is not hex only: digests, commit SHAs, trace and span ids are identifiers that errors carry on purpose
//     (hex credentials are still caught next to a key name, by the api_key and connection_password rules);
//   - it contains no UUID;
//   - it mixes upper case, lower case and digits (identifiers and paths rarely have all three);
//   - at most half of it reads as words ([A-Z]?[a-z]{3,} or [A-Z]{4,}): camelCase names and paths are words;
//   - it is not a path of short segments (3+ `/`-separated segments, none of 20+ characters);
//   - its Shannon entropy is >= 4.0 bits per character.
// Measured on random tokens this catches ~94% of 32-character and ~96% of 40-character base62/base64 tokens,
// and none of the sampled paths, class names, pod names or stack frames. Lower-case-only (base36) tokens are
// not caught: they look too much like identifiers.
const HIGH_ENTROPY_MIN_LENGTH = 32;
const HIGH_ENTROPY_MIN_BITS = 4.0;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;
const WORDS = /[A-Z]?[a-z]{3,}|[A-Z]{4,}/g;

function shannonBits(text: string): number {
  const counts = new Map<string, number>();
  for (const c of text) counts.set(c, (counts.get(c) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) {
    const p = n / text.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

function isHighEntropySecret(candidate: string): boolean {
  const token = candidate.replace(/=+$/, '');
  if (token.length < HIGH_ENTROPY_MIN_LENGTH) return false;
  if (/^[0-9a-f]+$/i.test(token) || UUID.test(token)) return false;
  if (!/[A-Z]/.test(token) || !/[a-z]/.test(token) || !/\d/.test(token)) return false;
  let wordChars = 0;
  for (const w of token.matchAll(WORDS)) wordChars += w[0].length;
  if (wordChars > token.length / 2) return false;
  const segments = token.split('/');
  if (segments.length >= 3 && segments.every((s) => s.length < 20)) return false;
  return shannonBits(token) >= HIGH_ENTROPY_MIN_BITS;
}

// The most specific rules run first, so that a JWT is one jwt finding, not also high_entropy or api_key: later
// rules never match inside `[REDACTED:...]` (brackets and the colon are outside their value classes).
const SECRET_RULES: SecretRule[] = [
  {
    kind: 'private_key',
    // A whole PEM block; a block cut short (a truncated message) is redacted up to the end of its base64 body.
    pattern:
      /-----BEGIN (?:[A-Z0-9]{1,16} ){0,3}PRIVATE KEY(?: BLOCK)?-----(?:[\s\S]{0,16384}?-----END (?:[A-Z0-9]{1,16} ){0,3}PRIVATE KEY(?: BLOCK)?-----|(?:[A-Za-z0-9+/=:,\s-]|\\[nr]){0,16384})/g,
    redact: (m) => redacted('private_key') + trailingWhitespace(m[0]),
  },
  {
    kind: 'jwt',
    pattern: /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{5,4096}\.[A-Za-z0-9_-]{2,8192}\.[A-Za-z0-9_-]{0,4096}/g,
    redact: () => redacted('jwt'),
  },
  {
    kind: 'aws_access_key',
    pattern: /(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])/g,
    redact: () => redacted('aws_access_key'),
  },
  {
    kind: 'aws_secret_key',
    pattern:
      /(?<![A-Za-z0-9])((?:aws_?)?secret_?(?:access_?)?key|aws_?secret)(\\?["']?\s{0,4}(?:=>|[:=])\s{0,4}\\?["']?)([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])/gi,
    redact: (m) => `${m[1]}${m[2]}${redacted('aws_secret_key')}`,
  },
  {
    kind: 'api_key',
    // Tokens with a well-known prefix: GitHub, Slack, Stripe, Google, GitLab, OpenAI-style.
    pattern:
      /(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255}|xox[abposr]-[A-Za-z0-9-]{10,255}|[sr]k_(?:live|test)_[A-Za-z0-9]{16,255}|AIza[A-Za-z0-9_-]{35}|glpat-[A-Za-z0-9_-]{20,64}|sk-[A-Za-z0-9_-]{32,255})/g,
    redact: () => redacted('api_key'),
  },
  {
    kind: 'url_password',
    // scheme://user:PASSWORD@host keeps scheme, user and host. The password may hold a raw `@` (the last one
    // before the host wins); the user may be empty (redis://:secret@cache).
    pattern:
      /(?<![A-Za-z0-9+.-])([A-Za-z][A-Za-z0-9+.-]{0,31}:\/\/[^\s:/?#@'"<>[\]]{0,256}:)([^\s/?#'"<>]{1,256})(@[A-Za-z0-9[])/g,
    redact: (m) => {
      const password = m[2] ?? '';
      return isPlaceholder(password) ? undefined : `${m[1]}${redacted('url_password')}${m[3]}`;
    },
  },
  {
    kind: 'bearer_token',
    // Authorization: <scheme> <value>; without a scheme the value must look like a token (not `denied`).
    pattern:
      /(?<![A-Za-z0-9_-])((?:proxy-)?authorization\\?["']?\s{0,4}[:=]\s{0,4}\\?["']?)(?:(bearer|basic|token|digest|negotiate|apikey)(\s{1,4}))?([A-Za-z0-9._~+/=-]{1,4096})/gi,
    redact: (m) => {
      const [, key, scheme, gap, value = ''] = m;
      if (isPlaceholder(value) || (!scheme && !looksLikeToken(value))) return undefined;
      return `${key}${scheme ? `${scheme}${gap}` : ''}${redacted('bearer_token')}`;
    },
  },
  {
    kind: 'bearer_token',
    pattern: /(?<![A-Za-z0-9_-])(bearer\s{1,4})([A-Za-z0-9._~+/-]{8,4096}={0,2})/gi,
    redact: (m) => (looksLikeToken(m[2] ?? '') ? `${m[1]}${redacted('bearer_token')}` : undefined),
  },
  {
    kind: 'key_value',
    // key=value, key: value, "key": "value", 'key' => 'value', \"key\":\"value\" (JSON inside a JSON string).
    // The key decides: password-like keys give connection_password, token/secret/api key names give api_key.
    pattern:
      /(?<![A-Za-z0-9_.-])(\\?["'])?([A-Za-z][A-Za-z0-9_.-]{0,63})(\\?["'])?(\s{0,4}(?:=>|[:=])\s{0,4})(?:\\"((?:[^"\\\r\n]|\\[^"\r\n]){0,512})\\"|"((?:[^"\\\r\n]|\\.){0,512})"|'((?:[^'\\\r\n]|\\.){0,512})'|(\\?["']?)(\$\{[^}\s]{0,64}\}|[^\s;&,'"<>(){}[\]\\]{1,512}))/g,
    kindOf: (m) => secretKeyKind(m[2] ?? '') ?? 'api_key',
    // A key that names no secret: go on scanning inside its value (`note="password=x"`).
    resumeAfterSkip: (m) => (m[1] ?? '').length + (m[2] ?? '').length + (m[3] ?? '').length + (m[4] ?? '').length,
    redact: (m) => {
      const [whole, , key = '', keyQuote, separator = '', escaped, double, single, bareQuote, bare] = m;
      const kind = secretKeyKind(key);
      const quoted = escaped ?? double ?? single;
      const value = quoted ?? bare ?? '';
      if (!kind || isPlaceholder(value)) return undefined;
      // A count or a limit (`max_token=5`) is no credential.
      if (kind === 'api_key' && /^\d{1,7}$/.test(value)) return undefined;
      // `token: expired` is prose; `token: 9f8e7d6c`, `"token": "..."` and `token=...` are values.
      const bareColon = quoted === undefined && !keyQuote && !bareQuote && !separator.includes('=');
      if (bareColon && !looksLikeToken(value)) return undefined;
      const closing = escaped !== undefined ? '\\"' : double !== undefined ? '"' : single !== undefined ? "'" : '';
      const valueStart = whole.length - value.length - closing.length;
      return `${whole.slice(0, valueStart)}${redacted(kind)}${closing}`;
    },
  },
  {
    kind: 'high_entropy',
    // One class, greedy, nothing after it that could backtrack into it: linear without a bound. A token right
    // after `=` counts (`sig=...` under a key that names no secret).
    pattern: /(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{32,}={0,2}/g,
    redact: (m) => (isHighEntropySecret(m[0]) ? redacted('high_entropy') : undefined),
  },
];

function trailingWhitespace(text: string): string {
  let i = text.length;
  while (i > 0 && /\s/.test(text.charAt(i - 1))) i--;
  return text.slice(i);
}

function applySecretRule(text: string, rule: SecretRule, location: string, findings: Finding[]): string {
  const { pattern } = rule;
  pattern.lastIndex = 0;
  let out = '';
  let copied = 0;
  for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
    const replacement = rule.redact(m);
    if (replacement === undefined) {
      if (rule.resumeAfterSkip) pattern.lastIndex = m.index + Math.max(1, rule.resumeAfterSkip(m));
      continue;
    }
    findings.push({ category: 'secret', kind: rule.kindOf?.(m) ?? rule.kind, location });
    out += text.slice(copied, m.index) + replacement;
    copied = m.index + m[0].length;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

// Injection attempts are flagged, not removed: the text is evidence. Each is reported once per kind per location.
const SHELL_COMMANDS =
  'curl|wget|whoami|uname|nc|ncat|netcat|bash|sh|python[0-9.]{0,4}|perl|php|ruby|base64|powershell';
const HTML_EVENTS =
  'error|load|unload|beforeunload|click|dblclick|contextmenu|mouse[a-z]{2,8}|pointer[a-z]{2,8}|touch[a-z]{3,6}|' +
  'key(?:down|up|press)|focus(?:in|out)?|blur|change|input|submit|reset|select|toggle|search|invalid|begin|' +
  'animation[a-z]{3,9}|transition[a-z]{3,9}|drag[a-z]{0,5}|drop|paste|copy|cut|wheel|scroll|resize|hashchange|' +
  'message|pageshow';

const INJECTION_RULES: { kind: string; patterns: RegExp[] }[] = [
  {
    kind: 'sql',
    patterns: [
      // ' OR 1=1, ' or 'a'='a, ' AND x LIKE
      /'\s{0,8}(?:or|and)\s{1,8}(?:'[^'\n]{0,32}'|"[^"\n]{0,32}"|\d{1,16}|true|[a-z_]{1,32})\s{0,8}(?:=|<|>|like\b)/i,
      /\bunion(?:\s{1,8}all)?\s{1,8}select\b/i,
      /;\s{0,8}(?:drop|truncate|alter)\s{1,8}(?:table|database|schema|user)\b/i,
      /;\s{0,8}(?:delete\s{1,8}from|insert\s{1,8}into|shutdown\b|exec(?:ute)?\s{1,8}(?:xp_|sp_))/i,
      // A comment after a closing quote (admin'--); '--verbose' is an option, not a comment.
      /'\s{0,8}(?:;\s{0,8})?--(?=\s|$)/,
      /\bpg_sleep\s{0,4}\(|(?:'|\b(?:or|and|select|waitfor)\b)\s{0,8}(?:sleep|benchmark)\s{0,4}\(/i,
      /\bwaitfor\s{1,8}delay\s{1,8}'/i,
    ],
  },
  {
    kind: 'script',
    patterns: [
      /<\/?script\b/i,
      /\b(?:java|vb)script\s{0,4}:/i,
      /<(?:iframe|object|embed)\b/i,
      new RegExp(`(?:^|[\\s"'\`/;<])on(?:${HTML_EVENTS})\\s{0,4}=`, 'i'),
    ],
  },
  {
    kind: 'shell',
    patterns: [
      /[;&|]\s{0,8}rm\s{1,8}-[a-z]{0,4}[rf]/i,
      // $(id) is command substitution; $(...) and $(document) are jQuery.
      new RegExp(
        `\\$\\(\\s{0,4}(?:${SHELL_COMMANDS}|id|cat|ls|echo|env|rm|chmod|sleep|ping|nslookup|dig)(?=[\\s)])`,
        'i',
      ),
      // MySQL quotes identifiers in backticks (`id`): a short command word needs arguments to count.
      new RegExp(`\`\\s{0,4}(?:${SHELL_COMMANDS})\\b[^\`\\n]{0,256}\``, 'i'),
      /`\s{0,4}(?:cat|ls|echo|rm|id|env|sleep|ping)\s[^`\n]{1,256}`/i,
      /\|\s{0,8}(?:ba|z|da|k)?sh\b/i,
      new RegExp(`(?:&&|\\|\\||;)\\s{0,8}(?:${SHELL_COMMANDS}|chmod|certutil)\\s`, 'i'),
      /\b(?:wget|curl)\s[^|\r\n]{0,512}\|/i,
      /\/dev\/tcp\//,
    ],
  },
];

// A line break followed by what a log line starts with: a timestamp, a level, logfmt or a JSON log record. Bare
// levels must be upper case: "\nerror: ..." is an ordinary multi-line message, "\nERROR ..." reads as a log line.
const FORGED_LINE = [
  /(?:\r\n?|\n)[ \t]{0,8}(?:\d{4}-\d{2}-\d{2}[T ]|\[(?:info|warn|warning|error|debug|trace|fatal|critical|notice)\]|(?:level|lvl|time|ts|msg)=|\{\s{0,4}"(?:level|time|timestamp|msg|message|severity)"\s{0,4}:)/i,
  /(?:\r\n?|\n)[ \t]{0,8}(?:INFO|WARN|WARNING|ERROR|DEBUG|TRACE|FATAL|CRITICAL|NOTICE)[\s:]/,
];
// ANSI escape sequences (CSI, OSC, two-byte), C0 controls but \t and \n, DEL, C1 controls, and a lone \r.
// \r\n is a plain line end and becomes \n without a finding.
const CONTROL =
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  /\r\n|\x1b\[[0-?]{0,32}[ -/]{0,8}[@-~]|\x1b\][^\x07\x1b]{0,512}(?:\x07|\x1b\\)?|\x1b[@-_]?|[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;

function neutralizeControls(text: string): { text: string; neutralized: boolean } {
  let neutralized = false;
  const out = text.replace(CONTROL, (c) => {
    if (c === '\r\n') return '\n';
    neutralized = true;
    return '';
  });
  return { text: out, neutralized };
}

/**
 * Redact the secrets in one text and flag the injection attempts in it. Control characters that could forge log
 * lines in a terminal (ANSI escapes, C0 controls other than \t and \n, a lone \r) are removed. The result is
 * not bounded here: huntReport bounds each field to the contract.
 */
export function huntText(text: string, location: string): { text: string; findings: Finding[] } {
  const findings: Finding[] = [];
  const forged = FORGED_LINE.some((pattern) => pattern.test(text));
  const { text: neutral, neutralized } = neutralizeControls(text);
  let out = neutral;
  for (const rule of SECRET_RULES) out = applySecretRule(out, rule, location, findings);
  // Scanned after redaction, so that a secret that happens to contain `'--` is not also an injection.
  for (const { kind, patterns } of INJECTION_RULES) {
    if (patterns.some((pattern) => pattern.test(out))) findings.push({ category: 'injection', kind, location });
  }
  if (forged || neutralized) findings.push({ category: 'injection', kind: 'log_forging', location });
  return { text: out, findings };
}

function bound(text: string, max: number): string {
  if (text.length <= max) return text;
  // Never leave half a surrogate pair at the cut.
  const last = text.charCodeAt(max - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
}

/**
 * Hunt through a report's kind, message, stack and attributes (not its fingerprint: that is the producer's key).
 * Returns a new report, every rewritten field within the contract's bounds; the input is left as it was.
 */
export function huntReport(data: ErrorReport): { data: ErrorReport; findings: Finding[] } {
  const findings: Finding[] = [];
  const hunt = (text: string, location: string, max: number): string => {
    const result = huntText(text, location);
    findings.push(...result.findings);
    return bound(result.text, max);
  };

  const out: ErrorReport = {
    ...data,
    kind: hunt(data.kind, 'kind', MAX.kind) || NEUTRALIZED_EMPTY,
    message: hunt(data.message, 'message', MAX.message) || NEUTRALIZED_EMPTY,
  };

  if (typeof data.stack === 'string') {
    out.stack = hunt(data.stack, 'stack', MAX.stack);
  } else if (data.stack) {
    out.stack = data.stack.map((frame, i) => {
      const copy: StackFrame = { ...frame };
      for (const field of FRAME_FIELDS) {
        const value = frame[field];
        if (value !== undefined) copy[field] = hunt(value, `stack.${i}.${field}`, MAX[field]);
      }
      return copy;
    });
  }

  if (data.attributes) {
    out.attributes = Object.fromEntries(
      Object.entries(data.attributes).map(([key, value]) => {
        const location = `attributes.${key}`;
        if (
          isSensitiveAttribute(key) &&
          (typeof value === 'number' || (typeof value === 'string' && !isPlaceholder(value)))
        ) {
          findings.push({ category: 'secret', kind: 'sensitive_attribute', location });
          return [key, redacted('sensitive_attribute')];
        }
        return [key, typeof value === 'string' ? hunt(value, location, MAX.attribute) : value];
      }),
    );
  }

  return { data: out, findings };
}
