// contract.verified: the verifier's verdict. Verified ends the contract; drift or failure with a snapshot starts the
// rollback (the workers restore it); without a snapshot the contract ends failed.
import type { GraceEvent } from '@grace/contracts';
import { PermanentError, type HandlerContext } from '@grace/service-kit';
import { audit, inStep, type ExecutorDeps } from '../lifecycle.js';
import { lockContract, updateContract, type Database } from '../store.js';

export function receiveVerdict(deps: ExecutorDeps) {
  return async (event: GraceEvent<'contract.verified'>, ctx: HandlerContext<Database>): Promise<void> => {
    const d = event.data;
    const rollingBack = await inStep(ctx, async (step) => {
      const contract = await lockContract(ctx.trx, d.contract_id);
      if (!contract) throw new PermanentError(`no contract ${d.contract_id} is known to this executor`);
      const verdict = { verdict: d.verdict, confidence: d.confidence, verification_id: d.verification_id };
      // Only a contract waiting for its verdict moves; one already rolled back (timeout) keeps its status.
      const waiting = contract.status === 'executed';
      const rollBack = waiting && d.verdict !== 'verified' && contract.snapshot_id !== null && !contract.dry_run;
      const status = !waiting
        ? contract.status
        : d.verdict === 'verified'
          ? 'verified'
          : rollBack
            ? 'rolling_back'
            : 'failed';
      const row = await updateContract(ctx.trx, contract.id, {
        ...verdict,
        status,
        ...(rollBack
          ? {
              rollback_trigger: d.verdict === 'drift' ? ('drift' as const) : ('failed' as const),
              rollback_reason: d.reason,
            }
          : {}),
      });
      audit(step, row, 'verdict.received', {
        verification_id: d.verification_id,
        verdict: d.verdict,
        confidence: d.confidence,
        reason: d.reason,
        status,
      });
      return rollBack;
    });
    if (rollingBack) ctx.afterCommit(deps.wake);
  };
}
