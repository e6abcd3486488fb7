// action-executor as a service definition: its consumers, queries, the watched policy, the adapters, the worker
// pool and the housekeeping tick (expired approvals, held actions after a resume elsewhere).
import { every, transactionalConsumers, watchVersionedFile, type ServiceDefinition } from '@grace/service-kit';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ActionAdapter, AdapterName } from './adapters/adapter.js';
import { createHttpAdapter } from './adapters/http.js';
import { createNatsAdapter } from './adapters/nats.js';
import { expireDueApprovals } from './approvals.js';
import { config } from './config.js';
import { parsePolicy } from './domain/policy.js';
import { receiveAction } from './handlers/action-requested.js';
import { receiveVote } from './handlers/approval-vote-cast.js';
import { receiveVerdict } from './handlers/contract-verified.js';
import type { ExecutorDeps } from './lifecycle.js';
import { createMetrics } from './metrics.js';
import { migrations } from './migrations/index.js';
import {
  approvalsQuery,
  auditQuery,
  contractQuery,
  pauseQuery,
  releaseHeld,
  resumeQuery,
  statusQuery,
} from './queries.js';
import { readControls, type Database } from './store.js';
import { WorkerPool } from './workers.js';

/** The kubernetes adapter needs a kubeconfig (KUBECONFIG, ~/.kube/config) or a pod's service account. */
function kubernetesSource(kubeconfig: string | undefined): string | undefined {
  if (kubeconfig) return kubeconfig;
  if (process.env.KUBERNETES_SERVICE_HOST) return 'in-cluster';
  const home = join(homedir(), '.kube', 'config');
  return existsSync(home) ? home : undefined;
}

export const actionExecutor: ServiceDefinition<Database, typeof config> = {
  name: 'action-executor',
  defaultHttpPort: 8083,
  config,
  migrations,
  async setup(runtime) {
    const { config: c, log, db } = runtime;
    const policy = await watchVersionedFile(db, {
      path: c.POLICY_FILE,
      what: 'policies',
      parse: parsePolicy,
      log,
      intervalMs: c.FILE_POLL_MS,
    });

    const adapters: Partial<Record<AdapterName, ActionAdapter>> = {
      nats: createNatsAdapter({ nc: runtime.nc, naming: runtime.naming, requestTimeoutMs: c.SNAPSHOT_TIMEOUT_MS }),
      http: createHttpAdapter({ secret: c.HTTP_ADAPTER_SECRET, retries: c.HTTP_ADAPTER_RETRIES }),
    };
    const unavailableAdapters: Partial<Record<AdapterName, string>> = {};
    const kubeSource = kubernetesSource(c.KUBECONFIG);
    if (kubeSource) {
      // Loaded only when used: the Kubernetes client weighs about 70 MB of memory.
      const { createKubernetesAdapter, loadKubeConfig } = await import('./adapters/kubernetes.js');
      adapters.kubernetes = createKubernetesAdapter({
        kubeConfig: loadKubeConfig(kubeSource === 'in-cluster' ? undefined : kubeSource),
        rolloutWait: c.ROLLOUT_WAIT,
      });
    } else {
      unavailableAdapters.kubernetes =
        'the kubernetes adapter is not configured: set KUBECONFIG or run the executor in a cluster with a service account';
      log.warn('no kubeconfig and not in a cluster: kubernetes actions will be refused');
    }
    if (!c.HTTP_ADAPTER_SECRET) log.warn('HTTP_ADAPTER_SECRET is empty: http adapter webhooks are not signed');
    if (c.DRY_RUN) log.warn('DRY_RUN: actions are planned, snapshotted and recorded, never executed');

    const wakers: (() => void)[] = [];
    const deps: ExecutorDeps = {
      policy: () => ({ policy: policy.current(), version: policy.version() }),
      adapters,
      unavailableAdapters,
      globalDryRun: c.DRY_RUN,
      budget: { max: c.ACTION_BUDGET, minTier: c.ACTION_BUDGET_MIN_TIER, windowMs: c.ACTION_BUDGET_WINDOW_MS },
      metrics: createMetrics(runtime.metrics),
      maxAttempts: c.MAX_ATTEMPTS,
      wake: () => wakers.forEach((wake) => wake()),
    };
    const pool = new WorkerPool(runtime, deps, {
      workers: c.WORKERS,
      pollMs: c.WORK_POLL_MS,
      leaseMarginMs: c.LEASE_MARGIN_MS,
      snapshotTimeoutMs: c.SNAPSHOT_TIMEOUT_MS,
      restoreAttempts: c.RESTORE_ATTEMPTS,
      restoreRetryMs: c.RESTORE_RETRY_MS,
    });
    wakers.push(() => pool.wake());
    deps.starter = pool;
    pool.start();

    // Expired approvals end; held actions run once nobody holds the switch (a resume on another replica too).
    const housekeeping = every(
      'housekeeping',
      c.APPROVAL_SWEEP_MS,
      async () => {
        await expireDueApprovals(runtime, deps);
        if (!(await readControls(db)).paused) await releaseHeld(runtime, deps, log);
      },
      log,
    );

    return {
      consumers: transactionalConsumers<Database>({
        'action.requested': receiveAction(deps),
        'approval.vote.cast': receiveVote(deps),
        'contract.verified': receiveVerdict(deps),
      }),
      queries: {
        'executor.query.contract': contractQuery(db),
        'executor.query.approvals': approvalsQuery(db),
        'executor.query.audit': auditQuery(db),
        'executor.control.pause': pauseQuery(runtime, deps),
        'executor.control.resume': resumeQuery(runtime, deps),
        'executor.control.status': statusQuery(db, deps),
      },
      stop: async () => {
        await housekeeping.stop();
        await pool.stop();
        await policy.stop();
      },
    };
  },
};
