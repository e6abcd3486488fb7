// cube-etl's own settings (on top of the kit's), all from the environment.
import { Type } from '@sinclair/typebox';

export const config = {
  ETL_INTERVAL_MS: Type.Integer({
    default: 300_000,
    minimum: 100,
    description: 'how often the ETL transforms what landed (also on demand: cube.etl.run)',
  }),
  ETL_BATCH_SIZE: Type.Integer({
    default: 5_000,
    minimum: 1,
    maximum: 1_000_000,
    description: 'staged events per ETL transaction (whole landed batches; at least one)',
  }),
  STAGING_BATCH: Type.Integer({
    default: 64,
    minimum: 1,
    maximum: 1_000,
    description: 'events landed per transaction (and per staged row)',
  }),
  STAGING_LINGER_MS: Type.Integer({
    default: 100,
    minimum: 0,
    maximum: 10_000,
    description: 'how long a landing consumer waits for more events to fill a batch',
  }),
};
