// error.reported -> hunter (redact, flag) -> routing rules -> fingerprint -> dedupe window + storm control
// -> error.captured (first of a window, or a count update at most once per interval) and security.finding.
import type { EventData, GraceEvent } from '@grace/contracts';
import type { BatchContext, HandlerContext } from '@grace/service-kit';
import { fingerprintOf } from '../domain/fingerprint.js';
import { huntReport, type Finding } from '../domain/hunter.js';
import type { CompiledRules, RoutingDecision } from '../domain/rules.js';
import type { StormControl, StormScope } from '../domain/storm.js';
import {
  countDrops,
  countOccurrences,
  insertOccurrences,
  type Capture,
  type Database,
  type DropGroup,
  type OccurrenceGroup,
  type OccurrenceRow,
  type Windowing,
} from '../store.js';
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

/** The error.captured data announcing a capture's current state (`announcements` counts this one). */
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
    update: capture.announcements > 1,
    storm: capture.storm,
    ...(capture.route ? { route: capture.route } : {}),
    ...(capture.muted_until ? { muted_until: iso(capture.muted_until) } : {}),
    reported_event_id: reportedEventId,
    security_flags: capture.security_flags.slice(0, 32),
  };
}

interface Prepared {
  event: GraceEvent<'error.reported'>;
  data: EventData<'error.reported'>;
  findings: Finding[];
  decision: RoutingDecision;
  fingerprint: string;
  storm: StormScope | undefined;
}

/**
 * The error.reported handlers: `handleBatch` counts a whole batch in a few statements (drops grouped by
 * rule, occurrences grouped by fingerprint into one upsert, one insert of occurrences); `handler` is the
 * same for a batch of one.
 */
export function captureError(deps: CaptureDeps) {
  const handleBatch = async (events: GraceEvent<'error.reported'>[], ctx: BatchContext<Database>): Promise<void> => {
    const now = deps.now?.() ?? new Date();
    const rules = deps.rules();
    const prepared: Prepared[] = events.map((event) => {
      const { data, findings } = huntReport(event.data);
      const decision = rules.evaluate(data, now);
      const storm = decision.drop ? undefined : deps.storm.record(data.service, now.getTime());
      if (storm) deps.metrics.storm.inc({ scope: storm });
      return { event, data, findings, decision, fingerprint: fingerprintOf(data), storm };
    });

    for (const { event, data, findings } of prepared) {
      for (const [index, finding] of findings.entries()) {
        deps.metrics.findings.inc({ category: finding.category, kind: finding.kind });
        ctx.emitFor(event)('security.finding', {
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
    }

    const drops = new Map<string, DropGroup>();
    const groups = new Map<string, { group: OccurrenceGroup; members: Prepared[] }>();
    for (const p of prepared) {
      const { data, decision } = p;
      if (decision.drop) {
        const rule = decision.droppedBy ?? 'unknown';
        const key = `${rule}\u0000${data.service}\u0000${data.environment}`;
        const drop = drops.get(key) ?? { rule, service: data.service, environment: data.environment, count: 0 };
        drop.count++;
        drops.set(key, drop);
        deps.metrics.dropped.inc({ rule });
        continue;
      }
      const key = `${p.fingerprint}\u0000${data.environment}`;
      const occurredAt = new Date(data.occurred_at);
      const latest: OccurrenceGroup = {
        fingerprint: p.fingerprint,
        environment: data.environment,
        count: 1,
        lastEventId: p.event.id,
        lastCorrelationId: p.event.correlationid ?? p.event.id,
        service: data.service,
        kind: data.kind,
        message: data.message,
        severity: decision.severity ?? data.severity,
        category: decision.category ?? null,
        stack: stackText(data.stack),
        attributes: data.attributes ?? null,
        route: decision.route ?? null,
        mutedUntil: decision.mutedUntil ?? null,
        securityFlags: [...new Set(p.findings.map((f) => f.kind))],
        firstOccurredAt: occurredAt,
        lastOccurredAt: occurredAt,
        storm: p.storm !== undefined,
      };
      const existing = groups.get(key);
      if (!existing) {
        groups.set(key, { group: latest, members: [p] });
        continue;
      }
      // The later occurrence speaks for the group; counts, times, flags and storm accumulate.
      const g = existing.group;
      existing.group = {
        ...latest,
        count: g.count + 1,
        category: latest.category ?? g.category,
        stack: latest.stack ?? g.stack,
        securityFlags: [...new Set([...g.securityFlags, ...latest.securityFlags])],
        firstOccurredAt: g.firstOccurredAt < occurredAt ? g.firstOccurredAt : occurredAt,
        lastOccurredAt: g.lastOccurredAt > occurredAt ? g.lastOccurredAt : occurredAt,
        storm: g.storm || latest.storm,
      };
      existing.members.push(p);
    }

    await countDrops(ctx.trx, [...drops.values()], now);
    const counted = await countOccurrences(
      ctx.trx,
      [...groups.values()].map((g) => g.group),
      now,
      deps.windowing,
    );
    const occurrences: OccurrenceRow[] = [];
    for (const { capture, announce } of counted) {
      const entry = groups.get(`${capture.fingerprint}\u0000${capture.environment}`);
      if (!entry) continue;
      // In a storm occurrences are only counted (in the capture), not stored one by one.
      for (const m of entry.members) {
        if (m.storm) continue;
        occurrences.push({
          captureId: capture.id,
          eventId: m.event.id,
          occurredAt: new Date(m.data.occurred_at),
          message: m.data.message,
          attributes: m.data.attributes ?? null,
          origin: m.data.origin ?? null,
        });
      }
      if (announce) {
        const last = entry.members[entry.members.length - 1]!.event;
        ctx.emitFor(last)('error.captured', capturedData(capture, last.id));
        deps.metrics.announced.inc({ update: String(capture.announcements > 1) });
      }
    }
    await insertOccurrences(ctx.trx, occurrences);
  };

  const handler = (event: GraceEvent<'error.reported'>, ctx: HandlerContext<Database>) =>
    handleBatch([event], { trx: ctx.trx, emitFor: () => ctx.emit, log: ctx.log, afterCommit: ctx.afterCommit });

  return { handler, handleBatch };
}
