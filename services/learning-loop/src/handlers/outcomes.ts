// What became of each action, as the learning loop records it: contract.verified (the verdict), contract.rolled_back
// and action.denied complete one outcome record per action; each first fact about an action changes the
// statistics of its (signature, playbook) and of its playbook overall, once, whatever is redelivered.
import type { EventData, GraceEvent } from '@grace/contracts';
import type { HandlerContext } from '@grace/service-kit';
import { applyOutcome, type OutcomeDelta } from '../domain/statistics.js';
import {
  insertOutcome,
  lockExistingOutcome,
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

const keysOf = (outcome: OutcomeRow) => [
  { signature: OVERALL, playbook: outcome.playbook },
  ...(outcome.signature ? [{ signature: outcome.signature, playbook: outcome.playbook }] : []),
];

async function record(
  ctx: HandlerContext<Database>,
  facts: ActionFacts,
  now: Date,
  apply: (outcome: OutcomeRow) => { changes: Parameters<typeof updateOutcome>[2]; delta?: OutcomeDelta } | undefined,
  halfLifeMs: number,
) {
  const changeStatistics = async (outcome: OutcomeRow, delta: OutcomeDelta | undefined) => {
    if (delta) await updateStatistics(ctx.trx, keysOf(outcome), (s) => applyOutcome(s, delta, halfLifeMs), now);
  };
  let outcome = await lockExistingOutcome(ctx.trx, facts.action_id);
  if (!outcome) {
    // The first fact about the action: the record is written whole, in one insert.
    const blank: OutcomeRow = {
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
    };
    const step = apply(blank);
    if (await insertOutcome(ctx.trx, { ...blank, ...step?.changes })) return changeStatistics(blank, step?.delta);
    // Another fact about the same action was recorded meanwhile: complete that record instead.
    outcome = await lockExistingOutcome(ctx.trx, facts.action_id);
    if (!outcome) throw new Error(`outcome of action ${facts.action_id} vanished`);
  }
  const step = apply(outcome);
  if (!step) return;
  await updateOutcome(ctx.trx, outcome.action_id, step.changes);
  await changeStatistics(outcome, step.delta);
}

export function onVerified(halfLifeMs: number) {
  return async (event: GraceEvent<'contract.verified'>, ctx: HandlerContext<Database>): Promise<void> => {
    const d = event.data;
    const verifiedAt = new Date(d.verified_at);
    await record(
      ctx,
      d,
      new Date(),
      (outcome) => {
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
      halfLifeMs,
    );
  };
}

export function onRolledBack(halfLifeMs: number) {
  return async (event: GraceEvent<'contract.rolled_back'>, ctx: HandlerContext<Database>): Promise<void> => {
    const d = event.data;
    await record(
      ctx,
      d,
      new Date(),
      (outcome) =>
        outcome.rolled_back
          ? undefined
          : {
              changes: { contract_id: d.contract_id, rolled_back: true },
              delta: { kind: 'rollback', at: new Date(d.rolled_back_at) },
            },
      halfLifeMs,
    );
  };
}

export function onDenied(halfLifeMs: number) {
  return async (event: GraceEvent<'action.denied'>, ctx: HandlerContext<Database>): Promise<void> => {
    const d = event.data;
    await record(
      ctx,
      d,
      new Date(),
      (outcome) =>
        outcome.denied
          ? undefined
          : { changes: { denied: true }, delta: { kind: 'denial', at: new Date(d.denied_at) } },
      halfLifeMs,
    );
  };
}
