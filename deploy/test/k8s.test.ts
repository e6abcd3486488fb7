// k8s/ (the kustomize base for teams without Helm) is the chart's defaults, regenerated: it must not drift, and
// every manifest in it passes the same schema and policy checks as the chart.
import { describe, expect, it } from '@jest/globals';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { generateK8sBase } from '../scripts/k8s-base.js';
import { REPO, renderChart, type K8sObject } from './helm.js';
import { policyViolations, schemaErrors, type ChartValues } from './validate.js';

const K8S = join(REPO, 'k8s');
const generated = generateK8sBase();
const onDisk = readdirSync(K8S).filter((file) => file.endsWith('.yaml'));
const objects = onDisk
  .filter((file) => file !== 'kustomization.yaml')
  .flatMap((file) => parseAllDocuments(readFileSync(join(K8S, file), 'utf8')).map((doc) => doc.toJS() as K8sObject))
  .filter(Boolean);

describe('k8s/', () => {
  it('is what `pnpm --filter @grace/deploy k8s` generates from the chart (run it after changing the chart)', () => {
    expect(onDisk.sort()).toEqual([...generated.keys()].sort());
    for (const [file, content] of generated)
      expect([file, readFileSync(join(K8S, file), 'utf8')]).toEqual([file, content]);
  });

  it('is a namespace-less kustomize base listing every manifest', () => {
    const kustomization = parse(readFileSync(join(K8S, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
    expect(kustomization.resources.sort()).toEqual(onDisk.filter((file) => file !== 'kustomization.yaml').sort());
    expect(objects.filter((object) => object.metadata.namespace)).toEqual([]);
  });

  it('validates against the Kubernetes schemas', () => {
    expect(objects.length).toBeGreaterThan(0);
    expect(schemaErrors(objects)).toEqual([]);
  });

  it('keeps our policy, with plain migrate Jobs instead of Helm hooks and nothing of Helm left', () => {
    const { values } = renderChart();
    expect(policyViolations(objects, values as unknown as ChartValues, { hooks: 'plain' })).toEqual([]);
    const helmLeft = JSON.stringify(objects).match(/helm\.sh\/[a-z-]+|"Helm"/g);
    expect(helmLeft).toBeNull();
    for (const object of objects) expect(object.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('kustomize');
  });
});
