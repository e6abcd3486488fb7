// error.reported -> hunter (redact, flag) -> routing rules -> fingerprint -> dedupe window + storm control
// -> error.captured (first of a window, or a count update at most once per interval) and security.finding.
import type { EventData, GraceEvent } from '@grace/contracts';
import type { HandlerContext } from '@grace/service-kit';
import { fingerprintOf } from '../domain/fingerprint.js';
import { huntReport } from '../domain/hunter.js';
import type { CompiledRules } from '../domain/rules.js';
import type { StormControl } from '../domain/storm.js';
import { countDrop, countOccurrence, insertOccurrence, type Capture, type Database, type Windowing } from '../store.js';
import type { TriggerMeshMetrics } from '../metrics.js';

export interface CaptureDeps {
  rules: () => CompiledRules;
  storm: StormControl;
  windowing: Windowing;
  metrics: TriggerMeshMetrics;
  now?: () => Date;
}

const MAX_STACK_CHARS = 32_768;

/** A stack as text for the capture: raw stacks as they came, frames one per line (innermost last). */
export function stackText(stack: EventData<'error.reported'>['stack']): string | null {
  if (stack === undefined) return null;
  if (typeof stack === 'string') return stack.slice(0, MAX_STACK_CHARS);
  return stack
    .map((f) => `    at ${f.function ?? '<anonymous>'} (${f.file ?? f.module ?? '?'}:${f.line ?? 0}:${f.column ?? 0})`)
    .join('\n')
    .slice(0, MAX_STACK_CHARS);
}

/** The error.captured data announcing a capture's current state. */
export function capturedData(capture: Capture, reportedEventId: string): EventData<'error.captured'> {
  const iso = (d: Date | string) => new Date(d).toISOString();
  return {
    capture_id: capture.id,
    fingerprint: capture.fingerprint,
    service: capture.service,
    environment: capture.environment,
    kind: capture.kind,
    message: capture.message,
    severity: capture.severity,
    ...(capture.category ? { category: capture.category } : {}),
    ...(capture.stack ? { stack: capture.stack } : {}),
    ...(capture.attributes ? { attributes: capture.attributes as EventData<'error.captured'>['attributes'] } : {}),
    first_seen: iso(capture.first_seen),
    last_seen: iso(capture.last_seen),
    count: capture.window_count,
    total_count: Number(capture.total_count),
    update: capture.window_count > 1,
    storm: capture.storm,
    ...(capture.route ? { route: capture.route } : {}),
    ...(capture.muted_until ? { muted_until: iso(capture.muted_until) } : {}),
    reported_event_id: reportedEventId,
    security_flags: capture.security_flags.slice(0, 32),
  };
}

export function captureError(deps: CaptureDeps) {
  return async (event: GraceEvent<'error.reported'>, ctx: HandlerContext<Database>): Promise<void> => {
    const now = deps.now?.() ?? new Date();
    const { data, findings } = huntReport(event.data);
    for (const [index, finding] of findings.entries()) {
      deps.metrics.findings.inc({ category: finding.category, kind: finding.kind });
      ctx.emit('security.finding', {
        finding_id: `${event.id.slice(0, 120)}:${index}`,
        category: finding.category,
        kind: finding.kind,
        location: finding.location,
        service: data.service,
        environment: data.environment,
        reported_event_id: event.id,
        action: finding.category === 'secret' ? 'redacted' : 'flagged',
        detected_at: now.toISOString(),
      });
    }

    const decision = deps.rules().evaluate(data, now);
    if (decision.drop) {
      await countDrop(ctx.trx, decision.droppedBy ?? 'unknown', data.service, data.environment, now);
      deps.metrics.dropped.inc({ rule: decision.droppedBy ?? 'unknown' });
      ctx.log.debug({ rule: decision.droppedBy }, 'dropped by a routing rule');
      return;
    }

    const fingerprint = fingerprintOf(data);
    const storm = deps.storm.record(data.service, now.getTime());
    if (storm) deps.metrics.storm.inc({ scope: storm });
    const occurrence = {
      eventId: event.id,
      correlationId: event.correlationid ?? event.id,
      fingerprint,
      environment: data.environment,
      service: data.service,
      kind: data.kind,
      message: data.message,
      severity: decision.severity ?? data.severity,
      category: decision.category ?? null,
      stack: stackText(data.stack),
      attributes: data.attributes ?? null,
      route: decision.route ?? null,
      mutedUntil: decision.mutedUntil ?? null,
      securityFlags: [...new Set(findings.map((f) => f.kind))],
      occurredAt: new Date(data.occurred_at),
      now,
      storm: storm !== undefined,
    };
    const { capture, announce } = await countOccurrence(ctx.trx, occurrence, deps.windowing);
    // In a storm occurrences are only counted (in the capture), not stored one by one.
    if (!storm)
      await insertOccurrence(ctx.trx, capture.id, { ...occurrence, ...(data.origin ? { origin: data.origin } : {}) });
    if (announce) {
      ctx.emit('error.captured', capturedData(capture, event.id));
      deps.metrics.announced.inc({ update: String(capture.window_count > 1) });
    }
  };
}
