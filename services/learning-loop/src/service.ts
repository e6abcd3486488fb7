// learning-loop as a service definition: the outcome consumers, the queries, and the publisher of changed
// statistics (one playbook.stats.updated per changed key per interval).
import { consumer, every, TRANSACTIONAL_BATCH as batch, type ServiceDefinition } from '@grace/service-kit';
import { config } from './config.js';
import { onDenied, onRolledBack, onVerified } from './handlers/outcomes.js';
import { migrations } from './migrations/index.js';
import { outcomesQuery, statisticsOf, statsQuery, topQuery } from './queries.js';
import { hasDirtyStatistics, lockDirtyStatistics, markPublished, type Database } from './store.js';

export const learningLoop: ServiceDefinition<Database, typeof config> = {
  name: 'learning-loop',
  defaultHttpPort: 8085,
  config,
  migrations,
  setup(runtime) {
    const { config: c, log, db } = runtime;
    const halfLifeMs = c.DECAY_HALF_LIFE_HOURS * 3_600_000;

    const publish = () =>
      runtime.transaction(async (trx, emit) => {
        const rows = await lockDirtyStatistics(trx, 200);
        for (const row of rows) emit('playbook.stats.updated', statisticsOf(row));
        await markPublished(trx, rows);
        return rows.length;
      });
    const publisher = every(
      'publishing statistics',
      c.PUBLISH_INTERVAL_MS,
      async () => {
        if (!(await hasDirtyStatistics(db))) return;
        while ((await publish()) === 200);
      },
      log,
    );

    return {
      // Each outcome consumer records a batch in a few statements (recordAll), not a few per event.
      consumers: [
        consumer<Database, 'contract.verified'>({ subject: 'contract.verified', ...onVerified(halfLifeMs), batch }),
        consumer<Database, 'contract.rolled_back'>({
          subject: 'contract.rolled_back',
          ...onRolledBack(halfLifeMs),
          batch,
        }),
        consumer<Database, 'action.denied'>({ subject: 'action.denied', ...onDenied(halfLifeMs), batch }),
      ],
      queries: {
        'learning.query.stats': statsQuery(db),
        'learning.query.outcomes': outcomesQuery(db),
        'learning.query.top': topQuery(db),
      },
      stop: async () => {
        await publisher.stop();
        await publisher.runNow();
      },
    };
  },
};
