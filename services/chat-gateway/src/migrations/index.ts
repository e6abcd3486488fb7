// chat-gateway's migrations, in order (forward only).
import type { Migration } from 'kysely';
import { init } from './0001_init.js';

export const migrations: Record<string, Migration> = { '0001_init': init };
