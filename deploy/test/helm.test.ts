// The Helm chart deploy/helm/grace run through real Helm v4 (scripts/tools.sh builds it): rendered with
// `helm template`, every object checked against the Kubernetes schemas and our policy, its values against
// values.schema.json (by Ajv and by Helm itself), `helm lint --strict`, `helm package` and the `helm test` hook.
import { describe, expect, it } from '@jest/globals';
import { streamFor, type EventSubject } from '@grace/contracts';
import { Naming } from '@grace/service-kit';
import { Ajv } from 'ajv';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { parsePolicy } from '../../services/action-executor/src/domain/policy.js';
import { STAGED_STREAMS } from '../../services/cube-etl/src/handlers/stage-event.js';
import { parseCatalog } from '../../services/sentinel/src/domain/catalog.js';
import { parseRules } from '../../services/trigger-mesh/src/domain/rules.js';
import { GRACE_SERVICES } from './grace.js';
import {
  CHART,
  REPO,
  chartArgs,
  helm,
  renderChart,
  renderNotes,
  runTemplate,
  type K8sObject,
  type Rendered,
} from './helm.js';
import { policyViolations, schemaErrors, type ChartValues } from './validate.js';

const EXAMPLES = join(CHART, 'examples');
const examples = readdirSync(EXAMPLES).filter((file) => file.endsWith('.yaml'));

const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')) as object;
// Helm checks values against values.schema.json as JSON Schema draft-07, which is Ajv's default draft.
const validateValues = new Ajv({ allErrors: true, allowUnionTypes: true }).compile(schema);
const schemaProblems = (values: unknown) =>
  validateValues(values)
    ? []
    : (validateValues.errors ?? []).map((error) => `${error.instancePath || '/'} ${error.message}`);

const scenarios: Record<string, string[]> = {
  defaults: [],
  ...Object.fromEntries(examples.map((file) => [file, [join(EXAMPLES, file)]])),
};
const rendered = new Map<string, Rendered>();
const render = (scenario: string) => {
  if (!rendered.has(scenario)) rendered.set(scenario, renderChart({ values: scenarios[scenario] ?? [] }));
  return rendered.get(scenario) as Rendered;
};
const ofKind = (objects: K8sObject[], kind: string) => objects.filter((object) => object.kind === kind) as never[];
/* eslint-disable @typescript-eslint/no-explicit-any -- rendered objects are read as plain JSON */
type Json = any;
const SERVICE_NAMES = GRACE_SERVICES.map((service) => service.name).sort();

describe('values.schema.json', () => {
  it("accepts the chart's values.yaml", () => {
    expect(schemaProblems(parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')))).toEqual([]);
  });

  it('refuses a values file with a wrong type, an unknown key and a :latest image, saying where', () => {
    const values = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Json;
    values.image.tag = 'latest';
    values.services.sentinel.replicas = 'two';
    values.services['action-executor'].replica = 3;
    values.services['chat-gateway'].secretEnv = ['JWT_SECRET'];
    expect(schemaProblems(values)).toEqual(
      expect.arrayContaining([
        '/image/tag must NOT be valid',
        '/services/sentinel/replicas must be integer',
        '/services/action-executor must NOT have additional properties',
        '/services/chat-gateway/secretEnv must contain at least 1 valid item(s)',
      ]),
    );
  });

  // Helm validates the values after merging a file over values.yaml: so are the examples (and typos in them
  // are refused, every level of the schema having additionalProperties false).
  it.each(Object.keys(scenarios))('accepts the merged values of %s', (scenario) => {
    expect(schemaProblems(render(scenario).values)).toEqual([]);
  });
});

describe.each(Object.keys(scenarios))('the chart rendered with %s', (scenario) => {
  it('renders objects that validate against the Kubernetes schemas (kubernetes-models, KEDA, prometheus-operator)', () => {
    const { objects } = render(scenario);
    expect(objects.length).toBeGreaterThan(0);
    expect(schemaErrors(objects)).toEqual([]);
  });

  it('keeps our policy: non-root, read-only, probes, limits, labels, tokens, networking, secrets, hooks', () => {
    const { objects, values } = render(scenario);
    expect(policyViolations(objects, values as unknown as ChartValues, { hooks: 'helm' })).toEqual([]);
  });

  it('gives each service its port, its own settings only, and its Secret by reference', () => {
    const { objects } = render(scenario);
    const deployments = ofKind(objects, 'Deployment') as Json[];
    expect(deployments.map((d) => d.metadata.labels['app.kubernetes.io/name']).sort()).toEqual(SERVICE_NAMES);
    for (const service of GRACE_SERVICES) {
      const deployment = deployments.find((d) => d.metadata.labels['app.kubernetes.io/name'] === service.name);
      const [container] = deployment.spec.template.spec.containers;
      expect(container.ports[0].containerPort).toBe(service.httpPort);
      const env = container.env.map((entry: Json) => entry.name) as string[];
      expect(env.filter((name) => !service.settings.has(name))).toEqual([]);
      expect(env).toContain('DATABASE_URL');
      expect(new Set(env).size).toBe(env.length);
    }
  });

  it('renders NOTES.txt', () => {
    const notes = renderNotes({ values: scenarios[scenario] ?? [] });
    expect(notes).toContain('The chart creates no Secret');
    for (const name of SERVICE_NAMES) expect(notes).toContain(name);
  });
});

describe('the chart', () => {
  it('renders by default one Deployment, Service, ServiceAccount, HPA, PDB, NetworkPolicy and migrate Job per service', () => {
    const { objects } = render('defaults');
    for (const kind of [
      'Deployment',
      'Service',
      'ServiceAccount',
      'HorizontalPodAutoscaler',
      'PodDisruptionBudget',
      'Job',
    ])
      expect([kind, ofKind(objects, kind).length]).toEqual([kind, 7]);
    // default deny, seven services, migrate Jobs, and the two of the readiness test (helm test hooks)
    expect(ofKind(objects, 'NetworkPolicy')).toHaveLength(11);
    expect(ofKind(objects, 'Pod')).toHaveLength(1); // the readiness test
    expect(ofKind(objects, 'ConfigMap')).toHaveLength(3); // routes, playbooks, policies
    for (const kind of ['Secret', 'Role', 'RoleBinding', 'ScaledObject', 'ServiceMonitor', 'Ingress'])
      expect([kind, ofKind(objects, kind).length]).toEqual([kind, 0]);
  });

  it('ships the services own playbooks and policies, and routes trigger-mesh accepts', () => {
    const { objects } = render('defaults');
    const data = (name: string) => (objects.find((o) => o.metadata.name === `grace-${name}-files`) as Json).data;
    const shipped = (path: string) => readFileSync(join(REPO, path), 'utf8');
    expect(data('sentinel')['playbooks.yaml']).toBe(shipped('services/sentinel/playbooks.yaml'));
    expect(data('action-executor')['policies.yaml']).toBe(shipped('services/action-executor/policies.yaml'));
    expect(() => parseCatalog(data('sentinel')['playbooks.yaml'])).not.toThrow();
    expect(() => parsePolicy(data('action-executor')['policies.yaml'])).not.toThrow();
    expect(() => parseRules(data('trigger-mesh')['routes.yaml'])).not.toThrow();
    const deployment = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'grace-sentinel') as Json;
    const env = deployment.spec.template.spec.containers[0].env;
    expect(env).toContainEqual({ name: 'PLAYBOOKS_FILE', value: '/etc/grace/files/playbooks.yaml' });
  });

  it("scales each worker with KEDA on the lag of exactly its service's durable consumers", () => {
    const { objects, values } = render('production.yaml');
    const naming = new Naming((values as Json).graceNamespace);
    const sources = (name: string) => readFileSync(join(REPO, `services/${name}/src/service.ts`), 'utf8');
    // A service's consumers, as its source declares them: `consumer({ subject: '…' })`, or the keys of
    // `transactionalConsumers({ '…': handler })`.
    const consumed = (name: string): string[] => {
      // One consumer per stream, listed by the stream's name.
      if (name === 'cube-etl') return [...STAGED_STREAMS.keys()];
      const source = sources(name);
      const keyed = [...source.matchAll(/transactionalConsumers<\w+>\(\{([^}]*)\}\)/g)].flatMap((block) =>
        [...block[1]!.matchAll(/'([a-z_.]+)':/g)].map((match) => match[1] as string),
      );
      return [...[...source.matchAll(/subject: '([a-z_.]+)'/g)].map((match) => match[1] as string), ...keyed];
    };
    const scaledObjects = ofKind(objects, 'ScaledObject') as Json[];
    expect(scaledObjects.map((s) => s.metadata.labels['app.kubernetes.io/name']).sort()).toEqual(
      SERVICE_NAMES.filter((name) => name !== 'chat-gateway'),
    );
    for (const scaledObject of scaledObjects) {
      const name = scaledObject.metadata.labels['app.kubernetes.io/name'];
      const triggers = scaledObject.spec.triggers.map((trigger: Json) => trigger.metadata);
      expect(triggers.map((t: Json) => [t.stream, t.consumer]).sort()).toEqual(
        consumed(name)
          .map((entry) => [
            naming.stream(entry.startsWith('GRACE_') ? entry : streamFor(entry as EventSubject)),
            naming.durable(name, entry),
          ])
          .sort(),
      );
      for (const trigger of scaledObject.spec.triggers) {
        expect(trigger.type).toBe('nats-jetstream');
        expect(trigger.metadata.natsServerMonitoringEndpoint).toBe('nats.nats.svc.cluster.local:8222');
        expect(Number(trigger.metadata.lagThreshold)).toBeGreaterThan(0);
      }
    }
    expect(ofKind(objects, 'HorizontalPodAutoscaler')).toHaveLength(1); // the gateway: no consumers, CPU
  });

  it('gives the executor a token and a minimal Role only when its kubernetes adapter needs RBAC', () => {
    const { objects } = render('production.yaml');
    const roles = ofKind(objects, 'Role') as Json[];
    expect(roles.map((role) => role.metadata.namespace).sort()).toEqual(['payments', 'shop']);
    for (const role of roles)
      expect(role.rules).toEqual([
        { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'patch'] },
        { apiGroups: ['apps'], resources: ['replicasets'], verbs: ['list'] },
      ]);
    for (const binding of ofKind(objects, 'RoleBinding') as Json[])
      expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'grace-action-executor', namespace: 'grace' }]);
    const tokens = (ofKind(objects, 'ServiceAccount') as Json[])
      .filter((account) => account.automountServiceAccountToken)
      .map((account) => account.metadata.name);
    expect(tokens).toEqual(['grace-action-executor']);
  });

  it('opens ingress only to the gateway by default (Prometheus aside)', () => {
    const { objects } = render('defaults');
    for (const policy of ofKind(objects, 'NetworkPolicy') as Json[]) {
      const openToAll = (policy.spec.ingress ?? []).filter((rule: Json) => !rule.from);
      expect([policy.metadata.name, openToAll.length]).toEqual([
        policy.metadata.name,
        policy.metadata.name === 'grace-chat-gateway' ? 1 : 0,
      ]);
    }
  });

  it('names the JetStream streams as the contracts do', () => {
    // grace.stream in _helpers.tpl mirrors streamFor: every subject a worker consumes lands on the same stream.
    const { objects } = render('production.yaml');
    for (const scaledObject of ofKind(objects, 'ScaledObject') as Json[])
      for (const { metadata } of scaledObject.spec.triggers) expect(metadata.stream).toMatch(/^prod_GRACE_[A-Z]+$/);
  });

  it('has checks that catch a root, writable, :latest, unlabelled pod and a field of the wrong type', () => {
    const { objects, values } = render('defaults');
    const broken = structuredClone(objects) as Json[];
    const deployment = broken.find(
      (object) => object.metadata.name === 'grace-verifier' && object.kind === 'Deployment',
    );
    const pod = deployment.spec.template;
    pod.spec.securityContext.runAsNonRoot = false;
    pod.spec.containers[0].securityContext.readOnlyRootFilesystem = false;
    pod.spec.containers[0].image = 'grace/verifier:latest';
    delete pod.metadata.labels['app.kubernetes.io/part-of'];
    pod.spec.containers[0].ports[0].containerPort = 'http';
    expect(policyViolations(broken, values as unknown as ChartValues, { hooks: 'helm' })).toEqual(
      expect.arrayContaining([
        'Deployment/grace-verifier: pod securityContext.runAsNonRoot is not true',
        'Deployment/grace-verifier: container verifier: readOnlyRootFilesystem is not true',
        'Deployment/grace-verifier: container verifier: image grace/verifier:latest has no tag or is :latest',
        'Deployment/grace-verifier: pod template label app.kubernetes.io/part-of missing',
      ]),
    );
    expect(schemaErrors(broken)).toEqual([
      expect.stringContaining('Deployment/grace-verifier: data/spec/template/spec/containers/0/ports/0/containerPort'),
    ]);
  });

  it('stops on a missing Secret name: the schema first, and the template itself without the schema', () => {
    const set = { 'services.sentinel.existingSecret': '' };
    const checked = runTemplate({ set });
    expect(checked.status).toBe(1);
    expect(checked.stderr).toContain("at '/services/sentinel/existingSecret': minLength");
    const unchecked = runTemplate({ set }, ['--skip-schema-validation']);
    expect(unchecked.status).toBe(1);
    expect(unchecked.stderr).toContain('services.sentinel.existingSecret is required');
  });

  it('gives every Deployment STREAM_REPLICAS and STREAM_STORAGE from nats.streamReplicas and nats.streamStorage', () => {
    const streamEnv = (objects: K8sObject[]) =>
      (ofKind(objects, 'Deployment') as Json[]).map((deployment) => {
        const env = deployment.spec.template.spec.containers[0].env as Json[];
        const value = (name: string) => env.find((entry) => entry.name === name)?.value as string | undefined;
        return [deployment.metadata.name, value('STREAM_REPLICAS'), value('STREAM_STORAGE')];
      });
    const all = (replicas: string, storage: string) =>
      SERVICE_NAMES.map((name) => [`grace-${name}`, replicas, storage]);
    const sorted = (rows: unknown[][]) => rows.sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    expect(sorted(streamEnv(render('defaults').objects))).toEqual(all('1', 'file'));
    expect(sorted(streamEnv(render('production.yaml').objects))).toEqual(all('3', 'file'));
    const set = { 'nats.streamReplicas': '5', 'nats.streamStorage': 'memory' };
    expect(sorted(streamEnv(renderChart({ set }).objects))).toEqual(all('5', 'memory'));
  });

  it('deep-merges values files and --set like Helm (maps merge, null deletes, --set wins)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'grace-values-'));
    try {
      const file = join(dir, 'values.yaml');
      writeFileSync(file, 'services:\n  verifier:\n    env: { WORKERS: 16 }\n  chat-gateway:\n    env: null\n');
      const set = { 'services.verifier.replicas': '3', 'services.verifier.autoscaling.enabled': 'false' };
      const { values, objects } = renderChart({ values: [file], set });
      const services = (values as Json).services;
      expect(services.verifier.env).toEqual({ WORKERS: 16 });
      expect(services.verifier.replicas).toBe(3);
      expect(services.verifier.port).toBe(8084);
      expect(services.verifier.autoscaling).toEqual({ ...services.sentinel.autoscaling, enabled: false });
      expect(services['chat-gateway'].env).toBeUndefined();
      // What Helm rendered from the same values agrees.
      const deployment = (name: string) =>
        objects.find((o) => o.kind === 'Deployment' && o.metadata.name === `grace-${name}`) as Json;
      expect(deployment('verifier').spec.replicas).toBe(3);
      expect(deployment('verifier').spec.template.spec.containers[0].env).toContainEqual({
        name: 'WORKERS',
        value: '16',
      });
      expect(deployment('sentinel').spec.replicas).toBeUndefined(); // still on its HPA
      const gatewayEnv = deployment('chat-gateway').spec.template.spec.containers[0].env.map((e: Json) => e.name);
      expect(gatewayEnv).toContain('DB_POOL_MAX'); // commonEnv, with the gateway's own env deleted
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Helm v4 itself', () => {
  it.each(Object.keys(scenarios))('passes `helm lint --strict` with %s', (scenario) => {
    const files = (scenarios[scenario] ?? []).flatMap((file) => ['--values', file]);
    const result = helm(['lint', '--strict', CHART, ...files]);
    expect([result.status, result.stdout]).toEqual([0, expect.stringContaining('0 chart(s) failed')]);
  });

  // Each value breaks one rule of values.schema.json; Helm must refuse it, naming the field (`at '/<path>'`).
  const refused: [string, Record<string, string>, string][] = [
    ['a negative replica count', { 'services.sentinel.replicas': '-1' }, "at '/services/sentinel/replicas': minimum"],
    [
      'an unknown key (additionalProperties false)',
      { 'services.verifier.replica': '3' },
      "at '/services/verifier': additional properties 'replica' not allowed",
    ],
    ['a wrong type', { 'services.sentinel.port': 'http' }, "at '/services/sentinel/port': got string, want integer"],
    ['a value outside the enum', { logLevel: 'verbose' }, "at '/logLevel': value must be one of 'trace'"],
    ['more stream replicas than NATS has', { 'nats.streamReplicas': '6' }, "at '/nats/streamReplicas': maximum"],
    ['no stream replica', { 'nats.streamReplicas': '0' }, "at '/nats/streamReplicas': minimum"],
    [
      'a stream storage NATS does not have',
      { 'nats.streamStorage': 'disk' },
      "at '/nats/streamStorage': value must be one of 'file', 'memory'",
    ],
    ['a :latest image', { 'tests.image.tag': 'latest' }, "at '/tests/image/tag': 'not' failed"],
  ];
  it.each(refused)('refuses %s in helm template and helm lint, naming the field', (_, set, message) => {
    const template = runTemplate({ set });
    expect(template.status).toBe(1);
    expect(template.stderr).toContain("values don't meet the specifications of the schema");
    expect(template.stderr).toContain(message);
    const lint = helm(['lint', '--strict', ...chartArgs({ set }).slice(1)]);
    expect(lint.status).toBe(1);
    expect(lint.stdout).toContain(`[ERROR] values.yaml: - ${message}`);
  });

  it('refuses a values file with a wrong type the same way', () => {
    const dir = mkdtempSync(join(tmpdir(), 'grace-values-'));
    try {
      const file = join(dir, 'values.yaml');
      writeFileSync(file, 'services:\n  cube-etl:\n    replicas: two\n');
      const result = runTemplate({ values: [file] });
      expect(result.status).toBe(1);
      expect(result.stderr).toContain("at '/services/cube-etl/replicas': got string, want integer");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('packages the chart as grace-<version>.tgz with Chart.yaml, values.schema.json and the templates', () => {
    const dir = mkdtempSync(join(tmpdir(), 'grace-package-'));
    try {
      const { version } = parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as { version: string };
      const result = helm(['package', CHART, '--destination', dir]);
      expect(result.status).toBe(0);
      expect(readdirSync(dir)).toEqual([`grace-${version}.tgz`]);
      const listing = spawnSync('tar', ['-tzf', join(dir, `grace-${version}.tgz`)], { encoding: 'utf8' });
      expect(listing.status).toBe(0);
      const templates = readdirSync(join(CHART, 'templates'), { recursive: true, withFileTypes: true })
        .filter((entry) => entry.isFile())
        .map((entry) => join('grace', entry.parentPath.slice(CHART.length + 1), entry.name));
      expect(listing.stdout.split('\n')).toEqual(
        expect.arrayContaining(['grace/Chart.yaml', 'grace/values.yaml', 'grace/values.schema.json', ...templates]),
      );
      expect(templates).toContain('grace/templates/tests/readiness.yaml');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the helm test hook (templates/tests/readiness.yaml)', () => {
  const urls = (objects: K8sObject[]) =>
    (objects.find((o) => o.kind === 'Pod') as Json).spec.containers[0].args as string[];
  // What the Pod must ask: for every Service, its port and the readiness path of the Deployment it selects.
  const readinessUrls = (objects: K8sObject[]) =>
    (ofKind(objects, 'Service') as Json[]).map((service) => {
      const deployment = (ofKind(objects, 'Deployment') as Json[]).find((d) =>
        Object.entries(service.spec.selector).every(([k, v]) => d.spec.template.metadata.labels[k] === v),
      );
      const path = deployment.spec.template.spec.containers[0].readinessProbe.httpGet.path;
      return `http://${service.metadata.name}:${service.spec.ports[0].port}${path}`;
    });

  it('is a test Pod, deleted before a rerun and once passed, asking every Service for its readiness path', () => {
    const { objects } = render('defaults');
    const pod = objects.find((o) => o.kind === 'Pod') as Json;
    expect(pod.metadata.annotations).toEqual({
      'helm.sh/hook': 'test',
      'helm.sh/hook-delete-policy': 'before-hook-creation,hook-succeeded',
    });
    expect(urls(objects).sort()).toEqual(readinessUrls(objects).sort());
    expect(urls(objects)).toHaveLength(7);
    expect(urls(objects)).toContain('http://grace-sentinel:8082/readyz');
  });

  it('does not probe a disabled service, and lets the Pod through the default deny to the others only', () => {
    const { objects, values } = renderChart({ set: { 'services.verifier.enabled': 'false' } });
    expect(urls(objects).sort()).toEqual(readinessUrls(objects).sort());
    expect(urls(objects).filter((url) => url.includes('verifier'))).toEqual([]);
    expect(urls(objects)).toHaveLength(6);
    const policy = (name: string) => objects.find((o) => o.metadata.name === name) as Json;
    const egressPorts = policy('grace-test-readiness')
      .spec.egress.flatMap((rule: Json) => rule.ports.map((p: Json) => p.port))
      .filter((port: number) => port !== 53);
    const ingressPorts = policy('grace-test-readiness-ingress').spec.ingress[0].ports.map((p: Json) => p.port);
    const ports = GRACE_SERVICES.filter((s) => s.name !== 'verifier').map((s) => s.httpPort);
    expect(egressPorts.sort()).toEqual([...ports].sort());
    expect(ingressPorts.sort()).toEqual([...ports].sort());
    expect(policyViolations(objects, values as unknown as ChartValues, { hooks: 'helm' })).toEqual([]);
    expect(schemaErrors(objects)).toEqual([]);
  });

  it('is held to the pod policy, as a helm test hook only and never outside Helm', () => {
    const { objects, values } = render('defaults');
    const broken = JSON.parse(JSON.stringify(objects)) as Json[]; // (structuredClone's objects fail deep equality)
    const pod = broken.find((object) => object.kind === 'Pod');
    pod.spec.containers[0].securityContext.readOnlyRootFilesystem = false;
    delete pod.spec.containers[0].resources.limits;
    expect(policyViolations(broken, values as unknown as ChartValues, { hooks: 'helm' })).toEqual([
      'Pod/grace-test-readiness: container readiness: readOnlyRootFilesystem is not true',
      'Pod/grace-test-readiness: container readiness: resources.limits.cpu missing',
      'Pod/grace-test-readiness: container readiness: resources.limits.memory missing',
    ]);
    expect(policyViolations(objects, values as unknown as ChartValues, { hooks: 'plain' })).toEqual(
      expect.arrayContaining(['Pod/grace-test-readiness: is a helm test hook outside Helm']),
    );
    delete pod.metadata.annotations;
    expect(policyViolations(broken, values as unknown as ChartValues, { hooks: 'helm' })).toEqual(
      expect.arrayContaining(['Pod/grace-test-readiness: is a bare Pod, not a helm test hook']),
    );
  });

  it('takes its image from tests.image, and is left out with tests.enabled false or --skip-tests', () => {
    const { objects } = renderChart({ set: { 'tests.image.repository': 'mirror.example.com/busybox' } });
    expect((objects.find((o) => o.kind === 'Pod') as Json).spec.containers[0].image).toBe(
      'mirror.example.com/busybox:1.37.0',
    );
    const tested = (set: Record<string, string>, skipTests = false) =>
      renderChart({ set, skipTests }).sources.filter((source) => source.includes('/tests/'));
    expect(tested({})).toHaveLength(3);
    expect(tested({ 'tests.enabled': 'false' })).toEqual([]);
    expect(tested({}, true)).toEqual([]);
    expect(tested({ 'networkPolicy.enabled': 'false' })).toEqual(['grace/templates/tests/readiness.yaml']);
  });
});
