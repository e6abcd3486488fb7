// Every domain event lands in staging unchanged, once (the kit's inbox), a handled batch as one staged row. One
// consumer per stream takes them (STAGED_STREAMS): a batch mixes the subjects of its stream.
import { streamFor, type EventSubject, type GraceEvent } from '@grace/contracts';
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

/** The staged subjects by stream, in the order of STAGED_SUBJECTS: what each of the landing consumers takes. */
export const STAGED_STREAMS: ReadonlyMap<string, readonly EventSubject[]> = STAGED_SUBJECTS.reduce(
  (byStream, subject) => {
    const name = streamFor(subject).name;
    byStream.set(name, [...(byStream.get(name) ?? []), subject]);
    return byStream;
  },
  new Map<string, EventSubject[]>(),
);

export const stageOne = async (event: GraceEvent, ctx: HandlerContext<Database>) =>
  stageEvents(ctx.trx, [event], new Date());

export const stageMany = async (events: GraceEvent[], ctx: BatchContext<Database>) =>
  stageEvents(ctx.trx, events, new Date());
