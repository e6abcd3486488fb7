// The demo target: a small system with real state (a cache, a connection pool, a feature flag, replicas) that
// breaks, reports error.reported while it is broken, and answers the remediation protocol on remediation.demo.*
// (status, snapshot, restore, and the actions that fix it), never acting twice for one idempotency key.
import { createEvent, remediationSubject } from '@grace/contracts';
import { jetstream } from '@nats-io/jetstream';
import type { Msg, NatsConnection, Subscription } from '@nats-io/nats-core';

export interface DemoState {
  cache: { healthy: boolean; entries: number };
  pool: { healthy: boolean; size: number; in_use: number };
  feature_flag: { name: string; enabled: boolean };
  replicas: number;
  ready: boolean;
}

export const healthyState = (): DemoState => ({
  cache: { healthy: true, entries: 1_200 },
  pool: { healthy: true, size: 20, in_use: 4 },
  feature_flag: { name: 'new_checkout', enabled: false },
  replicas: 3,
  ready: true,
});

export type FaultName = 'cache' | 'pool' | 'feature_flag';

/** Each fault: how it breaks the state, whether it is present, and the error the system reports meanwhile. */
const FAULTS: Record<
  FaultName,
  {
    inject(state: DemoState): void;
    present(state: DemoState): boolean;
    error: { kind: string; message: string; attributes?: Record<string, string> };
  }
> = {
  cache: {
    inject: (s) => (s.cache = { healthy: false, entries: s.cache.entries }),
    present: (s) => !s.cache.healthy,
    error: { kind: 'CacheCorrupted', message: 'stale cache entry for cart totals: corrupted payload' },
  },
  pool: {
    inject: (s) => (s.pool = { healthy: false, size: s.pool.size, in_use: s.pool.size }),
    present: (s) => !s.pool.healthy,
    error: { kind: 'ConnectionPoolExhausted', message: 'connection pool exhausted: 20 of 20 connections in use' },
  },
  feature_flag: {
    inject: (s) => (s.feature_flag = { name: s.feature_flag.name, enabled: true }),
    present: (s) => s.feature_flag.enabled,
    error: {
      kind: 'FeatureFlagError',
      message: 'checkout failed in code behind the new_checkout flag',
      attributes: { feature_flag: 'new_checkout' },
    },
  },
};
export const FAULT_NAMES = Object.keys(FAULTS) as FaultName[];

/** The actions the demo answers, by name, as the shipped catalog's nats playbooks ask for them. */
const ACTIONS: Record<string, (state: DemoState) => void> = {
  clear_cache: (s) => (s.cache = { healthy: true, entries: 0 }),
  // A plausible wrong fix: it refills the cache but keeps the corrupted entries (the demo's failing playbook).
  warm_cache: (s) => (s.cache = { healthy: s.cache.healthy, entries: s.cache.entries + 500 }),
  reconnect_database: (s) => (s.pool = { healthy: true, size: s.pool.size, in_use: 0 }),
  toggle_feature_flag: (s) => (s.feature_flag = { name: s.feature_flag.name, enabled: false }),
};

export interface DemoOptions {
  nc: NatsConnection;
  namespace: string;
  service?: string;
  environment?: string;
  /** While a fault is present, one error.reported every this many ms. */
  errorIntervalMs?: number;
}

export function startDemoTarget(options: DemoOptions) {
  const { nc, namespace } = options;
  const service = options.service ?? 'demo';
  const environment = options.environment ?? 'demo';
  const prefix = namespace ? `${namespace}.` : '';
  const js = jetstream(nc);
  const state = healthyState();
  const replies = new Map<string, unknown>();
  let reported = 0;

  const respond = (msg: Msg, body: unknown): void => {
    msg.respond(JSON.stringify(body));
  };
  const snapshot = () => structuredClone(state);
  const remediation = `${prefix}${remediationSubject(service, '')}`;

  const sub: Subscription = nc.subscribe(`${remediation}*`, {
    callback: (_err, msg) => {
      const operation = msg.subject.slice(remediation.length);
      let body: Record<string, unknown>;
      try {
        body = msg.json<Record<string, unknown>>();
      } catch {
        return respond(msg, { status: 'failed', actual_state: snapshot(), message: 'the request is not JSON' });
      }
      if (operation === 'status') return respond(msg, { state: snapshot() });
      if (operation === 'snapshot') return respond(msg, { state: snapshot(), taken_at: new Date().toISOString() });
      if (operation === 'restore') {
        Object.assign(state, structuredClone(body.state as DemoState));
        return respond(msg, { status: 'restored', actual_state: snapshot() });
      }
      const action = ACTIONS[operation];
      if (!action)
        return respond(msg, { status: 'failed', actual_state: snapshot(), message: `the demo has no ${operation}` });
      const key = String(body.idempotency_key ?? '');
      if (replies.has(key)) return respond(msg, replies.get(key));
      action(state);
      const reply = { status: 'succeeded', actual_state: snapshot() };
      replies.set(key, reply);
      respond(msg, reply);
    },
  });

  async function reportErrors(): Promise<number> {
    let sent = 0;
    for (const name of FAULT_NAMES) {
      const fault = FAULTS[name];
      if (!fault.present(state)) continue;
      const event = createEvent(
        'error.reported',
        {
          service,
          environment,
          kind: fault.error.kind,
          message: fault.error.message,
          severity: 'error',
          occurred_at: new Date().toISOString(),
          ...(fault.error.attributes ? { attributes: fault.error.attributes } : {}),
        },
        { source: `demo/${service}` },
      );
      await js.publish(`${prefix}error.reported`, JSON.stringify(event), { msgID: event.id });
      sent += 1;
    }
    reported += sent;
    return sent;
  }

  let reporting: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    reporting = reportErrors().catch(() => undefined);
  }, options.errorIntervalMs ?? 1_000);

  return {
    state,
    service,
    environment,
    /** Break one part of the system; it reports errors until something fixes it. */
    inject(fault: FaultName) {
      FAULTS[fault].inject(state);
    },
    healthy: () => FAULT_NAMES.every((name) => !FAULTS[name].present(state)),
    reported: () => reported,
    reportErrors,
    async stop() {
      clearInterval(timer);
      await reporting;
      sub.unsubscribe();
    },
  };
}
