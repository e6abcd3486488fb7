// sentinel's migrations, in order (forward only).
import type { Migration } from 'kysely';
import { init } from './0001_init.js';
import { mutes } from './0002_mutes.js';
import { rollbackWait } from './0003_rollback_wait.js';
import { timelineInIncident } from './0004_timeline_in_incident.js';
import { fingerprintIndex } from './0005_fingerprint_index.js';
import { lockTriage } from './0006_lock_triage.js';

export const migrations: Record<string, Migration> = {
  '0001_init': init,
  '0002_mutes': mutes,
  '0003_rollback_wait': rollbackWait,
  '0004_timeline_in_incident': timelineInIncident,
  '0005_fingerprint_index': fingerprintIndex,
  '0006_lock_triage': lockTriage,
};
