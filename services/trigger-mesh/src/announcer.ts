// The sweeper that announces counts not yet announced (storms, and repeats inside the emit interval).
import { every, type ServiceRuntime } from '@grace/service-kit';
import { capturedData } from './handlers/error-reported.js';
import { claimUnannounced, markAnnounced, type Database } from './store.js';
import type { TriggerMeshMetrics } from './metrics.js';

export function startAnnouncer(
  runtime: ServiceRuntime<Database, unknown>,
  emitIntervalMs: number,
  metrics: TriggerMeshMetrics,
): { stop: () => Promise<void>; sweep: () => Promise<number> } {
  const sweep = () =>
    runtime.transaction(async (trx, emit) => {
      const now = new Date();
      const rows = await claimUnannounced(trx, now, emitIntervalMs, 500);
      for (const row of rows) {
        const announced = { ...row, announcements: row.announcements + 1 };
        const event = emit('error.captured', capturedData(announced, row.last_event_id), {
          correlationid: row.last_correlation_id,
        });
        await markAnnounced(trx, row, now, event.id);
        metrics.announced.inc({ update: String(announced.announcements > 1) });
      }
      return rows.length;
    });
  const periodic = every('announcing counts', Math.max(100, Math.floor(emitIntervalMs / 4)), sweep, runtime.log);
  return { sweep, stop: periodic.stop };
}
