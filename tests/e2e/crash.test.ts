import { describe, expect, it } from '@jest/globals';
import { exited } from '@grace/service-kit/testing';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { CrashReport } from '../../packages/harness/src/index.js';
import { SERVICES } from './system.js';

const GRACE = fileURLToPath(new URL('../../packages/cli/src/main.ts', import.meta.url));

// `grace crash-test` as a user runs it, at a small scale: its own nats-server and PostgreSQL (so restarting them
// disturbs no other test), the seven services as processes, 10 errors/s while each service is killed with SIGKILL
// and restarted, then NATS and Postgres are restarted.
describe('grace crash-test', () => {
  it('kill -9 of every service and restarts of NATS and Postgres lose no error, leave no contract open, run no action twice and leave no event unsent', async () => {
    const args = ['crash-test', '--rate', '10', '--seconds-between-kills', '3', '--targets', '6'];
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', GRACE, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const { code } = await exited(child);
    let report: CrashReport;
    try {
      report = JSON.parse(stdout) as CrashReport;
    } catch {
      throw new Error(`crash-test printed no report (exit ${code}):\n${stderr.slice(-5000)}`);
    }
    // The progress lines and the report, for whoever reads the test log.
    process.stdout.write(`${stderr}\n${JSON.stringify({ ...report, errors_logged: undefined }, null, 2)}\n`);

    // The faults really happened: each service killed and back, NATS and Postgres stopped and started.
    for (const service of SERVICES) {
      const kill = report.faults.find((f) => f.fault === 'kill -9' && f.target === service);
      expect({ service, killed: kill !== undefined, back: kill?.back_at !== undefined, error: kill?.error }).toEqual({
        service,
        killed: true,
        back: true,
        error: undefined,
      });
    }
    for (const server of ['nats', 'postgres'] as const) {
      const restart = report.faults.find((f) => f.fault === 'restart' && f.target === server);
      expect({ server, back: restart?.back_at !== undefined, error: restart?.error }).toEqual({
        server,
        back: true,
        error: undefined,
      });
    }

    // There was load, some of it remediated, while the faults happened.
    expect(report.errors.reported).toBeGreaterThan(0);
    expect(report.errors.duplicates).toBeGreaterThan(0);
    expect(report.contracts.total).toBeGreaterThan(0);
    expect(report.executions.acted).toBeGreaterThan(0);

    // The invariants, from the printed counts.
    expect(report.errors.unaccounted).toBe(0);
    expect(report.errors.overcounted).toBe(0);
    expect(report.errors.captured_total).toBe(report.errors.reported);
    expect(report.contracts.not_final).toBe(0);
    expect(report.executions.contracts_executed_more_than_once).toEqual([]);
    expect(report.executions.keys_executed_more_than_once).toEqual([]);
    expect(report.executions.max_executions_per_contract).toBe(1);
    expect(report.contracts.incident_attempts_with_several_contracts).toBe(0);
    expect(report.outbox_unsent.total).toBe(0);
    expect(report.violated).toEqual([]);
    expect(report.ok).toBe(true);
    expect(code).toBe(0);
  }, 600_000);
});
