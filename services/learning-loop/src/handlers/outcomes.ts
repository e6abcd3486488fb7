// What became of each action, as the learning loop records it: contract.verified (the verdict), contract.rolled_back
// and action.denied complete one outcome record per action; each first fact about an action changes the
// statistics of its (signature, playbook) and of its playbook overall, once, whatever is redelivered.
import type { EventData, GraceEvent } from '@grace/contracts';
import type { BatchContext, HandlerContext } from '@grace/service-kit';
import type { Transaction } from 'kysely';
import { applyOutcome, type OutcomeDelta } from '../domain/statistics.js';
import {
  insertOutcomes,
  lockExistingOutcomes,
  OVERALL,
  updateOutcome,
  updateStatistics,
  type Database,
  type OutcomeRow,
} from '../store.js';

type ActionFacts = Pick<
  EventData<'action.denied'>,
  'action_id' | 'incident_id' | 'signature' | 'playbook' | 'adapter' | 'action' | 'target' | 'tier'
>;

/** What one event says about its action: the facts to start a record with, and how it changes the record. */
interface Fact {
  facts: ActionFacts;
  apply: (outcome: OutcomeRow) => { changes: Parameters<typeof updateOutcome>[2]; delta?: OutcomeDelta } | undefined;
}

const keysOf = (outcome: OutcomeRow) => [
  { signature: OVERALL, playbook: outcome.playbook },
  ...(outcome.signature ? [{ signature: outcome.signature, playbook: outcome.playbook }] : []),
];

const blankOf = (facts: ActionFacts, now: Date): OutcomeRow => ({
  action_id: facts.action_id,
  contract_id: null,
  incident_id: facts.incident_id ?? null,
  playbook: facts.playbook,
  signature: facts.signature ?? null,
  service: facts.target.service,
  environment: facts.target.environment,
  adapter: facts.adapter,
  action: facts.action,
  tier: facts.tier,
  verdict: null,
  confidence: null,
  execution_result: null,
  denied: false,
  rolled_back: false,
  execution_ms: null,
  time_to_verify_ms: null,
  verified_at: null,
  recorded_at: now,
});

/**
 * Record what `found` say, in their order, in a few statements whatever their number: the existing records locked
 * in one, the new ones written whole in one insert, each changed one updated, and the statistics of every key
 * touched changed once (updateStatistics). A record another transaction inserted meanwhile is completed instead.
 */
async function recordAll(trx: Transaction<Database>, found: readonly Fact[], halfLifeMs: number): Promise<void> {
  const now = new Date();
  const existing = new Map(
    (await lockExistingOutcomes(trx, [...new Set(found.map((f) => f.facts.action_id))])).map((o) => [o.action_id, o]),
  );
  const fresh = new Map<string, OutcomeRow>();
  const changed = new Map<string, OutcomeRow>();
  const updates = new Map<string, Parameters<typeof updateOutcome>[2]>();
  const statistics: Parameters<typeof updateStatistics>[1][number][] = [];
  for (const { facts, apply } of found) {
    const id = facts.action_id;
    const known = existing.get(id);
    const outcome = fresh.get(id) ?? changed.get(id) ?? known ?? blankOf(facts, now);
    const step = apply(outcome);
    const next = { ...outcome, ...step?.changes } as OutcomeRow;
    if (known) {
      changed.set(id, next);
      if (step) updates.set(id, { ...updates.get(id), ...step.changes });
    } else fresh.set(id, next);
    if (step?.delta) {
      const delta = step.delta;
      statistics.push({ keys: keysOf(next), change: (s) => applyOutcome(s, delta, halfLifeMs) });
    }
  }
  const inserted = await insertOutcomes(trx, [...fresh.values()]);
  if (inserted.size < fresh.size) {
    // Another transaction recorded a fact about the same action meanwhile (another subject's consumer). One event:
    // nothing was written, and the record now exists: complete it. A batch: each of its events again on its own.
    if (found.length === 1) return recordAll(trx, found, halfLifeMs);
    throw new Error('an outcome of this batch was recorded meanwhile by another transaction');
  }
  for (const [id, changes] of updates) await updateOutcome(trx, id, changes);
  await updateStatistics(trx, statistics, now);
}

/** One consumer per subject: each event one Fact; a batch of them recorded by recordAll. */
function recorder<S extends 'contract.verified' | 'contract.rolled_back' | 'action.denied'>(
  halfLifeMs: number,
  factOf: (event: GraceEvent<S>) => Fact,
) {
  return {
    handler: (event: GraceEvent<S>, ctx: HandlerContext<Database>) => recordAll(ctx.trx, [factOf(event)], halfLifeMs),
    handleBatch: (events: GraceEvent<S>[], ctx: BatchContext<Database>) =>
      recordAll(ctx.trx, events.map(factOf), halfLifeMs),
  };
}

export const onVerified = (halfLifeMs: number) =>
  recorder<'contract.verified'>(halfLifeMs, (event) => {
    const d = event.data;
    const verifiedAt = new Date(d.verified_at);
    return {
      facts: d,
      apply: (outcome) => {
        // One verdict per action: a later one (a re-verification) does not count twice.
        if (outcome.verdict !== null) return undefined;
        const dryRun = d.execution_result === 'dry_run';
        return {
          changes: {
            contract_id: d.contract_id,
            verdict: d.verdict,
            confidence: d.confidence,
            execution_result: d.execution_result ?? null,
            execution_ms: d.execution_ms,
            time_to_verify_ms: d.time_to_verify_ms,
            verified_at: verifiedAt,
          },
          ...(dryRun
            ? {}
            : {
                delta: {
                  kind: 'verdict' as const,
                  verdict: d.verdict,
                  confidence: d.confidence,
                  timeToVerifyMs: d.time_to_verify_ms,
                  at: verifiedAt,
                },
              }),
        };
      },
    };
  });

export const onRolledBack = (halfLifeMs: number) =>
  recorder<'contract.rolled_back'>(halfLifeMs, ({ data: d }) => ({
    facts: d,
    apply: (outcome) =>
      outcome.rolled_back
        ? undefined
        : {
            changes: { contract_id: d.contract_id, rolled_back: true },
            delta: { kind: 'rollback', at: new Date(d.rolled_back_at) },
          },
  }));

export const onDenied = (halfLifeMs: number) =>
  recorder<'action.denied'>(halfLifeMs, ({ data: d }) => ({
    facts: d,
    apply: (outcome) =>
      outcome.denied ? undefined : { changes: { denied: true }, delta: { kind: 'denial', at: new Date(d.denied_at) } },
  }));
