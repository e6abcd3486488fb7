// The contract status machine, written once: every status, every allowed transition with the event that causes it
// (and the condition it needs, if any), and `next`, the pure function every step asks before it writes a status.
import type { schemas } from '@grace/contracts';

export type ContractStatus = schemas.ContractStatus;

export const CONTRACT_STATUSES: readonly ContractStatus[] = [
  'pending',
  'approved',
  'snapshotted',
  'executing',
  'executed',
  'verified',
  'failed',
  'rolling_back',
  'rolled_back',
  'expired',
  'denied',
];

/** Statuses nothing moves on from. */
export const FINAL_STATUSES: readonly ContractStatus[] = ['verified', 'failed', 'rolled_back', 'expired', 'denied'];

/** What happens to a contract, and which step says so. */
export type ContractEvent =
  /** admission: the constitution and the policy let it run, no approval needed */
  | 'admitted'
  /** admission: the policy asks for a quorum first (the contract stays pending until the vote) */
  | 'approval_requested'
  /** a vote reached the quorum */
  | 'approval_granted'
  /** admission (constitution, policy) or a rejected approval: it never runs */
  | 'denied'
  /** the quorum was not reached in time: it never runs */
  | 'approval_expired'
  /** worker, tier >= 2: the snapshot is stored */
  | 'snapshot_taken'
  /** worker, tier >= 2: no snapshot, so no action */
  | 'snapshot_failed'
  /** worker: the action is handed to its adapter (recorded before the call) */
  | 'started'
  /** worker: a dry run is recorded instead of executed */
  | 'dry_run_recorded'
  /** worker: the adapter answered (succeeded or failed); the verifier judges */
  | 'executed'
  /** worker: the adapter ran past its timeout, or the worker running it was lost (its lease ran out) */
  | 'cut_short'
  /** verdict: verified */
  | 'verified'
  /** verdict: drift or failed */
  | 'rejected'
  /** worker: the snapshot is back */
  | 'restored'
  /** worker: a restore failed, another try is due */
  | 'restore_retry'
  /** worker: the restore failed its last try; a human takes it from here */
  | 'restore_failed';

/** What a condition of a transition looks at. */
export interface ContractFacts {
  tier: number;
  /** A snapshot was taken (snapshot_id is set). */
  snapshot: boolean;
  dryRun: boolean;
}

export interface Transition {
  from: ContractStatus;
  event: ContractEvent;
  to: ContractStatus;
  /** Only when this holds; the rows of one (from, event) are tried in order. */
  when?: { describe: string; holds: (facts: ContractFacts) => boolean };
}

const tier1 = { describe: 'tier 1 (no snapshot needed)', holds: (f: ContractFacts) => f.tier < 2 };
const tier2 = { describe: 'tier >= 2', holds: (f: ContractFacts) => f.tier >= 2 };
const snapshot = { describe: 'a snapshot was taken', holds: (f: ContractFacts) => f.snapshot };
const noSnapshot = { describe: 'no snapshot', holds: (f: ContractFacts) => !f.snapshot };
const restorable = {
  describe: 'a snapshot was taken, not a dry run',
  holds: (f: ContractFacts) => f.snapshot && !f.dryRun,
};
const otherwise = { describe: 'otherwise', holds: () => true };

export const TRANSITIONS: readonly Transition[] = [
  { from: 'pending', event: 'admitted', to: 'approved' },
  { from: 'pending', event: 'approval_requested', to: 'pending' },
  { from: 'pending', event: 'approval_granted', to: 'approved' },
  { from: 'pending', event: 'denied', to: 'denied' },
  { from: 'pending', event: 'approval_expired', to: 'expired' },
  { from: 'approved', event: 'snapshot_taken', to: 'snapshotted', when: tier2 },
  { from: 'approved', event: 'snapshot_failed', to: 'failed', when: tier2 },
  { from: 'approved', event: 'started', to: 'executing', when: tier1 },
  { from: 'approved', event: 'dry_run_recorded', to: 'executed', when: tier1 },
  { from: 'snapshotted', event: 'started', to: 'executing' },
  { from: 'snapshotted', event: 'dry_run_recorded', to: 'executed' },
  { from: 'executing', event: 'executed', to: 'executed' },
  { from: 'executing', event: 'cut_short', to: 'rolling_back', when: snapshot },
  { from: 'executing', event: 'cut_short', to: 'failed', when: noSnapshot },
  { from: 'executed', event: 'verified', to: 'verified' },
  { from: 'executed', event: 'rejected', to: 'rolling_back', when: restorable },
  { from: 'executed', event: 'rejected', to: 'failed', when: otherwise },
  { from: 'rolling_back', event: 'restored', to: 'rolled_back' },
  { from: 'rolling_back', event: 'restore_retry', to: 'rolling_back' },
  { from: 'rolling_back', event: 'restore_failed', to: 'failed' },
];

export type NextStatus = { ok: true; status: ContractStatus } | { ok: false; error: string };

/** The status `event` moves a contract in `status` to, or why it may not. Pure. */
export function next(status: ContractStatus, event: ContractEvent, facts?: ContractFacts): NextStatus {
  const rows = TRANSITIONS.filter((t) => t.from === status && t.event === event);
  if (rows.length === 0) return { ok: false, error: `a ${status} contract cannot take ${event}` };
  for (const row of rows) {
    if (!row.when) return { ok: true, status: row.to };
    if (facts && row.when.holds(facts)) return { ok: true, status: row.to };
  }
  const needs = rows.map((r) => r.when?.describe).join(' or ');
  return { ok: false, error: `a ${status} contract takes ${event} only when ${needs}` };
}

export class TransitionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TransitionError';
  }
}

/** `next`, for a step that must not go on with a transition the machine refuses. */
export function mustNext(status: ContractStatus, event: ContractEvent, facts?: ContractFacts): ContractStatus {
  const result = next(status, event, facts);
  if (!result.ok) throw new TransitionError(result.error);
  return result.status;
}

/** The facts of a contract row. */
export function factsOf(c: { tier: number; snapshot_id: string | null; dry_run: boolean }): ContractFacts {
  return { tier: c.tier, snapshot: c.snapshot_id !== null, dryRun: c.dry_run };
}
