// The crash test's steady load: error.reported offered open-loop at a set rate until stopped, as a producer that
// retries would (the same event id, so JetStream stores it once), through kills and server restarts. One event
// in ten is a crash target's fault (remediated by the catalog's playbooks), five repeat a small set of
// fingerprints (duplicates), four are new each time (distinct captures).
import { createEvent, type EventData } from '@grace/contracts';
import type { JetStreamClient } from '@nats-io/jetstream';
import { FAULT_KIND } from './catalog.js';

export type LoadKind = 'remediation' | 'duplicate' | 'distinct';

export interface LoadCounts {
  /** Events the loop started to publish. */
  offered: number;
  /** Events JetStream acknowledged (a retry's ack that says "duplicate" counts once, here). */
  acknowledged: number;
  /** Acks that said the event was already stored: an earlier try got through though its ack was lost. */
  duplicate_acks: number;
  /** Events that needed more than one try. */
  retried: number;
  /** Events never acknowledged before the give-up deadline (they may or may not be stored). */
  given_up: number;
  in_flight: number;
  by_kind: Record<LoadKind, number>;
}

export interface ErrorLoadOptions {
  js: JetStreamClient;
  /** The deployment's subject prefix ('' for none). */
  namespace: string;
  /** Errors offered per second. */
  rate: number;
  /** Crash target services (`<targetPrefix><n>`) whose faults the load reports. */
  targetPrefix: string;
  targets: number;
  /** Distinct fingerprints the duplicates repeat. */
  duplicateFingerprints?: number;
  /** Unique part of this run's fingerprints. */
  runId: string;
  /** How long one event is retried before the producer gives up (default 5 min). */
  giveUpMs?: number;
}

export interface ErrorLoad {
  counts(): LoadCounts;
  /** Stop offering; resolves when every event in flight was acknowledged or given up. */
  stop(): Promise<LoadCounts>;
}

const ENVIRONMENT = 'crash';
const PUBLISH_TIMEOUT_MS = 2_000;
const RETRY_MS = 250;

/** The i-th event of the mix. */
export function errorOf(i: number, options: ErrorLoadOptions): { kind: LoadKind; data: EventData<'error.reported'> } {
  const slot = i % 10;
  const common = { environment: ENVIRONMENT, severity: 'error' as const, occurred_at: new Date().toISOString() };
  if (slot === 0) {
    const service = `${options.targetPrefix}${Math.floor(i / 10) % options.targets}`;
    return {
      kind: 'remediation',
      data: {
        ...common,
        service,
        kind: FAULT_KIND,
        message: `${service} is broken`,
        fingerprint: `crash-fault-${options.runId}-${service}`,
      },
    };
  }
  if (slot <= 5) {
    const n = i % (options.duplicateFingerprints ?? 20);
    return {
      kind: 'duplicate',
      data: {
        ...common,
        service: `crash-app-${n % 5}`,
        kind: 'RepeatedError',
        message: `the same failure again (${n})`,
        fingerprint: `crash-repeat-${options.runId}-${n}`,
      },
    };
  }
  return {
    kind: 'distinct',
    data: {
      ...common,
      service: `crash-app-${i % 5}`,
      kind: 'OneOffError',
      message: `a failure seen once (${i})`,
      fingerprint: `crash-once-${options.runId}-${i}`,
    },
  };
}

/** Start offering `rate` errors per second until `stop`. */
export function startErrorLoad(options: ErrorLoadOptions): ErrorLoad {
  const subject = `${options.namespace ? `${options.namespace}.` : ''}error.reported`;
  const giveUpMs = options.giveUpMs ?? 300_000;
  const counts: LoadCounts = {
    offered: 0,
    acknowledged: 0,
    duplicate_acks: 0,
    retried: 0,
    given_up: 0,
    in_flight: 0,
    by_kind: { remediation: 0, duplicate: 0, distinct: 0 },
  };
  const inFlight = new Set<Promise<void>>();
  let stopped = false;

  const publishOne = async (i: number) => {
    const { kind, data } = errorOf(i, options);
    const event = createEvent('error.reported', data, { source: 'grace/crash-test' });
    const payload = JSON.stringify(event);
    const giveUpAt = Date.now() + giveUpMs;
    counts.by_kind[kind]++;
    for (let attempt = 1; ; attempt++) {
      try {
        const ack = await options.js.publish(subject, payload, { msgID: event.id, timeout: PUBLISH_TIMEOUT_MS });
        counts.acknowledged++;
        if (ack.duplicate) counts.duplicate_acks++;
        if (attempt > 1) counts.retried++;
        return;
      } catch {
        if (Date.now() > giveUpAt) {
          counts.given_up++;
          return;
        }
        await new Promise((r) => setTimeout(r, RETRY_MS));
      }
    }
  };

  // Open loop: every tick sends what the schedule says is due by now, whatever earlier publishes are doing.
  const started = performance.now();
  const timer = setInterval(() => {
    if (stopped) return;
    const due = Math.floor(((performance.now() - started) / 1000) * options.rate);
    while (counts.offered < due) {
      const p = publishOne(counts.offered++).finally(() => {
        inFlight.delete(p);
        counts.in_flight = inFlight.size;
      });
      inFlight.add(p);
      counts.in_flight = inFlight.size;
    }
  }, 10);

  return {
    counts: () => structuredClone(counts),
    async stop() {
      stopped = true;
      clearInterval(timer);
      while (inFlight.size > 0) await Promise.all([...inFlight]);
      counts.in_flight = 0;
      return structuredClone(counts);
    },
  };
}
