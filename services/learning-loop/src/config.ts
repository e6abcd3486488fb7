// learning-loop's own settings (on top of the kit's), all from the environment.
import { Type } from '@sinclair/typebox';

export const config = {
  DECAY_HALF_LIFE_HOURS: Type.Number({
    default: 0,
    minimum: 0,
    description: 'half-life of old outcomes in the Beta posterior; 0 keeps every outcome at full weight',
  }),
  PUBLISH_INTERVAL_MS: Type.Integer({
    default: 250,
    minimum: 10,
    description: 'changed statistics are published at most this often per key (coalesced)',
  }),
};
