// Every domain event lands in staging unchanged, once (the kit's inbox), a handled batch as one staged row.
import type { EventSubject, GraceEvent } from '@grace/contracts';
import type { BatchContext, HandlerContext } from '@grace/service-kit';
import { stageEvents, type Database } from '../store.js';

/** The subjects the cube keeps: every fact of Grace's flow except raw reports (their captures are kept). */
export const STAGED_SUBJECTS = [
  'error.captured',
  'security.finding',
  'incident.opened',
  'incident.updated',
  'incident.resolved',
  'incident.escalated',
  'action.requested',
  'action.denied',
  'action.executed',
  'approval.requested',
  'approval.granted',
  'approval.rejected',
  'approval.expired',
  'approval.vote.cast',
  'contract.verified',
  'contract.rolled_back',
  'playbook.stats.updated',
] as const satisfies readonly EventSubject[];

export const stageOne = async (event: GraceEvent, ctx: HandlerContext<Database>) =>
  stageEvents(ctx.trx, [event], new Date());

export const stageMany = async (events: GraceEvent[], ctx: BatchContext<Database>) =>
  stageEvents(ctx.trx, events, new Date());
