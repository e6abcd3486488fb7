// cube-etl as a service definition: one landing consumer per stream (a handled batch lands as one row),
// the ETL on its interval and on demand (cube.etl.run, with a replay), and the four cube queries.
import type { EventSubject, QueryReply, QueryRequest } from '@grace/contracts';
import { consumer, every, type ServiceDefinition } from '@grace/service-kit';
import { config } from './config.js';
import { resetCube, runEtl } from './etl.js';
import { STAGED_STREAMS, stageMany, stageOne } from './handlers/stage-event.js';
import { migrations } from './migrations/index.js';
import { errorTrendsQuery, mttrQuery, rollbackDriftQuery, successRateQuery } from './queries.js';
import type { Database } from './store.js';

export const cubeEtl: ServiceDefinition<Database, typeof config> = {
  name: 'cube-etl',
  defaultHttpPort: 8086,
  config,
  migrations,
  setup(runtime) {
    const { config: c, log, db } = runtime;
    const etl = every(
      'the ETL',
      c.ETL_INTERVAL_MS,
      async () => {
        const run = await runEtl(db, c.ETL_BATCH_SIZE);
        if (run.rows_read > 0 || run.status === 'failed')
          log[run.status === 'failed' ? 'error' : 'info']({ run }, `ETL run ${run.status}`);
      },
      log,
    );
    const runOnDemand = async (req: QueryRequest<'cube.etl.run'>): Promise<QueryReply<'cube.etl.run'>> => {
      if (req.rebuild) {
        log.warn('rebuilding the cube from every staged event');
        await resetCube(db);
      }
      return runEtl(db, c.ETL_BATCH_SIZE);
    };
    return {
      consumers: [...STAGED_STREAMS.values()].map(([first, ...more]) =>
        consumer<Database, EventSubject>({
          subject: first!,
          subjects: [first!, ...more],
          // Before one consumer per stream there was one per subject: their positions carry over.
          replaces: [first!, ...more].map((subject) => runtime.naming.durable('cube-etl', subject)),
          handler: stageOne,
          handleBatch: stageMany,
          batch: c.STAGING_BATCH,
          lingerMs: c.STAGING_LINGER_MS,
          concurrency: Math.max(c.CONSUMER_CONCURRENCY, c.STAGING_BATCH),
        }),
      ),
      queries: {
        'cube.query.success_rate': successRateQuery(db),
        'cube.query.mttr': mttrQuery(db),
        'cube.query.error_trends': errorTrendsQuery(db),
        'cube.query.rollback_drift': rollbackDriftQuery(db),
        'cube.etl.run': runOnDemand,
      },
      stop: () => etl.stop(),
    };
  },
};
