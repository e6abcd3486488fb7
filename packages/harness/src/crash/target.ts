// The system the crash test's Grace repairs: one process answering the remediation protocol for every crash target
// (remediation.<service>.*), recording every execution request it gets with its idempotency key and contract id,
// so the run can count how often each contract and each key made the target act. Like any well-behaved target it
// never acts twice for one idempotency key (a repeat gets the first reply); the records show whether Grace asked.
import { remediationSubject } from '@grace/contracts';
import type { Msg, NatsConnection, Subscription } from '@nats-io/nats-core';
import { FIX_ACTION, NOOP_ACTION } from './catalog.js';

export interface ExecutionRequest {
  service: string;
  action: string;
  idempotencyKey: string;
  contractId: string;
  actionId: string;
  /** false: a repeat of a key already acted on, answered with the first reply and not acted on. */
  acted: boolean;
  at: string;
}

export interface TargetCounts {
  execution_requests: number;
  acted: number;
  repeats_refused: number;
  snapshots: number;
  restores: number;
  status_requests: number;
  /** Requests the target could not read (not JSON, unknown action): a protocol problem, not a crash one. */
  malformed: number;
  /** The most times one contract's execution request made the target act, and contracts that made it act twice. */
  max_executions_per_contract: number;
  contracts_executed_more_than_once: string[];
  keys_executed_more_than_once: string[];
  actions_executed_more_than_once: string[];
  /** The most execution requests one contract sent (repeats included). */
  max_requests_per_contract: number;
}

export interface CrashTarget {
  readonly requests: readonly ExecutionRequest[];
  counts(): TargetCounts;
  /** Contract ids the target acted for. */
  actedContracts(): Set<string>;
  stop(): Promise<void>;
}

/**
 * Answer remediation.<service>.* for every service whose name starts with `servicePrefix`. Every target is
 * always broken (`healthy: false`): crash_fix reports it healthy in its reply and crash_noop does not, so each
 * contract's verdict depends only on the playbook chosen, however the runs interleave.
 */
export function startCrashTarget(nc: NatsConnection, namespace: string, servicePrefix: string): CrashTarget {
  const prefix = namespace ? `${namespace}.` : '';
  const base = `${prefix}${remediationSubject('', '')}`.slice(0, -2); // "<ns>.remediation"
  const requests: ExecutionRequest[] = [];
  const replies = new Map<string, unknown>();
  const broken = () => ({ healthy: false });
  let snapshots = 0;
  let restores = 0;
  let statusRequests = 0;
  let malformed = 0;

  const answer = (msg: Msg, body: unknown) => {
    msg.respond(JSON.stringify(body));
  };
  const sub: Subscription = nc.subscribe(`${base}.*.*`, {
    callback: (_err, msg) => {
      const [service, operation] = msg.subject.slice(base.length + 1).split('.') as [string, string];
      if (!service.startsWith(servicePrefix)) return;
      let body: Record<string, unknown>;
      try {
        body = msg.json<Record<string, unknown>>();
      } catch {
        malformed++;
        return answer(msg, { status: 'failed', actual_state: broken(), message: 'the request is not JSON' });
      }
      switch (operation) {
        case 'status':
          statusRequests++;
          return answer(msg, { state: broken() });
        case 'snapshot':
          snapshots++;
          return answer(msg, { state: broken(), taken_at: new Date().toISOString() });
        case 'restore':
          restores++;
          return answer(msg, { status: 'restored', actual_state: broken() });
        case FIX_ACTION:
        case NOOP_ACTION: {
          const key = String(body.idempotency_key ?? '');
          const repeat = replies.has(key);
          requests.push({
            service,
            action: operation,
            idempotencyKey: key,
            contractId: String(body.contract_id ?? ''),
            actionId: String(body.action_id ?? ''),
            acted: !repeat,
            at: new Date().toISOString(),
          });
          if (repeat) return answer(msg, replies.get(key));
          const reply = { status: 'succeeded', actual_state: { healthy: operation === FIX_ACTION } };
          replies.set(key, reply);
          return answer(msg, reply);
        }
        default:
          malformed++;
          return answer(msg, { status: 'failed', actual_state: broken(), message: `no action ${operation}` });
      }
    },
  });

  const tally = (keyOf: (r: ExecutionRequest) => string, onlyActed: boolean) => {
    const counts = new Map<string, number>();
    for (const r of requests) if (!onlyActed || r.acted) counts.set(keyOf(r), (counts.get(keyOf(r)) ?? 0) + 1);
    return counts;
  };

  return {
    requests,
    counts() {
      const actedByContract = tally((r) => r.contractId, true);
      const actedByKey = tally((r) => r.idempotencyKey, true);
      const actedByAction = tally((r) => r.actionId, true);
      const requestsByContract = tally((r) => r.contractId, false);
      const acted = requests.filter((r) => r.acted).length;
      return {
        execution_requests: requests.length,
        acted,
        repeats_refused: requests.length - acted,
        snapshots,
        restores,
        status_requests: statusRequests,
        malformed,
        max_executions_per_contract: Math.max(0, ...actedByContract.values()),
        contracts_executed_more_than_once: [...actedByContract].filter(([, n]) => n > 1).map(([id]) => id),
        keys_executed_more_than_once: [...actedByKey].filter(([, n]) => n > 1).map(([key]) => key),
        actions_executed_more_than_once: [...actedByAction].filter(([, n]) => n > 1).map(([id]) => id),
        max_requests_per_contract: Math.max(0, ...requestsByContract.values()),
      };
    },
    actedContracts: () => new Set(requests.filter((r) => r.acted).map((r) => r.contractId)),
    async stop() {
      sub.unsubscribe();
    },
  };
}
