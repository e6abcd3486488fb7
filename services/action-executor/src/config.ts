// action-executor's own settings (on top of the kit's), all from the environment.
import { Type } from '@sinclair/typebox';
import { fileURLToPath } from 'node:url';

/** The policy that ships with the executor. */
export const DEFAULT_POLICY_FILE = fileURLToPath(new URL('../policies.yaml', import.meta.url));

export const config = {
  POLICY_FILE: Type.String({ default: DEFAULT_POLICY_FILE, minLength: 1, description: 'policy-as-code (YAML)' }),
  FILE_POLL_MS: Type.Integer({ default: 1_000, minimum: 10, description: 'how often the policy file is checked' }),
  WORKERS: Type.Integer({
    default: 6,
    minimum: 1,
    maximum: 256,
    description: 'actions (snapshot, execute, restore) run at once by this instance',
  }),
  WORK_POLL_MS: Type.Integer({
    default: 500,
    minimum: 10,
    description: 'how often idle workers look for work another replica left (work of this instance wakes them)',
  }),
  LEASE_MARGIN_MS: Type.Integer({
    default: 30_000,
    minimum: 1_000,
    description: "added to an action's timeout: after that a lost worker's contract is taken over by another",
  }),
  SNAPSHOT_TIMEOUT_MS: Type.Integer({ default: 10_000, minimum: 100, description: 'bound on taking a snapshot' }),
  RESTORE_ATTEMPTS: Type.Integer({
    default: 3,
    minimum: 1,
    maximum: 20,
    description: 'tries to restore a snapshot before the contract is marked failed for a human',
  }),
  RESTORE_RETRY_MS: Type.Integer({ default: 5_000, minimum: 10, description: 'wait between restore tries' }),
  ACTION_BUDGET: Type.Integer({
    default: 3,
    minimum: 1,
    description: 'constitution: actions of tier >= ACTION_BUDGET_MIN_TIER per service and environment per window',
  }),
  ACTION_BUDGET_MIN_TIER: Type.Integer({ default: 2, minimum: 1, maximum: 3 }),
  ACTION_BUDGET_WINDOW_MS: Type.Integer({ default: 3_600_000, minimum: 1_000 }),
  DRY_RUN: Type.Boolean({
    default: false,
    description: 'global dry run: record plan, snapshot and contract of every action and execute none',
  }),
  APPROVAL_SWEEP_MS: Type.Integer({ default: 1_000, minimum: 10, description: 'how often expired approvals end' }),
  HTTP_ADAPTER_SECRET: Type.String({
    default: '',
    description: 'HMAC-SHA256 key of the http adapter signature header (empty: unsigned)',
  }),
  HTTP_ADAPTER_RETRIES: Type.Integer({ default: 2, minimum: 0, maximum: 10 }),
  KUBECONFIG: Type.Optional(
    Type.String({ minLength: 1, description: 'kubeconfig of the kubernetes adapter; unset: in-cluster account' }),
  ),
  ROLLOUT_WAIT: Type.Boolean({
    default: true,
    description: 'kubernetes adapter: wait (within the action timeout) until a rollout is ready',
  }),
};
