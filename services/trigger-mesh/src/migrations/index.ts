// trigger-mesh's migrations, in order (forward only).
import type { Migration } from 'kysely';
import { init } from './0001_init.js';
import { sentryProducers } from './0002_sentry_producers.js';
import { alertMembers } from './0003_alert_members.js';

export const migrations: Record<string, Migration> = {
  '0001_init': init,
  '0002_sentry_producers': sentryProducers,
  '0003_alert_members': alertMembers,
};
