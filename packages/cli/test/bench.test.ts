// `grace bench` as a real process at a tiny scale (the seven services, the relay hops, the real NATS and
// Postgres): the report is complete and every offered error is accounted for. No timing assertions; one budget:
// what a remediation costs in Postgres, which must not creep up.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { BenchReport, CostPerItem } from '@grace/harness';
import { createPool } from '@grace/service-kit';
import { exited, spawnTs, DATABASE_URL, NATS_URL } from '@grace/service-kit/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { fileURLToPath } from 'node:url';

/**
 * Postgres per verified remediation (the bench database's rows written = inserted + updated + deleted, and
 * commits), net of what the services do while idle (at this test's tiny rates idle polling would dominate the raw
 * figures). Lowered as the cost work of issue 16 lands; the target is 8 commits and 30 rows written.
 */
const REMEDIATION_ROWS_BUDGET = 65;
// Commits at these rates depend on timing (how events fall into batches, polls in the window): 34.2 and 43.7 in two
// runs of 2026-12-03 after the first cost work, 29.0 and 38.8 after the second (group commit, fewer round trips);
// the executor's and the sentinel's cost tests hold exact budgets per item.
const REMEDIATION_COMMITS_BUDGET = 50;

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const INGEST_RATE = 10;
const REMEDIATION_RATE = 3;
const LOW_RATE = 2;
const SECONDS = 2;
const SERVICES = [
  'action-executor',
  'chat-gateway',
  'cube-etl',
  'learning-loop',
  'sentinel',
  'trigger-mesh',
  'verifier',
];

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
        ...['--low-rate', String(LOW_RATE)],
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
      expect.arrayContaining([
        'bench',
        'ingest',
        'remediation',
        'remediation_at_low_rate',
        'baseline',
        'ratio',
        'services',
        'idle_postgres',
        'targets',
        'all_met',
      ]),
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
    expect(Object.keys(report.services).sort()).toEqual(SERVICES);
    for (const service of Object.values(report.services)) {
      expect(service.rss_peak_mb).toBeGreaterThan(0);
      expect(typeof service.cpu_pct.idle).toBe('number');
      expect(typeof service.cpu_pct.ingest).toBe('number');
      expect(typeof service.cpu_pct.remediation).toBe('number');
    }
    expect(report.targets.map((t) => t.name)).toEqual([
      'pg_per_remediation',
      'pg_per_error',
      'cpu_per_remediation',
      'remediation_rate',
      'remediation_p99_ratio',
      'remediation_p99_at_20',
      'ingest_rate',
      'rss_per_service',
    ]);
    for (const target of report.targets) {
      expect(typeof target.met).toBe('boolean');
      expect(target.target).toEqual(expect.any(String));
      expect(target.measured).toBeDefined();
    }
    expect(report.invalid_events).toBe(0);
    expect(report.service_exits).toEqual([]);
    expect(Object.values(report.stop_codes)).toEqual(Array(7).fill(0));
  });

  it('says what every item cost in Postgres: per service (rows and commits) and per table', () => {
    const costs: [string, CostPerItem][] = [
      ['ingest', report.ingest.cost_per_error],
      ['remediation', report.remediation.cost_per_remediation],
      ['remediation_at_low_rate', report.remediation_at_low_rate.cost_per_remediation],
    ];
    for (const [load, cost] of costs) {
      expect([load, cost.items]).toEqual([load, expect.any(Number)]);
      expect(cost.items).toBeGreaterThan(0);
      for (const key of ['commits', 'rows_inserted', 'rows_updated', 'rows_deleted', 'rows_written'] as const)
        expect(cost.postgres[key]).toEqual(expect.any(Number));
      expect(cost.cpu_ms.machine).toEqual(expect.any(Number));
      expect(Object.keys(cost.rows_per_item).sort()).toEqual(expect.arrayContaining(SERVICES));
      for (const service of SERVICES) {
        const rows = cost.rows_per_item[service]!;
        expect(Object.keys(rows).sort()).toEqual(['deleted', 'inserted', 'updated', 'written']);
        expect(rows.written).toBeCloseTo(rows.inserted! + rows.updated! + rows.deleted!, 1);
        // The commit counter: a number per item, or null where a service does not export it.
        const commits = cost.commits_per_item[service];
        expect(commits === null || typeof commits === 'number').toBe(true);
        // And the statements it sent (each a round trip), from the kit's counter.
        expect(cost.statements_per_item[service]).toEqual(expect.any(Number));
      }
      // Tables as schema.table of the services' schemas, only those written to.
      expect(Object.keys(cost.tables).length).toBeGreaterThan(0);
      for (const [table, written] of Object.entries(cost.tables)) {
        expect(table).toMatch(/^\w+\.\w+$/);
        expect(written).not.toBe(0);
      }
    }
    // A remediation writes in the schemas of the services it passes through.
    const remediation = report.remediation.cost_per_remediation;
    for (const service of ['trigger-mesh', 'sentinel', 'action-executor', 'verifier'])
      expect(remediation.rows_per_item[service]!.written).toBeGreaterThan(0);
    expect(Object.keys(remediation.tables)).toEqual(expect.arrayContaining(['action_executor.contracts']));
    expect(report.baseline.at_remediation_rate.cpu_ms_per_event).toEqual(expect.any(Number));
  });

  it('keeps what a remediation costs in Postgres within the budget', () => {
    const net = report.remediation.cost_per_remediation.postgres_net_of_idle;
    expect({ rows_written: net.rows_written, commits: net.commits }).toEqual({
      rows_written: expect.any(Number),
      commits: expect.any(Number),
    });
    expect(net.rows_written).toBeLessThanOrEqual(REMEDIATION_ROWS_BUDGET);
    expect(net.commits).toBeLessThanOrEqual(REMEDIATION_COMMITS_BUDGET);
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
    const low = report.remediation_at_low_rate;
    expect(low.rate).toBe(LOW_RATE);
    expect(low.offered).toBe(LOW_RATE * SECONDS);
    expect(low.verified).toBe(low.offered);
    expect(low.unfinished).toBe(0);
    expect(low.reported_to_verified_excluding_action_ms.n).toBe(low.offered);
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
