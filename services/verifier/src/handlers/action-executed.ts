// action.executed: queue the verification of the contract, due when its error-rate windows have passed.
import type { GraceEvent } from '@grace/contracts';
import type { HandlerContext } from '@grace/service-kit';
import { randomUUID } from 'node:crypto';
import { dueAt } from '../judge.js';
import { queueVerification, type Database } from '../store.js';

export function queueJudgement(settleMs: number, wake: () => void) {
  return async (event: GraceEvent<'action.executed'>, ctx: HandlerContext<Database>): Promise<void> => {
    const now = new Date();
    const due = dueAt(event.data, settleMs);
    const queued = await queueVerification(ctx.trx, {
      id: randomUUID(),
      contract_id: event.data.contract_id,
      action_id: event.data.action_id,
      executed: JSON.stringify(event.data),
      correlation_id: event.correlationid ?? event.id,
      status: 'pending',
      due_at: due,
      created_at: now,
    });
    if (!queued) ctx.log.info({ contract_id: event.data.contract_id }, 'contract already queued for verification');
    else if (due <= now) ctx.afterCommit(wake);
  };
}
