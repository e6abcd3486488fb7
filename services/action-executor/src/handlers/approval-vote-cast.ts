// approval.vote.cast: one operator's vote on a pending approval (recorded with who and when, counted or not).
import type { GraceEvent } from '@grace/contracts';
import type { HandlerContext } from '@grace/service-kit';
import { castVote } from '../approvals.js';
import { inStep, type ExecutorDeps } from '../lifecycle.js';
import type { Database } from '../store.js';

export function receiveVote(deps: ExecutorDeps) {
  return async (event: GraceEvent<'approval.vote.cast'>, ctx: HandlerContext<Database>): Promise<void> => {
    const granted = await inStep(ctx, (step) => castVote(step, deps, event.data));
    if (granted) ctx.afterCommit(deps.wake);
  };
}
