// pino JSON logs; every line of a handled event carries its correlation id and event id, and while tracing is on
// every line logged inside a span its trace_id and span_id.
import { pino, type Logger } from 'pino';
import { traceLogFields, tracingOn } from './tracing.js';

export type { Logger } from 'pino';

export function createLogger(service: string, level: string): Logger {
  return pino({
    name: service,
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    // Decided when the logger is made (the kit starts tracing first): off, no mixin runs per line.
    ...(tracingOn() ? { mixin: traceLogFields } : {}),
  });
}

/** The child logger for one event: everything logged while handling it can be joined by correlation id. */
export function eventLogger(
  log: Logger,
  event: { id?: unknown; correlationid?: unknown; type?: unknown },
  extra: Record<string, unknown> = {},
): Logger {
  return log.child({
    event_id: typeof event.id === 'string' ? event.id : undefined,
    correlationid: typeof event.correlationid === 'string' ? event.correlationid : event.id,
    subject: typeof event.type === 'string' ? event.type : undefined,
    ...extra,
  });
}
