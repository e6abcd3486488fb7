// The crash test's playbook catalog: two tier-2 nats playbooks for its targets' fault (one that fixes, one that
// leaves the target broken, so verdicts, drift, rollbacks and second attempts all happen), with second-long
// windows and no cooldown, so contracts are opened and closed all through the run.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The error kind the crash targets report; the catalog's playbooks apply to it only. */
export const FAULT_KIND = 'CrashFault';
/** The action that fixes a target, and the one that does nothing (the verifier sees drift; the snapshot is restored). */
export const FIX_ACTION = 'crash_fix';
export const NOOP_ACTION = 'crash_noop';

const playbook = (name: string, action: string, description: string) => `  - name: ${name}
    description: '${description}'
    applies_to: { kind: ${FAULT_KIND} }
    adapter: nats
    action: ${action}
    params: { reason: 'crash test: {{kind}} on {{service}}' }
    tier: 2
    expected_effect:
      target_state: { healthy: true }
      error_rate_ceiling: 100000
    checks:
      - { kind: state, name: healthy, fields: [healthy] }
      - { kind: error_rate, name: errors-counted, scope: fingerprint, window_ms: 2000, ceiling_per_minute: 100000 }
    timeout_ms: 5000
    cooldown: 0s
`;

export const CRASH_CATALOG = `# Written by grace crash-test: tier-2 nats playbooks for the crash targets (see packages/cli/README.md).
version: 1
playbooks:
${playbook(FIX_ACTION, FIX_ACTION, 'Fix the crash target (it reports healthy).')}
${playbook(NOOP_ACTION, NOOP_ACTION, 'Does nothing: the target stays unhealthy, so the contract drifts and is rolled back.')}`;

/** Write the catalog into `dir`; returns its path (the sentinel's PLAYBOOKS_FILE). */
export function writeCrashCatalog(dir: string): string {
  const path = join(dir, 'playbooks.yaml');
  writeFileSync(path, CRASH_CATALOG);
  return path;
}
