import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import {
  CONTRACT_STATUSES,
  FINAL_STATUSES,
  mustNext,
  next,
  TRANSITIONS,
  TransitionError,
  type ContractEvent,
  type ContractFacts,
  type ContractStatus,
} from './contract-status.js';

const EVENTS: readonly ContractEvent[] = [
  'admitted',
  'approval_requested',
  'approval_granted',
  'denied',
  'approval_expired',
  'snapshot_taken',
  'snapshot_failed',
  'started',
  'dry_run_recorded',
  'executed',
  'cut_short',
  'verified',
  'rejected',
  'restored',
  'restore_retry',
  'restore_failed',
];

const facts = (overrides: Partial<ContractFacts> = {}): ContractFacts => ({
  tier: 1,
  snapshot: false,
  dryRun: false,
  ...overrides,
});
const tier1 = facts();
const tier2 = facts({ tier: 2 });
const withSnapshot = facts({ tier: 2, snapshot: true });
const dryRunWithSnapshot = facts({ tier: 2, snapshot: true, dryRun: true });

/** Written out here on its own, so the table in the module is checked against it, not against itself. */
const ALLOWED: [ContractStatus, ContractEvent, ContractFacts, ContractStatus][] = [
  ['pending', 'admitted', tier1, 'approved'],
  ['pending', 'approval_requested', tier2, 'pending'],
  ['pending', 'approval_granted', tier2, 'approved'],
  ['pending', 'denied', tier1, 'denied'],
  ['pending', 'approval_expired', tier2, 'expired'],
  ['approved', 'snapshot_taken', tier2, 'snapshotted'],
  ['approved', 'snapshot_failed', tier2, 'failed'],
  ['approved', 'started', tier1, 'executing'],
  ['approved', 'dry_run_recorded', facts({ dryRun: true }), 'executed'],
  ['snapshotted', 'started', withSnapshot, 'executing'],
  ['snapshotted', 'dry_run_recorded', dryRunWithSnapshot, 'executed'],
  ['executing', 'executed', tier1, 'executed'],
  ['executing', 'executed', withSnapshot, 'executed'],
  ['executing', 'cut_short', withSnapshot, 'rolling_back'],
  ['executing', 'cut_short', tier1, 'failed'],
  ['executed', 'verified', tier1, 'verified'],
  ['executed', 'rejected', withSnapshot, 'rolling_back'],
  ['executed', 'rejected', tier1, 'failed'],
  ['executed', 'rejected', dryRunWithSnapshot, 'failed'],
  ['rolling_back', 'restored', withSnapshot, 'rolled_back'],
  ['rolling_back', 'restore_retry', withSnapshot, 'rolling_back'],
  ['rolling_back', 'restore_failed', withSnapshot, 'failed'],
];

/** Allowed events, but refused for these facts: the conditions of the machine. */
const REFUSED_BY_CONDITION: [ContractStatus, ContractEvent, ContractFacts][] = [
  ['approved', 'started', tier2], // no snapshot, no action
  ['approved', 'dry_run_recorded', tier2], // a tier >= 2 dry run records its snapshot first
  ['approved', 'snapshot_taken', tier1],
  ['approved', 'snapshot_failed', tier1],
];

describe('the contract status machine', () => {
  it.each(ALLOWED)('%s --%s--> %s', (from, event, f, to) => {
    expect(next(from, event, f)).toEqual({ ok: true, status: to });
    expect(mustNext(from, event, f)).toBe(to);
  });

  it.each(REFUSED_BY_CONDITION)('refuses %s --%s-- when its condition does not hold', (from, event, f) => {
    const result = next(from, event, f);
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.error).toContain('only when');
    expect(() => mustNext(from, event, f)).toThrow(TransitionError);
  });

  it('refuses a guarded transition when no facts are given', () => {
    expect(next('approved', 'started').ok).toBe(false);
  });

  const allowedPairs = new Set(ALLOWED.map(([from, event]) => `${from} ${event}`));
  const refused = CONTRACT_STATUSES.flatMap((s) =>
    EVENTS.filter((e) => !allowedPairs.has(`${s} ${e}`)).map((e) => [s, e] as const),
  );

  it.each(refused)('refuses %s --%s--', (from, event) => {
    for (const f of [tier1, tier2, withSnapshot, dryRunWithSnapshot]) {
      const result = next(from, event, f);
      expect(result).toEqual({ ok: false, error: `a ${from} contract cannot take ${event}` });
    }
  });

  it('has exactly the transitions listed here, and a final status moves on by none', () => {
    const table = new Set(TRANSITIONS.map((t) => `${t.from} ${t.event}`));
    expect([...table].sort()).toEqual([...allowedPairs].sort());
    for (const status of FINAL_STATUSES) expect(TRANSITIONS.filter((t) => t.from === status)).toEqual([]);
    // Every status is reached from pending.
    const reached = new Set<ContractStatus>(['pending']);
    for (let i = 0; i < CONTRACT_STATUSES.length; i++)
      for (const t of TRANSITIONS) if (reached.has(t.from)) reached.add(t.to);
    expect([...reached].sort()).toEqual([...CONTRACT_STATUSES].sort());
  });

  it("is the table in the executor's README", () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const statuses = CONTRACT_STATUSES.join('|');
    const rows = [...readme.matchAll(new RegExp(`^\\| (${statuses}) \\| \`(\\w+)\` \\| (${statuses}) \\|`, 'gm'))].map(
      (m) => `${m[1]} ${m[2]} ${m[3]}`,
    );
    expect(rows.sort()).toEqual(TRANSITIONS.map((t) => `${t.from} ${t.event} ${t.to}`).sort());
  });
});
