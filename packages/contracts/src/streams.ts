// JetStream stream definitions (names, subjects, retention, duplicate window) and subject helpers, in one place.

export interface StreamDefinition {
  /** Stream name without any deployment prefix. */
  readonly name: string;
  readonly description: string;
  /** Subject filters (NATS wildcards allowed) without any deployment prefix. */
  readonly subjects: readonly string[];
  /** Limits retention: messages older than this are removed (consumers each keep their own position). */
  readonly maxAgeMs: number;
  /** Messages published twice with the same Nats-Msg-Id inside this window are stored once. */
  readonly duplicateWindowMs: number;
  /** Largest message accepted (bounded input, rule 6). */
  readonly maxMsgSize: number;
}

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

// The duplicate window bounds how long after a crash the outbox relay can republish without a
// duplicate reaching the stream; consumers' inboxes dedupe anything older.
const DUPLICATE_WINDOW_MS = 10 * MINUTE;
const MAX_MSG_SIZE = 128 * 1024;

export const streams: readonly StreamDefinition[] = [
  {
    name: 'GRACE_REPORTS',
    description: 'Raw errors as producers reported them (unredacted: kept briefly, read only by trigger-mesh)',
    subjects: ['error.reported'],
    maxAgeMs: 1 * DAY,
    duplicateWindowMs: DUPLICATE_WINDOW_MS,
    maxMsgSize: MAX_MSG_SIZE,
  },
  {
    name: 'GRACE_ERRORS',
    description: 'Captured (redacted, deduplicated) errors, resolved alerts and security findings',
    subjects: ['error.captured', 'alert.>', 'security.>'],
    maxAgeMs: 3 * DAY,
    duplicateWindowMs: DUPLICATE_WINDOW_MS,
    maxMsgSize: MAX_MSG_SIZE,
  },
  {
    name: 'GRACE_INCIDENTS',
    description: 'Incident lifecycle events',
    subjects: ['incident.>'],
    maxAgeMs: 14 * DAY,
    duplicateWindowMs: DUPLICATE_WINDOW_MS,
    maxMsgSize: MAX_MSG_SIZE,
  },
  {
    name: 'GRACE_ACTIONS',
    description: 'Action requests, approvals, executions and contract verdicts',
    subjects: ['action.>', 'approval.>', 'contract.>'],
    maxAgeMs: 14 * DAY,
    duplicateWindowMs: DUPLICATE_WINDOW_MS,
    maxMsgSize: MAX_MSG_SIZE,
  },
  {
    name: 'GRACE_LEARNING',
    description: 'Playbook statistics',
    subjects: ['playbook.>'],
    maxAgeMs: 14 * DAY,
    duplicateWindowMs: DUPLICATE_WINDOW_MS,
    maxMsgSize: MAX_MSG_SIZE,
  },
  {
    name: 'GRACE_DLQ',
    description: 'Dead letters: events a consumer gave up on, with the reason',
    subjects: ['dlq.>'],
    maxAgeMs: 30 * DAY,
    duplicateWindowMs: DUPLICATE_WINDOW_MS,
    // A dead letter wraps the original event (up to its own limit) with the reason.
    maxMsgSize: 2 * MAX_MSG_SIZE,
  },
];

/** NATS subject matching: `*` matches one token, `>` one or more trailing tokens. */
export function subjectMatches(filter: string, subject: string): boolean {
  const f = filter.split('.');
  const s = subject.split('.');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '>') return s.length > i;
    if (i >= s.length) return false;
    if (f[i] !== '*' && f[i] !== s[i]) return false;
  }
  return f.length === s.length;
}

/** The stream that captures a subject; throws when no stream does (a contract bug, not input). */
export function streamFor(subject: string): StreamDefinition {
  const stream = streams.find((s) => s.subjects.some((filter) => subjectMatches(filter, subject)));
  if (!stream) throw new Error(`no stream captures subject "${subject}"`);
  return stream;
}

export const DEAD_LETTER_PREFIX = 'dlq.';

/** `dlq.<original subject>`. */
export function deadLetterSubject(subject: string): string {
  return `${DEAD_LETTER_PREFIX}${subject}`;
}
