// verifier's migrations, in order (forward only).
import type { Migration } from 'kysely';
import { init } from './0001_init.js';
import { sourceResolutions } from './0002_source_resolutions.js';
import { resolutionFiring } from './0003_resolution_firing.js';
import { verificationTraceparent } from './0004_traceparent.js';

export const migrations: Record<string, Migration> = {
  '0001_init': init,
  '0002_source_resolutions': sourceResolutions,
  '0003_resolution_firing': resolutionFiring,
  '0004_traceparent': verificationTraceparent,
};
