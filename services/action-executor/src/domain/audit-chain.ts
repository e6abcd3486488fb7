// The tamper-evident audit chain: how an entry is hashed (canonical JSON, SHA-256 over the previous hash) and how a
// run of stored entries is verified link by link.
import { createHash } from 'node:crypto';

/** The previous hash of the very first entry. */
export const GENESIS_HASH = '0'.repeat(64);

/** What is hashed: every stored field of an entry except its own hash. */
export interface AuditFields {
  seq: number;
  at: string;
  step: string;
  actor: string;
  contract_id: string | null;
  action_id: string | null;
  detail: Record<string, unknown>;
  prev_hash: string;
}

export interface StoredAuditEntry extends AuditFields {
  hash: string;
}

/**
 * JSON with object keys sorted at every level, so the hash does not depend on key order (Postgres jsonb reorders
 * keys) and one value always hashes the same.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function hashEntry(fields: AuditFields): string {
  return createHash('sha256').update(canonicalJson(fields)).digest('hex');
}

export interface ChainVerification {
  ok: boolean;
  checked: number;
  first_broken_seq?: number;
  reason?: string;
}

/** Where a verification left off, so a long chain is verified page by page. */
export interface ChainPosition {
  /** The seq the next entry must have. */
  nextSeq: number;
  /** The hash the next entry must name as its previous one. */
  prevHash: string;
}

export const CHAIN_START: ChainPosition = { nextSeq: 1, prevHash: GENESIS_HASH };

/**
 * Verify `entries` (ordered by seq) continuing from `position`: every seq follows the last (a deleted row leaves
 * a gap), every entry names the hash of the one before, and every hash matches the entry's content.
 */
export function verifyEntries(
  entries: readonly StoredAuditEntry[],
  position: ChainPosition,
): { position: ChainPosition; broken?: { seq: number; reason: string } } {
  let { nextSeq, prevHash } = position;
  for (const entry of entries) {
    if (entry.seq !== nextSeq) {
      return {
        position: { nextSeq, prevHash },
        broken: {
          seq: entry.seq,
          reason:
            entry.seq > nextSeq
              ? `entries ${nextSeq}..${entry.seq - 1} are missing (deleted rows)`
              : `entry ${entry.seq} is out of order`,
        },
      };
    }
    if (entry.prev_hash !== prevHash) {
      return {
        position: { nextSeq, prevHash },
        broken: { seq: entry.seq, reason: `entry ${entry.seq} does not name the hash of entry ${entry.seq - 1}` },
      };
    }
    const { hash, ...fields } = entry;
    if (hashEntry(fields) !== hash) {
      return {
        position: { nextSeq, prevHash },
        broken: { seq: entry.seq, reason: `entry ${entry.seq} was altered: its content no longer matches its hash` },
      };
    }
    nextSeq = entry.seq + 1;
    prevHash = hash;
  }
  return { position: { nextSeq, prevHash } };
}
