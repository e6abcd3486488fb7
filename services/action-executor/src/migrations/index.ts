// action-executor's migrations, in order (forward only).
import type { Migration } from 'kysely';
import { init } from './0001_init.js';
import { appendAuditFunction } from './0002_append_audit.js';
import { contractTraceparent } from './0003_traceparent.js';

export const migrations: Record<string, Migration> = {
  '0001_init': init,
  '0002_append_audit': appendAuditFunction,
  '0003_traceparent': contractTraceparent,
};
