// Prometheus metrics every service exports: handled, failed, dead-lettered, handler latency, lag, outbox backlog.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * prom-client's default metrics left out: gauges whose names end in `_total`, which Prometheus reserves for
 * counters (`promtool check metrics` refuses them). Each is the sum of the per-type gauge without the suffix:
 * `sum without (type) (nodejs_active_handles)` and so on.
 */
export const DROPPED_DEFAULT_METRICS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
] as const;

export class KitMetrics {
  readonly registry = new Registry();
  readonly handled: Counter<'consumer' | 'subject' | 'outcome'>;
  readonly failed: Counter<'consumer' | 'subject' | 'kind'>;
  readonly deadLettered: Counter<'consumer' | 'subject' | 'reason'>;
  readonly handlerDuration: Histogram<'consumer' | 'subject'>;
  readonly consumerPending: Gauge<'consumer' | 'stream'>;
  readonly consumerAckPending: Gauge<'consumer' | 'stream'>;
  readonly outboxBacklog: Gauge;
  readonly outboxPublished: Counter;
  readonly queries: Counter<'subject' | 'outcome'>;
  readonly dbStatements: Counter;
  readonly dbCommits: Counter;
  readonly queryDuration: Histogram<'subject'>;

  constructor(service: string) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ service });
    collectDefaultMetrics({ register: this.registry });
    for (const name of DROPPED_DEFAULT_METRICS) this.registry.removeSingleMetric(name);
    this.handled = new Counter({
      name: 'grace_events_handled_total',
      help: 'Events handled and acknowledged (outcome=ok) or recognised as redeliveries (outcome=duplicate)',
      labelNames: ['consumer', 'subject', 'outcome'],
      registers,
    });
    this.failed = new Counter({
      name: 'grace_events_failed_total',
      help: 'Handler failures by kind (transient failures are retried)',
      labelNames: ['consumer', 'subject', 'kind'],
      registers,
    });
    this.deadLettered = new Counter({
      name: 'grace_events_dead_lettered_total',
      help: 'Events published to dlq.<subject>, by reason',
      labelNames: ['consumer', 'subject', 'reason'],
      registers,
    });
    this.handlerDuration = new Histogram({
      name: 'grace_handler_duration_seconds',
      help: 'Time from receiving an event to its commit and ack',
      labelNames: ['consumer', 'subject'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.consumerPending = new Gauge({
      name: 'grace_consumer_pending_messages',
      help: 'Messages in the stream not yet delivered to this durable consumer (lag)',
      labelNames: ['consumer', 'stream'],
      registers,
    });
    this.consumerAckPending = new Gauge({
      name: 'grace_consumer_ack_pending_messages',
      help: 'Messages delivered to this durable consumer and not yet acknowledged',
      labelNames: ['consumer', 'stream'],
      registers,
    });
    this.outboxBacklog = new Gauge({
      name: 'grace_outbox_backlog',
      help: 'Outbox rows committed but not yet acknowledged by JetStream',
      registers,
    });
    this.outboxPublished = new Counter({
      name: 'grace_outbox_published_total',
      help: 'Events published to JetStream by the outbox relay and by the consumer runner after a commit',
      registers,
    });
    this.dbCommits = new Counter({
      name: 'grace_db_commits_total',
      help: 'Transactions this process committed in Postgres (each COMMIT, and each statement outside a transaction)',
      registers,
    });
    this.dbStatements = new Counter({
      name: 'grace_db_statements_total',
      help: 'Statements this process sent to Postgres (BEGIN and COMMIT included)',
      registers,
    });
    this.queries = new Counter({
      name: 'grace_queries_total',
      help: 'Request-reply queries answered, by outcome (ok or an error code)',
      labelNames: ['subject', 'outcome'],
      registers,
    });
    this.queryDuration = new Histogram({
      name: 'grace_query_duration_seconds',
      help: 'Time to answer a request-reply query',
      labelNames: ['subject'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
  }
}
