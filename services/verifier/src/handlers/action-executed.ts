// action.executed: queue the verification of the contract, due when its error-rate windows have passed. One that
// needs nothing outside this process (due now, its checks all local) is queued already leased to this process and
// handed to its workers after the commit: judged at once, with no claim.
import type { GraceEvent } from '@grace/contracts';
import type { HandlerContext } from '@grace/service-kit';
import { sql } from 'kysely';
import { randomUUID } from 'node:crypto';
import { dueAt, judgedLocally } from '../judge.js';
import { queueVerification, type Database, type VerificationRow } from '../store.js';

export interface Queueing {
  settleMs: number;
  /** This process's lease owner name (the workers' claims use the same). */
  owner: string;
  /** How long a handed verification stays this process's: long enough to judge it, short enough after a crash. */
  handLeaseMs: number;
  /** Work was committed for the workers to claim. */
  wake: () => void;
  /** Verifications this process leased itself, for its workers. */
  hand: (rows: VerificationRow[]) => void;
}

export function queueJudgement(q: Queueing) {
  return async (event: GraceEvent<'action.executed'>, ctx: HandlerContext<Database>): Promise<void> => {
    const now = new Date();
    const due = dueAt(event.data, q.settleMs);
    const handed = due <= now && judgedLocally(event.data);
    const queued = await queueVerification(ctx.trx, {
      id: randomUUID(),
      contract_id: event.data.contract_id,
      action_id: event.data.action_id,
      executed: JSON.stringify(event.data),
      correlation_id: event.correlationid ?? event.id,
      traceparent: ctx.traceparent ?? null,
      status: 'pending',
      due_at: due,
      created_at: now,
      ...(handed
        ? { lease_owner: q.owner, lease_until: sql<Date>`now() + make_interval(secs => ${q.handLeaseMs / 1000})` }
        : {}),
    });
    if (!queued) ctx.log.info({ contract_id: event.data.contract_id }, 'contract already queued for verification');
    else if (handed) ctx.afterCommit(() => q.hand([queued]));
    else if (due <= now) ctx.afterCommit(q.wake);
  };
}
