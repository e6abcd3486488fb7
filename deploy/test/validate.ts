// What every rendered object must satisfy: its Kubernetes (or CRD) schema, and our policy (non-root, read-only,
// probes, limits, labels, tokens, default-deny networking, secrets only by reference, migrate Jobs, test hooks).
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { isDeepStrictEqual } from 'node:util';
import { apps, autoscaling, batch, networkingK8sIo, policy, rbacAuthorizationK8sIo, v1 } from 'kubernetes-models';
import type { K8sObject } from './helm.js';

type Model = new (data: never) => { validate(): void };

/** The model class (with its OpenAPI schema) of each kind the chart may render. */
const MODELS: Record<string, Model> = {
  'v1/ConfigMap': v1.ConfigMap,
  'v1/Pod': v1.Pod,
  'v1/Service': v1.Service,
  'v1/ServiceAccount': v1.ServiceAccount,
  'v1/Secret': v1.Secret,
  'apps/v1/Deployment': apps.v1.Deployment,
  'batch/v1/Job': batch.v1.Job,
  'policy/v1/PodDisruptionBudget': policy.v1.PodDisruptionBudget,
  'autoscaling/v2/HorizontalPodAutoscaler': autoscaling.v2.HorizontalPodAutoscaler,
  'networking.k8s.io/v1/NetworkPolicy': networkingK8sIo.v1.NetworkPolicy,
  'networking.k8s.io/v1/Ingress': networkingK8sIo.v1.Ingress,
  'rbac.authorization.k8s.io/v1/Role': rbacAuthorizationK8sIo.v1.Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': rbacAuthorizationK8sIo.v1.RoleBinding,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
};

export const describeObject = (object: K8sObject) => `${object.kind}/${object.metadata?.name}`;

/** Every object checked against its schema: one message per object that breaks it. */
export function schemaErrors(objects: readonly K8sObject[]): string[] {
  const errors: string[] = [];
  for (const object of objects) {
    const model = MODELS[`${object.apiVersion}/${object.kind}`];
    if (!model) {
      errors.push(`${describeObject(object)}: no schema known for ${object.apiVersion} ${object.kind}`);
      continue;
    }
    try {
      new model(object as never).validate();
    } catch (error) {
      errors.push(`${describeObject(object)}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return errors;
}

export const REQUIRED_LABELS = [
  'app.kubernetes.io/name',
  'app.kubernetes.io/instance',
  'app.kubernetes.io/component',
  'app.kubernetes.io/part-of',
  'app.kubernetes.io/managed-by',
  'app.kubernetes.io/version',
];

/* eslint-disable @typescript-eslint/no-explicit-any -- rendered objects are walked as plain JSON */
type Json = any;

interface ServiceValues {
  enabled: boolean;
  port: number;
  existingSecret: string;
  rbac: { enabled: boolean };
  secretFiles?: Record<string, { existingSecret: string }>;
  networkPolicy?: { ingressFrom?: Json[]; extraIngress?: Json[]; extraEgress?: Json[] };
}

/** The merged values, as far as the policy reads them. */
export interface ChartValues {
  services: Record<string, ServiceValues>;
  image: { pullSecrets?: string[] };
  ingress: { enabled: boolean; tlsSecretName?: string };
  migrate: { enabled: boolean };
  nats: { port: number };
  postgres: { port: number };
  networkPolicy: {
    enabled: boolean;
    metrics: { enabled: boolean; peers: Json[] };
    kubernetesApi: { ports: number[] };
  };
}

export interface PolicyOptions {
  /** `helm`: migrate Jobs are pre-install/pre-upgrade hooks, and `helm test` hooks may be there; `plain` (k8s/):
   * ordinary Jobs without Helm, and no test hook. */
  hooks: 'helm' | 'plain';
}

/** The pod (metadata and spec) of a Deployment or Job, or a bare Pod itself. */
const podSpecOf = (object: K8sObject): Json =>
  object.kind === 'Deployment' || object.kind === 'Job'
    ? (object as Json).spec?.template
    : object.kind === 'Pod'
      ? { metadata: object.metadata, spec: (object as Json).spec }
      : undefined;

/** A `helm test` hook: created by `helm test` only, deleted again when it passes. */
const isTestHook = (object: K8sObject) => object.metadata?.annotations?.['helm.sh/hook'] === 'test';

const matches = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
  !!selector && Object.entries(selector).every(([key, value]) => labels?.[key] === value);

/** Our policy over a whole render: one message per violation. */
export function policyViolations(objects: readonly K8sObject[], values: ChartValues, options: PolicyOptions): string[] {
  const problems: string[] = [];
  const problem = (object: K8sObject, message: string) => problems.push(`${describeObject(object)}: ${message}`);
  const enabled = Object.entries(values.services).filter(([, svc]) => svc.enabled);
  const byKind = (kind: string) => objects.filter((object) => object.kind === kind);
  const deployments = byKind('Deployment');
  const jobs = byKind('Job');
  const pods = byKind('Pod');

  // Labels on every object and every pod template.
  for (const object of objects) {
    for (const label of REQUIRED_LABELS)
      if (!object.metadata?.labels?.[label]) problem(object, `label ${label} missing`);
    const template = podSpecOf(object);
    if (template)
      for (const label of REQUIRED_LABELS)
        if (!template.metadata?.labels?.[label]) problem(object, `pod template label ${label} missing`);
  }

  // Pods: non-root, read-only, no privilege, seccomp, resources, images, /tmp, probes, tokens.
  for (const object of [...deployments, ...jobs, ...pods]) {
    const pod = podSpecOf(object).spec;
    const service = pod && object.metadata.labels?.['app.kubernetes.io/name'];
    const rbac = values.services[service]?.rbac?.enabled === true && object.kind === 'Deployment';
    if (pod.securityContext?.runAsNonRoot !== true) problem(object, 'pod securityContext.runAsNonRoot is not true');
    if (pod.securityContext?.seccompProfile?.type !== 'RuntimeDefault')
      problem(object, 'pod seccompProfile is not RuntimeDefault');
    if (pod.automountServiceAccountToken !== rbac)
      problem(object, `automountServiceAccountToken must be ${rbac} (rbac ${rbac ? 'on' : 'off'})`);
    const emptyDirs = new Set((pod.volumes ?? []).filter((v: Json) => v.emptyDir).map((v: Json) => v.name));
    for (const container of [...(pod.initContainers ?? []), ...pod.containers]) {
      const where = `container ${container.name}`;
      const security = container.securityContext ?? {};
      if (security.readOnlyRootFilesystem !== true) problem(object, `${where}: readOnlyRootFilesystem is not true`);
      if (security.allowPrivilegeEscalation !== false)
        problem(object, `${where}: allowPrivilegeEscalation is not false`);
      if (!(security.capabilities?.drop ?? []).includes('ALL'))
        problem(object, `${where}: capabilities do not drop ALL`);
      if (security.privileged === true) problem(object, `${where}: privileged`);
      if (security.runAsNonRoot === false) problem(object, `${where}: runAsNonRoot false`);
      if ((security.seccompProfile?.type ?? pod.securityContext?.seccompProfile?.type) !== 'RuntimeDefault')
        problem(object, `${where}: seccompProfile is not RuntimeDefault`);
      for (const kind of ['requests', 'limits'])
        for (const resource of ['cpu', 'memory'])
          if (container.resources?.[kind]?.[resource] === undefined)
            problem(object, `${where}: resources.${kind}.${resource} missing`);
      const image = String(container.image ?? '');
      if (!/:[^/:]+$/.test(image) || image.endsWith(':latest'))
        problem(object, `${where}: image ${image} has no tag or is :latest`);
      const tmp = (container.volumeMounts ?? []).find((mount: Json) => mount.mountPath === '/tmp');
      if (!tmp || !emptyDirs.has(tmp.name)) problem(object, `${where}: /tmp is not an emptyDir`);
      if (object.kind === 'Deployment') {
        if (container.livenessProbe?.httpGet?.path !== '/healthz')
          problem(object, `${where}: liveness is not /healthz`);
        if (container.readinessProbe?.httpGet?.path !== '/readyz')
          problem(object, `${where}: readiness is not /readyz`);
      }
    }
  }

  // ServiceAccounts: no token unless the service has RBAC; every one a Deployment names exists.
  const accounts = new Map(byKind('ServiceAccount').map((account) => [account.metadata.name, account as Json]));
  for (const account of accounts.values()) {
    const service = account.metadata.labels?.['app.kubernetes.io/name'];
    const rbac = values.services[service]?.rbac?.enabled === true;
    if (account.automountServiceAccountToken !== rbac) problem(account, `automountServiceAccountToken must be ${rbac}`);
  }
  for (const deployment of deployments) {
    const name = (deployment as Json).spec.template.spec.serviceAccountName;
    if (!accounts.has(name)) problem(deployment, `ServiceAccount ${name} is not rendered`);
  }

  // Secrets only by reference to names the values give; ConfigMaps only ones rendered.
  if (byKind('Secret').length > 0) problems.push('the chart renders a Secret: secrets must be existing ones');
  const allowedSecrets = new Set<string>([
    ...enabled.map(([, svc]) => svc.existingSecret),
    ...enabled.flatMap(([, svc]) => Object.values(svc.secretFiles ?? {}).map((file) => file.existingSecret)),
    ...(values.image.pullSecrets ?? []),
    ...(values.ingress.enabled && values.ingress.tlsSecretName ? [values.ingress.tlsSecretName] : []),
  ]);
  const configMaps = new Set(byKind('ConfigMap').map((map) => map.metadata.name));
  const walk = (node: Json, visit: (key: string, value: Json) => void) => {
    if (Array.isArray(node)) node.forEach((item) => walk(item, visit));
    else if (node && typeof node === 'object')
      for (const [key, value] of Object.entries(node)) {
        visit(key, value);
        walk(value, visit);
      }
  };
  for (const object of objects)
    walk(object, (key, value) => {
      const secret =
        key === 'secretKeyRef' || key === 'secretRef'
          ? value.name
          : key === 'secret'
            ? value.secretName
            : key === 'imagePullSecrets'
              ? undefined
              : key === 'tls'
                ? undefined
                : null;
      if (secret !== null && secret !== undefined && !allowedSecrets.has(secret))
        problem(object, `refers to Secret ${secret}, which is no existingSecret of the values`);
      if (key === 'imagePullSecrets')
        for (const entry of value)
          if (!allowedSecrets.has(entry.name)) problem(object, `pull Secret ${entry.name} is not from the values`);
      if (key === 'tls' && Array.isArray(value))
        for (const entry of value)
          if (!allowedSecrets.has(entry.secretName)) problem(object, `TLS Secret ${entry.secretName} not from values`);
      if ((key === 'configMap' || key === 'configMapRef' || key === 'configMapKeyRef') && !configMaps.has(value.name))
        problem(object, `refers to ConfigMap ${value.name}, which is not rendered`);
    });

  // Bare Pods only as `helm test` hooks (the readiness test), deleted before a rerun; none outside Helm.
  for (const pod of pods) if (!isTestHook(pod)) problem(pod, 'is a bare Pod, not a helm test hook');
  for (const object of objects.filter(isTestHook)) {
    if (options.hooks === 'plain') problem(object, 'is a helm test hook outside Helm');
    else if (!(object.metadata.annotations?.['helm.sh/hook-delete-policy'] ?? '').includes('before-hook-creation'))
      problem(object, 'test hook is not deleted before the next run (before-hook-creation)');
  }

  // Services, PDBs, HPAs and ScaledObjects point at Deployments; only one autoscaler per Deployment.
  const podLabels = (object: K8sObject) => podSpecOf(object).metadata.labels;
  for (const service of byKind('Service')) {
    const selector = (service as Json).spec.selector;
    if (deployments.filter((d) => matches(selector, podLabels(d))).length !== 1)
      problem(service, 'selects the pods of no Deployment, or of several');
    if (jobs.some((job) => matches(selector, podLabels(job)))) problem(service, 'selects migrate Job pods');
  }
  for (const budget of byKind('PodDisruptionBudget'))
    if (!deployments.some((d) => matches((budget as Json).spec.selector.matchLabels, podLabels(d))))
      problem(budget, 'selects no Deployment');
  const scaled = new Map<string, string>();
  for (const scaler of [...byKind('HorizontalPodAutoscaler'), ...byKind('ScaledObject')]) {
    const target = (scaler as Json).spec.scaleTargetRef.name;
    if (!deployments.some((d) => d.metadata.name === target)) problem(scaler, `scales ${target}, not rendered`);
    if (scaled.has(target)) problem(scaler, `${target} is already scaled by ${scaled.get(target)}`);
    scaled.set(target, scaler.kind);
    const deployment = deployments.find((d) => d.metadata.name === target) as Json;
    if (deployment?.spec.replicas !== undefined) problem(scaler, `${target} also fixes spec.replicas`);
  }

  // Migrate Jobs: one per service, `migrate`, a pre-install/pre-upgrade hook with a delete policy (Helm).
  if (values.migrate.enabled) {
    for (const [name] of enabled) {
      const own = jobs.filter((job) => job.metadata.labels?.['app.kubernetes.io/name'] === name);
      if (own.length !== 1) problems.push(`service ${name} has ${own.length} migrate Jobs, not 1`);
      for (const job of own) {
        const annotations = job.metadata.annotations ?? {};
        const container = (job as Json).spec.template.spec.containers[0];
        if (!isDeepStrictEqual(container.args, ['migrate'])) problem(job, 'does not run `migrate`');
        if (options.hooks === 'helm') {
          if (annotations['helm.sh/hook'] !== 'pre-install,pre-upgrade')
            problem(job, 'is not a pre-install,pre-upgrade hook');
          if (!annotations['helm.sh/hook-delete-policy']) problem(job, 'hook has no delete policy');
        } else if (Object.keys(annotations).some((key) => key.startsWith('helm.sh/')))
          problem(job, 'carries Helm annotations outside Helm');
      }
    }
  }

  // NetworkPolicies: a default deny, then per service DNS/NATS/Postgres out (+ Kubernetes API with RBAC); the
  // test hooks' only let the release's test pods reach the services' ports (and DNS).
  if (values.networkPolicy.enabled) {
    const policies = byKind('NetworkPolicy').filter((policy) => !isTestHook(policy)) as Json[];
    const denyAll = policies.find(
      (p) =>
        !p.spec.ingress?.length &&
        !p.spec.egress?.length &&
        isDeepStrictEqual([...p.spec.policyTypes].sort(), ['Egress', 'Ingress']),
    );
    if (!denyAll) problems.push('no default-deny NetworkPolicy');
    for (const pod of [...deployments, ...jobs, ...pods])
      if (denyAll && !matches(denyAll.spec.podSelector.matchLabels, podLabels(pod)))
        problem(pod, 'its pods are not under the default-deny NetworkPolicy');
    const onlyPorts = (rule: Json, ports: number[]) =>
      isDeepStrictEqual(
        [...new Set((rule.ports ?? []).map((p: Json) => p.port))].sort(),
        [...new Set(ports)].sort((a, b) => a - b),
      );
    for (const deployment of deployments) {
      const name = deployment.metadata.labels?.['app.kubernetes.io/name'] ?? '';
      const svc = values.services[name];
      if (!svc) continue;
      const own = policies.filter(
        (p) => p !== denyAll && matches(p.spec.podSelector.matchLabels, podLabels(deployment)),
      );
      if (own.length !== 1) {
        problem(deployment, `${own.length} NetworkPolicies select its pods besides the default deny, not 1`);
        continue;
      }
      const [networkPolicy] = own;
      for (const rule of networkPolicy.spec.egress ?? []) {
        const allowed =
          onlyPorts(rule, [53]) ||
          onlyPorts(rule, [values.nats.port]) ||
          onlyPorts(rule, [values.postgres.port]) ||
          (svc.rbac.enabled && onlyPorts(rule, values.networkPolicy.kubernetesApi.ports)) ||
          (svc.networkPolicy?.extraEgress ?? []).some((extra) => isDeepStrictEqual(extra, rule));
        if (!allowed) problem(networkPolicy, `egress ${JSON.stringify(rule)} is not DNS, NATS, Postgres or asked for`);
        if (!rule.ports?.length) problem(networkPolicy, `egress ${JSON.stringify(rule)} opens every port`);
      }
      for (const rule of networkPolicy.spec.ingress ?? []) {
        const metrics =
          values.networkPolicy.metrics.enabled &&
          onlyPorts(rule, [svc.port]) &&
          isDeepStrictEqual(rule.from, values.networkPolicy.metrics.peers);
        const users =
          svc.networkPolicy?.ingressFrom !== undefined &&
          onlyPorts(rule, [svc.port]) &&
          isDeepStrictEqual(rule.from ?? [], svc.networkPolicy.ingressFrom);
        const extra = (svc.networkPolicy?.extraIngress ?? []).some((entry) => isDeepStrictEqual(entry, rule));
        if (!metrics && !users && !extra) problem(networkPolicy, `ingress ${JSON.stringify(rule)} is not asked for`);
      }
    }
    const servicePorts = enabled.map(([, svc]) => svc.port);
    const toServicePorts = (rule: Json) =>
      rule.ports?.length > 0 && rule.ports.every((port: Json) => servicePorts.includes(port.port));
    const testPods = (peer: Json) =>
      !peer.namespaceSelector &&
      !peer.ipBlock &&
      peer.podSelector?.matchLabels?.['app.kubernetes.io/component'] === 'test';
    for (const testPolicy of byKind('NetworkPolicy').filter(isTestHook) as Json[]) {
      for (const rule of testPolicy.spec.ingress ?? [])
        if (!rule.from?.length || !rule.from.every(testPods) || !toServicePorts(rule))
          problem(testPolicy, `ingress ${JSON.stringify(rule)} is not from the test pods to a service's port`);
      for (const rule of testPolicy.spec.egress ?? [])
        if (!onlyPorts(rule, [53]) && !toServicePorts(rule))
          problem(testPolicy, `egress ${JSON.stringify(rule)} is not DNS or a service's port`);
    }
  }
  return problems;
}
