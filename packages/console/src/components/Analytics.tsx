// Analytics: the cube's four queries over the last 7 days by day, each drawn as a small chart (./Charts, visx).
import { useMemo, type ReactNode } from 'react';
import { api } from '../api';
import { useLoad } from '../context';
import { formatDuration, formatPercent } from '../format';
import type { ErrorTrendsReply, MttrReply, RollbackDriftReply, SuccessRateReply } from '../types';
import { BarChart, LineChart, type ChartState } from './Charts';

const DAY_MS = 86_400_000;
const DAYS = 7;

export interface Range {
  from: string;
  to: string;
  /** The day buckets' keys, YYYY-MM-DD (UTC), oldest first. */
  days: string[];
}

/** The last 7 days by UTC day, today included: [midnight 6 days ago, next midnight). */
export function lastWeek(now: number): Range {
  const tomorrow = Math.floor(now / DAY_MS) * DAY_MS + DAY_MS;
  const start = tomorrow - DAYS * DAY_MS;
  const days = Array.from({ length: DAYS }, (_, i) => new Date(start + i * DAY_MS).toISOString().slice(0, 10));
  return { from: new Date(start).toISOString(), to: new Date(tomorrow).toISOString(), days };
}

/** The UTC day a bucket starts on, whatever offset the timestamp is written with. */
function dayOf(iso: string): string {
  const time = Date.parse(iso);
  return Number.isNaN(time) ? iso.slice(0, 10) : new Date(time).toISOString().slice(0, 10);
}

/** Sums per day: `pick` answers the numbers of one row to add into that day's totals. */
function perDay<Row extends { bucket_start: string }, K extends string>(
  days: string[],
  rows: Row[],
  keys: readonly K[],
  pick: (row: Row) => Record<K, number>,
): Map<string, Record<K, number>> {
  const totals = new Map<string, Record<K, number>>();
  for (const day of days) totals.set(day, Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>);
  for (const row of rows) {
    const total = totals.get(dayOf(row.bucket_start));
    if (!total) continue;
    const values = pick(row);
    for (const key of keys) total[key] += values[key];
  }
  return totals;
}

/** Loading until the first reply, failed if it never came, then ready (and maybe empty). */
const stateOf = (data: unknown, error: string | null): ChartState =>
  data !== undefined ? 'ready' : error ? 'failed' : 'loading';

function ChartCard({
  metric,
  title,
  loading,
  error,
  children,
}: {
  metric: string;
  title: string;
  loading: boolean;
  error: string | null;
  children: ReactNode;
}) {
  return (
    <section className="chart-card" data-testid={`chart-${metric}`} aria-busy={loading}>
      <h3>{title}</h3>
      {error && <p className="error-text">{error}</p>}
      {children}
    </section>
  );
}

function SuccessRate({ range }: { range: Range }) {
  const { data, error, loading } = useLoad(`success_rate:${range.from}`, (signal) =>
    api<SuccessRateReply>('/cube/success_rate', {
      query: { from: range.from, to: range.to, bucket: 'day' },
      signal,
      action: 'read analytics',
    }),
  );
  const totals = perDay(range.days, data?.rows ?? [], ['executed', 'verified'] as const, (row) => row);
  const values = range.days.map((day) => {
    const t = totals.get(day);
    return t && t.executed > 0 ? t.verified / t.executed : null;
  });
  const executed = [...totals.values()].reduce((sum, t) => sum + t.executed, 0);
  const verified = [...totals.values()].reduce((sum, t) => sum + t.verified, 0);
  const detail = (i: number) => {
    const t = totals.get(range.days[i] ?? '');
    return t && t.executed > 0 ? `${t.verified} verified of ${t.executed} executed` : null;
  };
  return (
    <ChartCard metric="success_rate" title="Success rate (verified / executed)" loading={loading} error={error}>
      <BarChart
        title="Success rate per day"
        name="success rate"
        days={range.days}
        values={values}
        kind="rate"
        yLabel="Success rate"
        state={stateOf(data, error)}
        emptyText="No action was executed in this range."
        detail={detail}
      />
      <p className="muted">
        {verified} verified of {executed} executed
        {executed > 0 ? ` (${formatPercent(verified / executed)})` : ''} this week.
      </p>
    </ChartCard>
  );
}

function Mttr({ range }: { range: Range }) {
  const { data, error, loading } = useLoad(`mttr:${range.from}`, (signal) =>
    api<MttrReply>('/cube/mttr', {
      query: { from: range.from, to: range.to, bucket: 'day' },
      signal,
      action: 'read analytics',
    }),
  );
  const rows = data?.rows ?? [];
  const totals = perDay(range.days, rows, ['resolved', 'weighted'] as const, (row) => ({
    resolved: row.resolved,
    weighted: row.mean_ms * row.resolved,
  }));
  const worstP90 = new Map<string, number>();
  for (const row of rows) {
    const day = dayOf(row.bucket_start);
    worstP90.set(day, Math.max(worstP90.get(day) ?? 0, row.p90_ms));
  }
  const mean = range.days.map((day) => {
    const t = totals.get(day);
    return t && t.resolved > 0 ? t.weighted / t.resolved : null;
  });
  const p90 = range.days.map((day) => worstP90.get(day) ?? null);
  const resolved = [...totals.values()].reduce((sum, t) => sum + t.resolved, 0);
  const weighted = [...totals.values()].reduce((sum, t) => sum + t.weighted, 0);
  return (
    <ChartCard metric="mttr" title="Mean time to resolve" loading={loading} error={error}>
      <LineChart
        title="Mean time to resolve per day"
        days={range.days}
        series={[
          { name: 'mean (all services)', values: mean, tone: 'series-1' },
          { name: 'p90 (slowest service)', values: p90, tone: 'series-2' },
        ]}
        kind="duration"
        yLabel="Time to resolve"
        state={stateOf(data, error)}
        emptyText="No incident was resolved in this range."
        detail={(i) => {
          const n = totals.get(range.days[i] ?? '')?.resolved ?? 0;
          return n > 0 ? `${n} resolved` : null;
        }}
      />
      <p className="muted">
        {resolved} incident(s) resolved this week{resolved > 0 ? `, mean ${formatDuration(weighted / resolved)}` : ''}.
      </p>
    </ChartCard>
  );
}

function ErrorTrends({ range }: { range: Range }) {
  const { data, error, loading } = useLoad(`error_trends:${range.from}`, (signal) =>
    api<ErrorTrendsReply>('/cube/error_trends', {
      query: { from: range.from, to: range.to, bucket: 'day' },
      signal,
      action: 'read analytics',
    }),
  );
  const rows = data?.rows ?? [];
  const totals = perDay(range.days, rows, ['occurrences'] as const, (row) => row);
  const top = useMemo(() => {
    const byFingerprint = new Map<string, { kind: string; occurrences: number }>();
    for (const row of rows) {
      const entry = byFingerprint.get(row.fingerprint) ?? { kind: row.kind, occurrences: 0 };
      entry.occurrences += row.occurrences;
      byFingerprint.set(row.fingerprint, entry);
    }
    return [...byFingerprint.entries()].sort((a, b) => b[1].occurrences - a[1].occurrences).slice(0, 5);
  }, [rows]);
  return (
    <ChartCard metric="error_trends" title="Errors (top signatures)" loading={loading} error={error}>
      <BarChart
        title="Error occurrences per day"
        name="occurrences"
        days={range.days}
        // A week with some errors counts the days without any as 0; a week without any has no data at all.
        values={range.days.map((day) => (rows.length > 0 ? (totals.get(day)?.occurrences ?? 0) : null))}
        kind="count"
        yLabel="Occurrences"
        state={stateOf(data, error)}
        emptyText="No error was recorded in this range."
      />
      {top.length > 0 && (
        <table className="table compact">
          <thead>
            <tr>
              <th>Fingerprint</th>
              <th>Kind</th>
              <th className="num">This week</th>
            </tr>
          </thead>
          <tbody>
            {top.map(([fingerprint, entry]) => (
              <tr key={fingerprint}>
                <td className="mono wrap">{fingerprint}</td>
                <td className="wrap">{entry.kind}</td>
                <td className="num">{entry.occurrences}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </ChartCard>
  );
}

function RollbackDrift({ range }: { range: Range }) {
  const { data, error, loading } = useLoad(`rollback_drift:${range.from}`, (signal) =>
    api<RollbackDriftReply>('/cube/rollback_drift', {
      query: { from: range.from, to: range.to, bucket: 'day' },
      signal,
      action: 'read analytics',
    }),
  );
  const totals = perDay(range.days, data?.rows ?? [], ['executed', 'rolled_back', 'drifted'] as const, (row) => row);
  const rate = (key: 'rolled_back' | 'drifted') =>
    range.days.map((day) => {
      const t = totals.get(day);
      return t && t.executed > 0 ? t[key] / t.executed : null;
    });
  const worst = data?.worst_playbooks ?? [];
  return (
    <ChartCard metric="rollback_drift" title="Rollbacks and drift" loading={loading} error={error}>
      <LineChart
        title="Rollback and drift rates per day"
        days={range.days}
        series={[
          { name: 'rollback rate', values: rate('rolled_back'), tone: 'series-3' },
          { name: 'drift rate', values: rate('drifted'), tone: 'series-4' },
        ]}
        kind="rate"
        yLabel="Share of executed actions"
        state={stateOf(data, error)}
        emptyText="No action was executed in this range."
        detail={(i) => {
          const t = totals.get(range.days[i] ?? '');
          return t && t.executed > 0
            ? `${t.rolled_back} rolled back, ${t.drifted} drifted of ${t.executed} executed`
            : null;
        }}
      />
      {worst.length > 0 && (
        <table className="table compact" data-testid="worst-playbooks">
          <thead>
            <tr>
              <th>Worst playbooks</th>
              <th>Adapter</th>
              <th className="num">Tier</th>
              <th className="num">Rollback</th>
              <th className="num">Drift</th>
            </tr>
          </thead>
          <tbody>
            {worst.map((p) => (
              <tr key={`${p.playbook}-${p.adapter}-${p.tier}`}>
                <td className="mono">{p.playbook}</td>
                <td>{p.adapter}</td>
                <td className="num">{p.tier}</td>
                <td className="num">{formatPercent(p.rollback_rate)}</td>
                <td className="num">{formatPercent(p.drift_rate)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </ChartCard>
  );
}

export function Analytics() {
  // The range is fixed when the tab opens; reopening the tab reads a fresh week.
  const range = useMemo(() => lastWeek(Date.now()), []);
  return (
    <section className="panel" data-testid="analytics">
      <div className="panel-head">
        <h2>Analytics</h2>
        <span className="muted">
          Last 7 days by day (UTC): {range.days[0]} to {range.days[range.days.length - 1]}
        </span>
      </div>
      <div className="charts">
        <SuccessRate range={range} />
        <Mttr range={range} />
        <ErrorTrends range={range} />
        <RollbackDrift range={range} />
      </div>
    </section>
  );
}
