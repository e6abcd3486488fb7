// sentinel as a service definition: its consumers, queries and the watched playbook catalog.
import { every, transactionalConsumers, watchVersionedFile, type ServiceDefinition } from '@grace/service-kit';
import { config } from './config.js';
import { parseCatalog } from './domain/catalog.js';
import { createRng, randomRng } from './domain/thompson.js';
import { triageError } from './handlers/error-captured.js';
import { onDenied, onExecuted, onRolledBack, onStats, onVerified } from './handlers/outcomes.js';
import { onAlertResolved } from './handlers/source-resolved.js';
import { createMetrics } from './metrics.js';
import { migrations } from './migrations/index.js';
import { incidentQuery, incidentsQuery, muteQuery, planQuery, playbooksQuery } from './queries.js';
import { rollbackOverdue, type LifecycleDeps } from './remediation.js';
import { overdueRollbacks, type Database } from './store.js';

export const sentinel: ServiceDefinition<Database, typeof config> = {
  name: 'sentinel',
  defaultHttpPort: 8082,
  config,
  migrations,
  async setup(runtime) {
    const { config: c, log, db } = runtime;
    const catalog = await watchVersionedFile(db, {
      path: c.PLAYBOOKS_FILE,
      what: 'playbook catalog',
      parse: parseCatalog,
      log,
      intervalMs: c.FILE_POLL_MS,
    });
    const deps: LifecycleDeps = {
      catalog: () => catalog.current(),
      rng: c.THOMPSON_SEED === undefined ? randomRng() : createRng(c.THOMPSON_SEED),
      maxAttempts: c.MAX_ATTEMPTS,
      escalationHoldMs: c.ESCALATION_HOLD_MS,
      metrics: createMetrics(runtime.metrics),
    };
    // Attempts whose rollback the executor never confirmed (its restore failed for good) go to a human.
    const overdue = every(
      'the overdue rollback sweep',
      c.ROLLBACK_SWEEP_MS,
      async () => {
        const before = new Date(Date.now() - c.ROLLBACK_WAIT_MS);
        for (const actionId of await overdueRollbacks(db, before))
          await runtime.transaction((trx, emit, afterCommit) =>
            rollbackOverdue({ trx, emit, log, now: new Date(), afterCommit }, deps, actionId, c.ROLLBACK_WAIT_MS),
          );
      },
      log,
    );
    return {
      consumers: transactionalConsumers<Database>({
        'error.captured': triageError(deps),
        'action.executed': onExecuted(deps),
        'contract.verified': onVerified(deps),
        'contract.rolled_back': onRolledBack(deps),
        'action.denied': onDenied(deps),
        'playbook.stats.updated': onStats(),
        'alert.resolved': onAlertResolved(deps),
      }),
      queries: {
        'sentinel.query.incidents': incidentsQuery(db),
        'sentinel.query.incident': incidentQuery(db),
        'sentinel.query.playbooks': playbooksQuery(
          db,
          () => catalog.current(),
          () => catalog.version(),
        ),
        'sentinel.query.plan': planQuery(
          () => catalog.current(),
          () => catalog.version(),
        ),
        'sentinel.control.mute': muteQuery(db),
      },
      stop: async () => {
        await overdue.stop();
        await catalog.stop();
      },
    };
  },
};
