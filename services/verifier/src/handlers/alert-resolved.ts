// alert.resolved: an alert its source (Alertmanager, through trigger-mesh) reported resolved, with how many of its
// group still fire, kept as evidence for the error_rate checks of the service (judge.ts: withResolutions).
import type { GraceEvent } from '@grace/contracts';
import type { HandlerContext } from '@grace/service-kit';
import { recordResolutions, type Database } from '../store.js';

export const recordResolution = async (event: GraceEvent<'alert.resolved'>, ctx: HandlerContext<Database>) =>
  recordResolutions(ctx.trx, [
    {
      service: event.data.service,
      environment: event.data.environment,
      fingerprint: event.data.fingerprint,
      alert_fingerprint: event.data.alert_fingerprint,
      starts_at: new Date(event.data.starts_at),
      ends_at: new Date(event.data.ends_at),
      firing: event.data.firing,
    },
  ]);
