// error.captured: the captures error-rate checks count errors by; batched, as captures come in bursts.
import type { GraceEvent } from '@grace/contracts';
import type { BatchContext, HandlerContext } from '@grace/service-kit';
import { recordCaptures, type Database } from '../store.js';

const captureOf = (event: GraceEvent<'error.captured'>) => ({
  service: event.data.service,
  environment: event.data.environment,
  fingerprint: event.data.fingerprint,
  first_seen: new Date(event.data.first_seen),
  last_seen: new Date(event.data.last_seen),
  count: event.data.count,
});

export const countErrorsBatch = async (events: GraceEvent<'error.captured'>[], ctx: BatchContext<Database>) =>
  recordCaptures(ctx.trx, events.map(captureOf));

export const countErrors = async (event: GraceEvent<'error.captured'>, ctx: HandlerContext<Database>) =>
  recordCaptures(ctx.trx, [captureOf(event)]);
