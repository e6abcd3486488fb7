// cube-etl's migrations, in order (forward only).
import type { Migration } from 'kysely';
import { init } from './0001_init.js';
import { dailyRollups } from './0002_daily_rollups.js';
import { stagedBatches } from './0003_staged_batches.js';
import { incidentResolvedBy } from './0004_incident_resolved_by.js';

export const migrations: Record<string, Migration> = {
  '0001_init': init,
  '0002_daily_rollups': dailyRollups,
  '0003_staged_batches': stagedBatches,
  '0004_incident_resolved_by': incidentResolvedBy,
};
