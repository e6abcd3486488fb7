// deploy/grafana/grace.json: a dashboard ready for file provisioning whose every query names metrics and
// labels the services really export (the kit's and services' metrics, registered on a fresh registry).
import { describe, expect, it } from '@jest/globals';
import { KitMetrics } from '@grace/service-kit';
import { parser } from '@prometheus-io/lezer-promql';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { parse } from 'yaml';
import { REPO_ROOT } from './grace.js';

type SyntaxNode = ReturnType<typeof parser.parse>['topNode'];

interface Target {
  expr: string;
  datasource?: { type?: string; uid?: string };
  legendFormat?: string;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  templating: { list: { name: string; type: string; query: unknown; datasource?: unknown }[] };
  panels: Panel[];
}

const dashboard = JSON.parse(readFileSync(`${REPO_ROOT}deploy/grafana/grace.json`, 'utf8')) as Dashboard;
const panels = dashboard.panels.filter((p) => p.type !== 'row');
const targets = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, ...t })));

/** Labels Prometheus adds to every scraped series. */
const TARGET_LABELS = ['job', 'instance'];

/**
 * Every series name a Grace service exports, with its labels: the kit's metrics (with Node's defaults) and
 * each service's own (services/<name>/src/metrics.ts, `createMetrics(kit)`), on one fresh registry.
 */
async function exportedSeries(): Promise<Map<string, Set<string>>> {
  const kit = new KitMetrics('dashboard-test');
  const metricsModules = readdirSync(`${REPO_ROOT}services`)
    .map((dir) => `${REPO_ROOT}services/${dir}/src/metrics.ts`)
    .filter((file) => existsSync(file));
  expect(metricsModules.length).toBeGreaterThanOrEqual(4);
  for (const file of metricsModules) {
    const module = (await import(file)) as { createMetrics(kit: KitMetrics): unknown };
    module.createMetrics(kit);
  }
  // The registry's default labels (`service`), as an unlabelled metric carries them when scraped.
  const backlog = (await kit.registry.getMetricsAsJSON()).find((m) => m.name === 'grace_outbox_backlog');
  const defaultLabels = Object.keys(backlog?.values[0]?.labels ?? {});
  expect(defaultLabels).toEqual(['service']);

  const series = new Map<string, Set<string>>();
  for (const metric of kit.registry.getMetricsAsArray()) {
    const { name, type } = metric as unknown as { name: string; type: string };
    // prom-client keeps a metric's label names on the instance; its typings do not expose them.
    const own = (metric as unknown as { labelNames?: readonly string[] }).labelNames ?? [];
    const labels = new Set([...own, ...defaultLabels, ...TARGET_LABELS]);
    if (type === 'histogram') {
      series.set(`${name}_bucket`, new Set([...labels, 'le']));
      series.set(`${name}_sum`, labels);
      series.set(`${name}_count`, labels);
    } else if (type === 'summary') {
      series.set(name, new Set([...labels, 'quantile']));
      series.set(`${name}_sum`, labels);
      series.set(`${name}_count`, labels);
    } else {
      series.set(name, labels);
    }
  }
  return series;
}

/** Grafana's own variables become what Prometheus accepts, so the expression parses as PromQL. */
function asPromQL(expr: string): string {
  return expr.replace(/\$__(rate_interval|interval|range)\b/g, '5m');
}

function* descendants(node: SyntaxNode, name: string): Generator<SyntaxNode> {
  const cursor = node.cursor();
  do {
    if (cursor.name === name) yield cursor.node;
  } while (cursor.next() && cursor.from < node.to);
}

interface Usage {
  metrics: string[];
  problems: string[];
}

/** The metrics an expression selects, and every label it names that its metrics do not have. */
function checkExpression(expr: string, series: Map<string, Set<string>>): Usage {
  const text = asPromQL(expr);
  const tree = parser.parse(text);
  const problems: string[] = [];
  const metrics: string[] = [];
  const textOf = (n: SyntaxNode) => text.slice(n.from, n.to);
  tree.iterate({
    enter: (n) => {
      if (n.type.isError) problems.push(`does not parse at ${n.from}: ${text.slice(n.from, n.from + 20)}`);
    },
  });
  const labelsUnder = (node: SyntaxNode) => {
    const labels = new Set<string>();
    for (const selector of descendants(node, 'VectorSelector')) {
      const identifier = selector.getChild('Identifier');
      for (const label of series.get(identifier ? textOf(identifier) : '') ?? []) labels.add(label);
    }
    return labels;
  };
  for (const selector of descendants(tree.topNode, 'VectorSelector')) {
    const identifier = selector.getChild('Identifier');
    const name = identifier ? textOf(identifier) : '';
    metrics.push(name);
    const labels = series.get(name);
    if (!labels) {
      problems.push(`no service exports ${name || '(a selector without a metric name)'}`);
      continue;
    }
    const matchers = selector.getChild('LabelMatchers');
    for (const label of matchers ? descendants(matchers, 'LabelName') : []) {
      if (!labels.has(textOf(label))) problems.push(`${name} has no label ${textOf(label)}`);
    }
  }
  for (const aggregate of descendants(tree.topNode, 'AggregateExpr')) {
    const grouping = aggregate.getChild('AggregateModifier')?.getChild('GroupingLabels');
    if (!grouping) continue;
    const available = labelsUnder(aggregate);
    for (const label of descendants(grouping, 'LabelName')) {
      if (!available.has(textOf(label))) problems.push(`grouped by ${textOf(label)}, which its metrics do not have`);
    }
  }
  return { metrics, problems };
}

describe('the Grafana dashboard (deploy/grafana/grace.json)', () => {
  it('is a dashboard with a uid, a title, a schema version and templated datasource and service', () => {
    expect(dashboard.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
    expect(dashboard.title).toBe('Grace');
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const variables = Object.fromEntries(dashboard.templating.list.map((v) => [v.name, v]));
    expect(variables.datasource).toMatchObject({ type: 'datasource', query: 'prometheus' });
    expect(variables.service).toMatchObject({
      type: 'query',
      datasource: { type: 'prometheus', uid: '${datasource}' },
    });
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
  });

  it('queries the templated Prometheus in every panel, each with at least one target', () => {
    expect(panels.length).toBeGreaterThan(0);
    for (const panel of panels) {
      expect({ panel: panel.title, datasource: panel.datasource }).toEqual({
        panel: panel.title,
        datasource: { type: 'prometheus', uid: '${datasource}' },
      });
      expect({ panel: panel.title, targets: (panel.targets ?? []).length > 0 }).toEqual({
        panel: panel.title,
        targets: true,
      });
      for (const target of panel.targets ?? []) {
        expect(target.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
        expect(target.expr).toContain('service=~"$service"');
      }
    }
  });

  it('uses only metrics and labels the services export', async () => {
    const series = await exportedSeries();
    const used = new Set<string>();
    for (const target of targets) {
      const { metrics, problems } = checkExpression(target.expr, series);
      metrics.forEach((m) => used.add(m));
      expect({ panel: target.panel, expr: target.expr, problems }).toEqual({
        panel: target.panel,
        expr: target.expr,
        problems: [],
      });
    }
    // What the issue asks the dashboard to show.
    for (const wanted of [
      'grace_events_handled_total',
      'grace_events_failed_total',
      'grace_events_dead_lettered_total',
      'grace_handler_duration_seconds_bucket',
      'grace_consumer_pending_messages',
      'grace_consumer_ack_pending_messages',
      'grace_outbox_backlog',
      'grace_verifier_verdicts_total',
    ]) {
      expect(used).toContain(wanted);
    }
  });

  it('catches a metric or a label no service exports', async () => {
    const series = await exportedSeries();
    expect(checkExpression('sum by (subject) (rate(grace_events_handled_total[5m]))', series).problems).toEqual([]);
    expect(checkExpression('rate(grace_events_handeld_total[5m])', series).problems).toEqual([
      'no service exports grace_events_handeld_total',
    ]);
    expect(checkExpression('grace_outbox_backlog{subject="x"}', series).problems).toEqual([
      'grace_outbox_backlog has no label subject',
    ]);
    expect(checkExpression('sum by (verdict) (grace_outbox_backlog)', series).problems).toEqual([
      'grouped by verdict, which its metrics do not have',
    ]);
  });

  it('is provisioned from the file the compose monitoring profile mounts', () => {
    const provider = parse(readFileSync(`${REPO_ROOT}deploy/grafana/provisioning/dashboards/grace.yaml`, 'utf8')) as {
      providers: { type: string; options: { path: string } }[];
    };
    const datasources = parse(
      readFileSync(`${REPO_ROOT}deploy/grafana/provisioning/datasources/prometheus.yaml`, 'utf8'),
    ) as { datasources: { type: string; url: string }[] };
    expect(provider.providers[0]).toMatchObject({ type: 'file', options: { path: '/var/lib/grafana/dashboards' } });
    expect(datasources.datasources[0]).toMatchObject({ type: 'prometheus', url: 'http://prometheus:9090' });
    const compose = readFileSync(`${REPO_ROOT}docker-compose.yml`, 'utf8');
    expect(compose).toContain('./deploy/grafana/grace.json:/var/lib/grafana/dashboards/grace.json:ro');
  });
});
