// contract.verified: the verifier's verdict. Verified ends the contract; drift or failure with a snapshot starts the
// rollback (the workers restore it); without a snapshot the contract ends failed.
import type { GraceEvent } from '@grace/contracts';
import { PermanentError, type HandlerContext } from '@grace/service-kit';
import { factsOf, mustNext, next } from '../domain/contract-status.js';
import { audit, inStep, type ExecutorDeps, type Step } from '../lifecycle.js';
import { lockContract, updateContract, updateContractIf, type ContractRow, type Database } from '../store.js';

export function receiveVerdict(deps: ExecutorDeps) {
  return async (event: GraceEvent<'contract.verified'>, ctx: HandlerContext<Database>): Promise<void> => {
    const d = event.data;
    const rollingBack = await inStep(ctx, async (step) => {
      const verdict = { verdict: d.verdict, confidence: d.confidence, verification_id: d.verification_id };
      // The common case, a verified verdict for a contract waiting for it, is one guarded update (executed ->
      // verified needs no fact of the row); anything else reads the row under its lock first.
      const done =
        d.verdict === 'verified'
          ? await updateContractIf(
              ctx.trx,
              d.contract_id,
              { status: 'executed' },
              { ...verdict, status: mustNext('executed', 'verified') },
            )
          : undefined;
      if (done) {
        auditVerdict(step, done, d);
        return false;
      }
      const contract = await lockContract(ctx.trx, d.contract_id);
      if (!contract) throw new PermanentError(`no contract ${d.contract_id} is known to this executor`);
      // The status machine moves only a contract waiting for its verdict (executed); one that has moved on (rolled
      // back after a timeout) keeps its status and records the verdict.
      const moved = next(contract.status, d.verdict === 'verified' ? 'verified' : 'rejected', factsOf(contract));
      const status = moved.ok ? moved.status : contract.status;
      const rollBack = moved.ok && moved.status === 'rolling_back';
      if (!moved.ok) step.log.info({ contract_id: contract.id, verdict: d.verdict }, `late verdict: ${moved.error}`);
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
      auditVerdict(step, row, d);
      return rollBack;
    });
    if (rollingBack) ctx.afterCommit(deps.wake);
  };
}

function auditVerdict(step: Step, row: ContractRow, d: GraceEvent<'contract.verified'>['data']): void {
  audit(step, row, 'verdict.received', {
    verification_id: d.verification_id,
    verdict: d.verdict,
    confidence: d.confidence,
    reason: d.reason,
    status: row.status,
  });
}
