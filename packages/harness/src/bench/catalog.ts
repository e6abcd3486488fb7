// The bench's playbook catalog (given to the sentinel as PLAYBOOKS_FILE): one tier-1 nats playbook for the
// remediation load's errors, judged by the target's reported state alone (no error-rate window to wait for,
// no cooldown), so reported->verified measures Grace and not a verification window.
import { BENCH_ACTION, REMEDIATION_KIND } from './load.js';

export const BENCH_PLAYBOOK = 'bench_fix';

export const benchCatalog = () => `# grace bench: written for one run, deleted after it.
version: 1
playbooks:
  - name: ${BENCH_PLAYBOOK}
    description: The bench target's fix, verified by the state the target reports (no error-rate window).
    applies_to: { kind: ${REMEDIATION_KIND} }
    adapter: nats
    action: ${BENCH_ACTION}
    params: { reason: 'grace bench: {{kind}} on {{service}}' }
    tier: 1
    expected_effect:
      target_state: { bench.healthy: true }
      error_rate_ceiling: 1
    checks:
      - { kind: state, name: bench-healthy, fields: [bench.healthy] }
    timeout_ms: 10000
    cooldown: 0s
`;
