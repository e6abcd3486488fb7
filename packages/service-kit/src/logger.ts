// pino JSON logs; every line of a handled event carries its correlation id and event id.
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

export function createLogger(service: string, level: string): Logger {
  return pino({
    name: service,
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
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
