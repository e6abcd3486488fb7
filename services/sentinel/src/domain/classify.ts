// Triage of a captured error: its category, escalated severity and blast radius, and the signature statistics use.

export type Category =
  | 'database'
  | 'network'
  | 'dependency'
  | 'resource'
  | 'configuration'
  | 'authentication'
  | 'deployment'
  | 'data'
  | 'application';

export interface ClassifyInput {
  kind: string;
  message: string;
  severity: 'debug' | 'info' | 'warning' | 'error' | 'critical';
  /** Set by a routing rule: it wins over the keyword rules. */
  category?: string;
  /** Occurrences in the current window. */
  count: number;
  total_count: number;
  storm: boolean;
  attributes?: Record<string, string | number | boolean | null>;
}

export interface Classification {
  category: string;
  severity: ClassifyInput['severity'];
  blastRadius: 'low' | 'medium' | 'high';
  /** One sentence saying why, for the incident's trail. */
  reason: string;
}

type Severity = ClassifyInput['severity'];

const SEVERITY_LADDER: readonly Severity[] = ['debug', 'info', 'warning', 'error', 'critical'];

/** Occurrences in the window from which an error counts as widespread: escalated and of high blast radius. */
const WIDESPREAD_COUNT = 100;
/** Occurrences in the window, or in total, from which the blast radius is at least medium. */
const MEDIUM_COUNT = 10;
const MEDIUM_TOTAL_COUNT = 100;

/** Upper bound of the kind inside a signature, in characters: the signature is a key column. */
const SIGNATURE_KIND_MAX = 256;

/**
 * Text the keyword rules read: camelCase and letter/digit boundaries split, lower-cased, one space between words,
 * so `PgPoolError`, `OOMKilled` and `HTTP503` read as `pg pool error`, `oom killed` and `http 503`.
 */
function wordsOf(text: string): string {
  return text
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .replace(/([a-zA-Z])(\d)/g, '$1 $2')
    .replace(/(\d)([a-zA-Z])/g, '$1 $2')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();
}

/** OpenTelemetry semantic-convention attributes that say more than the text: the database system, the HTTP status. */
function attributeWords(attributes: ClassifyInput['attributes']): string {
  if (!attributes) return '';
  const words: string[] = [];
  const dbSystem = attributes['db.system'] ?? attributes['db.system.name'];
  if (typeof dbSystem === 'string' && dbSystem.trim() !== '') words.push(`database ${dbSystem}`);
  const status = attributes['http.response.status_code'] ?? attributes['http.status_code'];
  if (typeof status === 'number' || (typeof status === 'string' && /^\d{3}$/.test(status.trim()))) {
    words.push(`status ${String(status).trim()}`);
  }
  return words.join(' ');
}

interface Rule {
  category: Category;
  /** Any of these, found in the words, classifies the error (unless `alsoNeeds` is set and not met). */
  signals: RegExp;
  /** A second condition: the signal alone is too vague for this category. */
  alsoNeeds?: RegExp;
}

// The ports are the default ones of PostgreSQL, MySQL, MongoDB and Redis: `connect ECONNREFUSED 10.0.0.5:5432`
// names no database but is one.
const DATABASE_WORDS =
  /\b(postgres\w*|postgre|pg|psql|mysql|mariadb|sql|sqlite|mongo\w*|redis|db|database|pool|5432|3306|27017|6379)\b/;

// First match wins, so the more specific categories come first: a refused connection to Postgres is a database
// problem before it is a network one, a rejected password for Postgres an authentication problem before either,
// and an upstream's 504 a dependency problem before a timeout.
const RULES: readonly Rule[] = [
  {
    category: 'authentication',
    signals:
      /\b(unauthori[sz]ed|unauthenticated|forbidden|(status|code|http|response)( code)? 40[13]|40[13] (unauthori[sz]ed|forbidden)|(expired|invalid|revoked|bad) (access |auth |bearer |api )?(token|credentials?|api key|password)|(token|jwt|session|certificate) (has )?expired|credentials?|authenticat\w* (failed|error|required)|password authentication|access denied|permission denied|not authori[sz]ed|eauth)\b/,
  },
  {
    category: 'database',
    signals:
      /\b(econnrefused|econnreset|etimedout|connection( \w+)? (refused|reset|terminated|lost|closed|timeout|timed out)|too many (connections|clients)|deadlock\w*|pool\w*|timeout|timed out)\b/,
    alsoNeeds: DATABASE_WORDS,
  },
  {
    category: 'data',
    signals:
      /\b(constraint|violates|duplicate key|unique violation|foreign key|serializ\w*|could not serialize|corrupt\w*|checksum mismatch|integrity|malformed)\b/,
  },
  {
    category: 'resource',
    signals:
      /\b(oom|oom killed|out of memory|heap out of memory|memory limit\w*|allocation failed|enomem|enospc|disk full|no space left|disk quota|quota exceeded|cpu|throttl\w*|emfile|too many open files|too many (connections|clients)|rate limit\w*|too many requests|(status|code|http)( code)? 429|resource exhausted)\b/,
  },
  {
    category: 'configuration',
    signals:
      /\b(config\w*|misconfigur\w*|missing (required )?(env|environment|setting|option|variable)\w*|env var\w*|environment variable\w*|invalid (setting|option|configuration|value for)\w*|setting \w+ (is )?(not set|missing|invalid)|not configured|unknown option)\b/,
  },
  {
    category: 'deployment',
    signals:
      /\b(image pull\w*|err image pull|image pull back off|crash loop\w*|crashloop\w*|back off restarting|rollout\w*|roll out|rollback|deploy\w*|release|version|incompatible|readiness probe|liveness probe)\b/,
  },
  {
    category: 'dependency',
    signals:
      /\b((status|code|http|response|returned|upstream)( code)? 5\d\d|5\d\d (bad gateway|service unavailable|gateway timeout|internal server error)|bad gateway|service unavailable|gateway timeout|upstream|downstream|circuit( breaker)?( is)? open|circuit breaker|dependency)\b/,
  },
  {
    category: 'network',
    signals:
      /\b(timeout|timed out|etimedout|econnreset|econnrefused|econnaborted|connection (reset|refused|aborted)|socket hang up|epipe|broken pipe|dns|enotfound|eai again|getaddrinfo|ehostunreach|enetunreach|host unreachable|network( is)? unreachable|network error|tls handshake)\b/,
  },
];

function matchCategory(words: string): { category: Category; evidence: string } | undefined {
  for (const rule of RULES) {
    const signal = rule.signals.exec(words);
    if (!signal) continue;
    if (rule.alsoNeeds) {
      const also = rule.alsoNeeds.exec(words);
      if (!also) continue;
      const evidence = also[0] === signal[0] ? `"${signal[0]}"` : `"${signal[0]}" and "${also[0]}"`;
      return { category: rule.category, evidence };
    }
    return { category: rule.category, evidence: `"${signal[0]}"` };
  }
  return undefined;
}

/** A count from the event, null-safe: null, undefined, NaN and negative numbers read as 0. */
function countOf(value: number | null | undefined): number {
  return typeof value === 'number' && value > 0 ? value : 0;
}

/**
 * Classifies a captured error. The category is the routing rule's when it set one, else the first keyword rule
 * matching kind + message (+ OpenTelemetry db/http attributes), else `application`. Severity rises one step on a
 * storm or from 100 occurrences in the window, and never falls. Blast radius is high on a storm, from 100
 * occurrences in the window or at critical severity; medium from 10 in the window or 100 in total; else low.
 */
export function classify(input: ClassifyInput): Classification {
  const count = countOf(input.count);
  const totalCount = countOf(input.total_count);
  const storm = input.storm === true;

  const routed = typeof input.category === 'string' ? input.category.trim() : '';
  let category: string;
  let categoryWhy: string;
  if (routed !== '') {
    category = routed;
    categoryWhy = `category ${category} set by a routing rule`;
  } else {
    const words = [wordsOf(input.kind ?? ''), wordsOf(input.message ?? ''), attributeWords(input.attributes)]
      .filter((part) => part !== '')
      .join(' ');
    const match = matchCategory(words);
    category = match?.category ?? 'application';
    categoryWhy = match
      ? `category ${category} because the error mentions ${match.evidence}`
      : 'category application because no keyword rule matched';
  }

  const widespread = storm || count >= WIDESPREAD_COUNT;
  const widespreadWhy = storm ? 'an error storm' : `${count} occurrences in the window`;
  const rung = SEVERITY_LADDER.indexOf(input.severity);
  const escalated = widespread && rung >= 0 && rung < SEVERITY_LADDER.length - 1;
  const severity: Severity = escalated ? (SEVERITY_LADDER[rung + 1] ?? input.severity) : input.severity;
  const severityWhy = escalated
    ? `severity ${input.severity} escalated to ${severity} for ${widespreadWhy}`
    : `severity ${severity}`;

  let blastRadius: Classification['blastRadius'];
  let blastWhy: string;
  if (widespread) {
    blastRadius = 'high';
    blastWhy = `for ${widespreadWhy}`;
  } else if (severity === 'critical') {
    blastRadius = 'high';
    blastWhy = 'at critical severity';
  } else if (count >= MEDIUM_COUNT) {
    blastRadius = 'medium';
    blastWhy = `for ${count} occurrences in the window`;
  } else if (totalCount >= MEDIUM_TOTAL_COUNT) {
    blastRadius = 'medium';
    blastWhy = `for ${totalCount} occurrences in total`;
  } else {
    blastRadius = 'low';
    blastWhy = `for ${count} occurrences in the window and ${totalCount} in total`;
  }

  const reason = `Triaged with ${categoryWhy}, ${severityWhy}, blast radius ${blastRadius} ${blastWhy}.`;
  return { category, severity, blastRadius, reason };
}

function normalise(text: string, fallback: string): string {
  const collapsed = (text ?? '').trim().toLowerCase().replace(/\s+/g, ' ');
  return collapsed === '' ? fallback : collapsed;
}

/**
 * The error signature learned playbook statistics are kept for: `${category}:${kind}`, lower-cased, trimmed, inner
 * whitespace collapsed, the kind bounded to 256 characters (code points, so no surrogate pair is cut).
 *
 * It leaves out the service and environment on purpose: what works for a kind of error on one service is evidence
 * for the same error on another (a refused Postgres connection is cured by a reconnect wherever it happens), so
 * statistics pool across services and a service seeing an error for the first time starts from what the others
 * have learned instead of from nothing.
 */
export function signatureOf(input: { kind: string; category: string }): string {
  const kind = Array.from(normalise(input.kind, 'unknown')).slice(0, SIGNATURE_KIND_MAX).join('').trimEnd();
  return `${normalise(input.category, 'application')}:${kind}`;
}
