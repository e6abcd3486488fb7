// The k8s/ kustomize base: the chart rendered by `helm template` with its defaults and without the `helm test`
// hooks, minus what only Helm understands (the helm.sh/chart label, hook annotations), managed-by kustomize,
// one file per service plus the shared objects.
import { stringify } from 'yaml';
import { renderChart, type K8sObject } from '../test/helm.js';

export const K8S_HEADER =
  '# Generated from deploy/helm/grace with its default values by `pnpm --filter @grace/deploy k8s`; do not edit\n' +
  '# (change the chart and regenerate: a test fails when k8s/ and the chart differ).\n';

// The order objects are applied in within a file (what Helm installs first comes first).
const KIND_ORDER = [
  'NetworkPolicy',
  'PodDisruptionBudget',
  'ServiceAccount',
  'ConfigMap',
  'Role',
  'RoleBinding',
  'Service',
  'Job',
  'Deployment',
  'HorizontalPodAutoscaler',
];

function withoutHelm(object: K8sObject): K8sObject {
  const copy = structuredClone(object) as K8sObject & { spec?: { template?: { metadata?: K8sObject['metadata'] } } };
  for (const metadata of [copy.metadata, copy.spec?.template?.metadata]) {
    if (!metadata) continue;
    if (metadata.labels) {
      delete metadata.labels['helm.sh/chart'];
      metadata.labels['app.kubernetes.io/managed-by'] = 'kustomize';
    }
    if (metadata.annotations) {
      for (const key of Object.keys(metadata.annotations))
        if (key.startsWith('helm.sh/')) delete metadata.annotations[key];
      if (Object.keys(metadata.annotations).length === 0) delete metadata.annotations;
    }
  }
  return copy;
}

/** Every file of k8s/ (but README.md) by name, with its content. */
export function generateK8sBase(): Map<string, string> {
  const { objects } = renderChart({ releaseName: 'grace', skipTests: true });
  const files = new Map<string, K8sObject[]>();
  for (const object of objects) {
    const file = `${object.metadata.labels?.['app.kubernetes.io/name'] ?? 'grace'}.yaml`;
    files.set(file, [...(files.get(file) ?? []), withoutHelm(object)]);
  }
  const rank = (kind: string) => (KIND_ORDER.includes(kind) ? KIND_ORDER.indexOf(kind) : KIND_ORDER.length);
  const out = new Map<string, string>();
  const names = [...files.keys()].sort();
  for (const name of names) {
    const sorted = (files.get(name) ?? []).sort(
      (a, b) => rank(a.kind) - rank(b.kind) || a.metadata.name.localeCompare(b.metadata.name),
    );
    out.set(name, K8S_HEADER + sorted.map((object) => `---\n${stringify(object, { lineWidth: 0 })}`).join(''));
  }
  const kustomization = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    resources: names,
  };
  out.set('kustomization.yaml', K8S_HEADER + stringify(kustomization));
  return out;
}
