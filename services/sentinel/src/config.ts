// sentinel's own settings (on top of the kit's), all from the environment.
import { Type } from '@sinclair/typebox';
import { fileURLToPath } from 'node:url';

/** The catalog that ships with the sentinel. */
export const DEFAULT_PLAYBOOKS_FILE = fileURLToPath(new URL('../playbooks.yaml', import.meta.url));

export const config = {
  PLAYBOOKS_FILE: Type.String({
    default: DEFAULT_PLAYBOOKS_FILE,
    minLength: 1,
    description: 'playbook catalog (YAML)',
  }),
  FILE_POLL_MS: Type.Integer({ default: 1_000, minimum: 10, description: 'how often the catalog is checked' }),
  MAX_ATTEMPTS: Type.Integer({
    default: 3,
    minimum: 1,
    maximum: 32,
    description: 'remediation attempts per incident before it is escalated',
  }),
  ESCALATION_HOLD_MS: Type.Integer({
    default: 3_600_000,
    minimum: 0,
    description:
      'after an escalation, new captures of the fingerprint are counted on it instead of opening a new incident',
  }),
  ROLLBACK_WAIT_MS: Type.Integer({
    default: 900_000,
    minimum: 1_000,
    description:
      'how long an attempt judged drift or failed waits for the executor to confirm its rollback before the incident is escalated',
  }),
  ROLLBACK_SWEEP_MS: Type.Integer({
    default: 10_000,
    minimum: 10,
    description: 'how often overdue rollbacks are looked for',
  }),
  THOMPSON_SEED: Type.Optional(
    Type.Integer({ description: 'seed the playbook draws (tests, replays); unset: random' }),
  ),
};
