// `grace bench` as a real process at a tiny scale (the seven services, the relay hops, the real NATS and
// Postgres): the report is complete and every offered error is accounted for. No timing assertions.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createPool } from '@grace/service-kit';
import { exited, spawnTs, DATABASE_URL, NATS_URL } from '@grace/service-kit/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { fileURLToPath } from 'node:url';
import type { BenchReport } from '../src/system/bench/run.js';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const INGEST_RATE = 10;
const REMEDIATION_RATE = 3;
const SECONDS = 2;

const summaryFields = ['p50', 'p95', 'p99', 'max', 'n'];

describe('grace bench', () => {
  let code: number | null;
  let output = '';
  let report: BenchReport;

  beforeAll(async () => {
    const child = spawnTs(
      MAIN,
      [
        'bench',
        ...['--ingest-rate', String(INGEST_RATE), '--remediation-rate', String(REMEDIATION_RATE)],
        ...['--seconds', String(SECONDS), '--drain-timeout', '30'],
      ],
      { NATS_URL, DATABASE_URL },
    );
    let stdout = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    ({ code } = await exited(child));
    output = child.output();
    report = JSON.parse(stdout) as BenchReport;
  }, 110_000);

  afterAll(() => {
    if (code !== 0) process.stderr.write(output.slice(-5000));
  });

  it('prints one JSON report with every section, exits 0 and stops every service cleanly', () => {
    expect(code).toBe(0);
    expect(Object.keys(report)).toEqual(
      expect.arrayContaining(['bench', 'ingest', 'remediation', 'baseline', 'ratio', 'services', 'targets', 'all_met']),
    );
    for (const summary of [
      report.ingest.reported_to_captured_ms,
      report.remediation.reported_to_verified_ms,
      report.remediation.reported_to_verified_excluding_action_ms,
      report.baseline.at_ingest_rate.latency_ms,
      report.baseline.at_remediation_rate.latency_ms,
      ...Object.values(report.remediation.hops_ms),
    ])
      expect(Object.keys(summary).sort()).toEqual([...summaryFields].sort());
    expect(Object.keys(report.services).sort()).toEqual(
      ['action-executor', 'chat-gateway', 'cube-etl', 'learning-loop', 'sentinel', 'trigger-mesh', 'verifier'].sort(),
    );
    for (const service of Object.values(report.services)) {
      expect(service.rss_peak_mb).toBeGreaterThan(0);
      expect(typeof service.cpu_pct.idle).toBe('number');
      expect(typeof service.cpu_pct.ingest).toBe('number');
      expect(typeof service.cpu_pct.remediation).toBe('number');
    }
    expect(report.targets.map((t) => t.name)).toEqual([
      'ingest_rate',
      'verified_rate',
      'verified_p99',
      'relay_ratio',
      'rss_per_service',
    ]);
    for (const target of report.targets) expect(typeof target.met).toBe('boolean');
    expect(report.invalid_events).toBe(0);
    expect(report.service_exits).toEqual([]);
    expect(Object.values(report.stop_codes)).toEqual(Array(7).fill(0));
  });

  it('accounts for every offered error: distinct ones captured, repeats counted into their captures', () => {
    const ingest = report.ingest;
    expect(ingest.offered).toBe(INGEST_RATE * SECONDS);
    expect(ingest.published).toBe(ingest.offered);
    expect(ingest.ingested).toBe(ingest.published);
    expect(ingest.unaccounted).toBe(0);
    expect(ingest.first_captures_delivered).toBe(ingest.first_captures_expected);
    expect(ingest.fingerprints).toBe(ingest.first_captures_expected);
    expect(ingest.reported_to_captured_ms.n).toBe(ingest.first_captures_expected);
  });

  it('brings every remediation error to a verified contract, acted on once by the target', () => {
    const remediation = report.remediation;
    expect(remediation.offered).toBe(REMEDIATION_RATE * SECONDS);
    expect(remediation.published).toBe(remediation.offered);
    expect(remediation.verified).toBe(remediation.offered);
    expect(remediation.verdicts).toEqual({ verified: remediation.offered });
    expect(remediation.unfinished).toBe(0);
    expect(remediation.target.actions).toBe(remediation.offered);
    expect(remediation.reported_to_verified_ms.n).toBe(remediation.offered);
  });

  it('runs the bare relay at both rates and delivers everything it offered', () => {
    for (const relay of [report.baseline.at_ingest_rate, report.baseline.at_remediation_rate]) {
      expect(relay.hops).toBe(7);
      expect(relay.delivered).toBe(relay.offered);
    }
    expect(report.baseline.at_ingest_rate.offered).toBe(INGEST_RATE * SECONDS);
  });

  it('leaves no database and no streams behind', async () => {
    const pool = createPool({
      url: DATABASE_URL,
      schema: 'public',
      poolMax: 1,
      statementTimeoutMs: 10_000,
      applicationName: 'bench-test',
    });
    const { rows } = await pool.query('select 1 from pg_database where datname = $1', [report.bench.database]);
    await pool.end();
    expect(rows).toHaveLength(0);
    const nc = await connect({ servers: NATS_URL });
    const jsm = await jetstreamManager(nc);
    const left: string[] = [];
    for await (const stream of jsm.streams.list())
      if (stream.config.name.startsWith(`${report.bench.namespace}_`)) left.push(stream.config.name);
    await nc.close();
    expect(left).toEqual([]);
  });
});
