// The Helm chart deploy/helm/grace rendered offline (deploy/helm/render: Helm's engine), every object checked
// against the Kubernetes schemas and our policy, its values against values.schema.json.
import { describe, expect, it } from '@jest/globals';
import { streamFor } from '@grace/contracts';
import { Naming } from '@grace/service-kit';
import { Ajv } from 'ajv';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { parsePolicy } from '../../services/action-executor/src/domain/policy.js';
import { STAGED_SUBJECTS } from '../../services/cube-etl/src/handlers/stage-event.js';
import { parseCatalog } from '../../services/sentinel/src/domain/catalog.js';
import { parseRules } from '../../services/trigger-mesh/src/domain/rules.js';
import { GRACE_SERVICES } from './grace.js';
import { CHART, REPO, renderChart, renderNotes, runRenderer, type K8sObject, type Rendered } from './helm.js';
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
    expect(ofKind(objects, 'NetworkPolicy')).toHaveLength(9); // default deny, seven services, migrate Jobs
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
      if (name === 'cube-etl') return [...STAGED_SUBJECTS];
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
          .map((subject) => [naming.stream(streamFor(subject)), naming.durable(name, subject)])
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

  it('stops with the template error when a required value is missing', () => {
    const result = runRenderer({ set: { 'services.sentinel.existingSecret': '' } });
    expect(result.ok).toBe(false);
    expect(result.stderr).toContain('services.sentinel.existingSecret is required');
  });

  it('deep-merges values files and --set like Helm (maps merge, null deletes, --set wins)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'grace-values-'));
    try {
      const file = join(dir, 'values.yaml');
      writeFileSync(file, 'services:\n  verifier:\n    env: { WORKERS: 16 }\n  chat-gateway:\n    env: null\n');
      const { values } = renderChart({ values: [file], set: { 'services.verifier.replicas': '3' } });
      const services = (values as Json).services;
      expect(services.verifier.env).toEqual({ WORKERS: 16 });
      expect(services.verifier.replicas).toBe(3);
      expect(services.verifier.port).toBe(8084);
      expect(services['chat-gateway'].env).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
