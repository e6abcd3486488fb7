// What the benchmark offers and what answers for the systems it "remediates": the error.reported events of
// the two loads (built and validated by @grace/contracts, published to JetStream as any producer does), an
// open loop that counts failed publishes instead of stopping, and the bench's target system, which answers
// the remediation protocol (remediation.<service>.*) at once and never acts twice for one idempotency key.
import {
  createEvent,
  RemediationRequest,
  RestoreRequest,
  SnapshotRequest,
  TargetStatusRequest,
  validateSchema,
  type GraceEvent,
} from '@grace/contracts';
import type { Naming } from '@grace/service-kit';
import { openLoop } from '@grace/service-kit/testing';
import type { Msg, NatsConnection } from '@nats-io/nats-core';

/** Producer name of every event the bench offers. */
export const BENCH_SOURCE = 'grace/bench';
/** The kind the bench catalog's playbook applies to; ingest errors have other kinds, so they open incidents only. */
export const REMEDIATION_KIND = 'BenchRemediation';
export const REMEDIATION_ENVIRONMENT = 'bench';
export const BENCH_ACTION = 'bench_fix';
/** Repeated errors of the ingest load: this many fingerprints, each reported again and again. */
export const HOT_FINGERPRINTS = 20;

/** 0 -> a, 25 -> z, 26 -> ba: a word the fingerprint's normalisation keeps (it replaces digits). */
function letters(i: number): string {
  let word = '';
  do {
    word = String.fromCharCode(97 + (i % 26)) + word;
    i = Math.floor(i / 26);
  } while (i > 0);
  return word;
}

/** Whether the i-th ingest error is a distinct one, spread evenly so that `ratio` of them are. */
export const isDistinct = (i: number, ratio: number) => Math.floor((i + 1) * ratio) > Math.floor(i * ratio);

/**
 * The i-th error of the ingest load: a new fingerprint (kind BenchDistinct, a distinct word in the message) or
 * a repeat of one of HOT_FINGERPRINTS (kind BenchHot; the number in the message is normalised away). Spread over
 * `services` services so no service reaches trigger-mesh's per-service storm limit.
 */
export function ingestEvent(i: number, distinctRatio: number, services: number): GraceEvent<'error.reported'> {
  const distinct = isDistinct(i, distinctRatio);
  const service = `bench-ingest-${distinct ? i % services : i % HOT_FINGERPRINTS}`;
  return createEvent(
    'error.reported',
    {
      service,
      environment: 'bench',
      kind: distinct ? 'BenchDistinct' : 'BenchHot',
      message: distinct ? `distinct failure ${letters(i)} in the bench` : `hot failure after ${i} ms`,
      severity: 'error',
      occurred_at: new Date().toISOString(),
      origin: 'nats',
    },
    { source: BENCH_SOURCE },
  );
}

/** The i-th error of the remediation load: its own service (one open contract per target), one playbook fixes it. */
export function remediationEvent(i: number, runId: string): GraceEvent<'error.reported'> {
  return createEvent(
    'error.reported',
    {
      service: `bench-${runId}-r${i}`,
      environment: REMEDIATION_ENVIRONMENT,
      kind: REMEDIATION_KIND,
      message: 'the bench target needs fixing',
      severity: 'error',
      occurred_at: new Date().toISOString(),
      origin: 'nats',
    },
    { source: BENCH_SOURCE },
  );
}

export interface Offered {
  offered: number;
  /** Stored by JetStream (acknowledged). */
  published: number;
  /** Refused or not acknowledged in time: offered, never delivered to anyone. */
  failed: number;
  offered_per_s: number;
  /** The first and the last publish, on performance.now()'s clock. */
  startedAt: number;
  lastStartedAt: number;
  firstError?: string;
}

/** Offer `rate` calls per second for `seconds` (open loop: a call starts on schedule whatever earlier ones do). */
export async function offer(rate: number, seconds: number, publish: (i: number) => Promise<unknown>): Promise<Offered> {
  let published = 0;
  let failed = 0;
  let firstError: string | undefined;
  const startedAt = performance.now();
  let lastStartedAt = startedAt;
  const { offered } = await openLoop(rate, seconds, (i) => {
    lastStartedAt = performance.now();
    return publish(i).then(
      () => (published += 1),
      (err: unknown) => {
        failed += 1;
        firstError ??= (err as Error).message;
      },
    );
  });
  // n calls on schedule span (n - 1) intervals; a generator that fell behind shows as a lower rate.
  const span = (lastStartedAt - startedAt) / 1000;
  return {
    offered,
    published,
    failed,
    offered_per_s: offered > 1 && span > 0 ? Math.round((offered - 1) / span) : offered,
    startedAt,
    lastStartedAt,
    ...(firstError ? { firstError } : {}),
  };
}

export interface BenchTarget {
  /**
   * Per service (target): performance.now() when its action request arrived, and how long the target took to
   * act and answer (the action itself, which the bench target does at once).
   */
  readonly acted: ReadonlyMap<string, { at: number; ms: number }>;
  counts(): {
    actions: number;
    repeated_keys: number;
    snapshots: number;
    restores: number;
    status: number;
    invalid: number;
  };
  stop(): void;
}

const STATE = { bench: { healthy: true } };
const SCHEMAS: Record<string, Parameters<typeof validateSchema>[0]> = {
  snapshot: SnapshotRequest,
  restore: RestoreRequest,
  status: TargetStatusRequest,
};

/** Answer remediation.<service>.<operation> for every service of the namespace, at once. */
export function startBenchTarget(nc: NatsConnection, naming: Naming): BenchTarget {
  const acted = new Map<string, { at: number; ms: number }>();
  const keys = new Set<string>();
  const counts = { actions: 0, repeated_keys: 0, snapshots: 0, restores: 0, status: 0, invalid: 0 };
  const prefix = naming.subject('remediation.');
  const respond = (msg: Msg, body: unknown): void => {
    msg.respond(JSON.stringify(body));
  };

  const sub = nc.subscribe(naming.subject('remediation.*.*'), {
    callback: (_err, msg) => {
      const arrived = performance.now();
      const [service = '', operation = ''] = msg.subject.slice(prefix.length).split('.');
      let body: unknown;
      try {
        body = msg.json();
      } catch {
        body = undefined;
      }
      const checked = validateSchema<Record<string, unknown>>(SCHEMAS[operation] ?? RemediationRequest, body);
      if (!checked.ok) {
        counts.invalid += 1;
        return respond(msg, { status: 'failed', actual_state: {}, message: 'the request breaks the protocol' });
      }
      switch (operation) {
        case 'status':
          counts.status += 1;
          return respond(msg, { state: STATE });
        case 'snapshot':
          counts.snapshots += 1;
          return respond(msg, { state: STATE, taken_at: new Date().toISOString() });
        case 'restore':
          counts.restores += 1;
          return respond(msg, { status: 'restored', actual_state: STATE });
      }
      const request = checked.value as RemediationRequest;
      const first = !keys.has(request.idempotency_key);
      if (first) {
        keys.add(request.idempotency_key);
        counts.actions += 1;
      } else counts.repeated_keys += 1;
      respond(msg, { status: 'succeeded', actual_state: STATE });
      if (first && !acted.has(service)) acted.set(service, { at: arrived, ms: performance.now() - arrived });
    },
  });
  return {
    acted,
    counts: () => ({ ...counts }),
    stop: () => sub.unsubscribe(),
  };
}
