// The bench's view of the bus: core subscriptions on namespaced contract subjects (JetStream stores what the
// services publish on ordinary subjects, so a plain subscriber sees each event as it is stored), every event
// validated against its contract before it counts, each stamped with performance.now() on arrival.
import { validate, type EventSubject, type GraceEvent } from '@grace/contracts';
import type { Naming } from '@grace/service-kit';
import type { NatsConnection, Subscription } from '@nats-io/nats-core';

/** The header the kit's outbox relay sets on every event it publishes. */
const CORRELATION_HEADER = 'Grace-Correlation-Id';

export class Observer {
  private readonly subs: Subscription[] = [];
  /** Events that did not parse or broke their contract. */
  invalid = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly naming: Naming,
  ) {}

  /**
   * Call `handle` with every valid event on `subject`. `wanted` sees the correlation id header first, so
   * events of flows the bench does not follow are skipped without being parsed.
   */
  on<S extends EventSubject>(
    subject: S,
    handle: (event: GraceEvent<S>, at: number) => void,
    wanted?: (correlationId: string | undefined) => boolean,
  ): void {
    this.subs.push(
      this.nc.subscribe(this.naming.subject(subject), {
        callback: (_err, msg) => {
          const at = performance.now();
          if (wanted && !wanted(msg.headers?.get(CORRELATION_HEADER) || undefined)) return;
          let json: unknown;
          try {
            json = msg.json();
          } catch {
            this.invalid += 1;
            return;
          }
          const checked = validate(subject, json);
          if (!checked.ok) {
            this.invalid += 1;
            return;
          }
          handle(checked.value, at);
        },
      }),
    );
  }

  /** Subscriptions reach the server before anything is offered. */
  flush(): Promise<void> {
    return this.nc.flush();
  }

  close(): void {
    for (const sub of this.subs.splice(0)) sub.unsubscribe();
  }
}
