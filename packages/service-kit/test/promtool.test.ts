// The kit's /metrics as Prometheus' own linter reads it: `promtool check metrics` (Debian's prometheus package)
// finds no problem in what a running service answers, with prom-client's defaults that break the naming rules
// left out. tests/e2e/promtool.test.ts does the same for each of the seven services.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DROPPED_DEFAULT_METRICS, startService, type RunningService } from '../src/index.js';
import { ledgerService, type LedgerDb } from './fixtures/ledger-service.js';
import {
  checkMetrics,
  checkRules,
  createSandbox,
  publishRaw,
  sampleReported,
  waitFor,
  type Sandbox,
} from './support.js';

describe('promtool check metrics on the kit', () => {
  let sandbox: Sandbox;
  let service: RunningService<LedgerDb, unknown>;

  beforeAll(async () => {
    sandbox = await createSandbox('promtool');
    service = await startService(ledgerService, sandbox.env);
  });

  afterAll(async () => {
    await service?.stop();
    await sandbox?.cleanup();
  });

  it("finds no problem in a running service's /metrics, its labelled series filled", async () => {
    await publishRaw(sandbox, 'error.reported', JSON.stringify(sampleReported()));
    const text = await waitFor('the handled event in /metrics', async () => {
      const body = await (await fetch(`http://127.0.0.1:${service.httpPort}/metrics`)).text();
      return body.includes('grace_handler_duration_seconds_bucket{') ? body : undefined;
    });
    expect(checkMetrics(text)).toEqual({ code: 0, output: '' });
    // What the dashboard reads stays; the `_total` gauges are gone, their per-type gauges stay.
    for (const kept of [
      'process_resident_memory_bytes',
      'process_cpu_seconds_total',
      'nodejs_eventloop_lag_seconds',
      'nodejs_active_handles',
      'nodejs_heap_size_used_bytes',
    ])
      expect(text).toContain(`# TYPE ${kept} `);
    for (const dropped of DROPPED_DEFAULT_METRICS) expect(text).not.toContain(dropped);
  });

  it('reports what promtool prints for a broken exposition, and refuses an empty one', () => {
    const broken = checkMetrics('# HELP things_total Things.\n# TYPE things_total gauge\nthings_total 1\n');
    expect(broken.code).toBe(3);
    expect(broken.output).toContain('things_total non-counter metrics should not have "_total" suffix');
    expect(checkMetrics('# TYPE requests counter\nrequests 1\n').output).toContain(
      'counter metrics should have "_total" suffix',
    );
    expect(checkMetrics('\n')).toEqual({ code: 1, output: 'no metrics at all (an empty exposition)' });
  });

  it('checks Prometheus rule files (the repository has none yet)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'grace-rules-'));
    try {
      const rule = (expr: string) =>
        `groups:\n  - name: grace\n    rules:\n      - alert: DeadLetters\n        expr: ${expr}\n        for: 5m\n`;
      writeFileSync(join(dir, 'good.yaml'), rule('increase(grace_events_dead_lettered_total[10m]) > 0'));
      writeFileSync(join(dir, 'bad.yaml'), rule('increase(grace_events_dead_lettered_total[10m] > 0'));
      expect(checkRules([join(dir, 'good.yaml')])).toMatchObject({ code: 0 });
      const bad = checkRules([join(dir, 'bad.yaml')]);
      expect(bad.code).toBe(1);
      expect(bad.output).toContain('bad.yaml');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails, saying what to install, when promtool is missing', () => {
    expect(() => checkMetrics('up 1\n', '/nonexistent/promtool')).toThrow(
      "promtool is not at /nonexistent/promtool: install Debian's prometheus package",
    );
  });
});
