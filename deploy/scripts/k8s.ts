// Writes k8s/ (the kustomize base) from the Helm chart's defaults: `pnpm --filter @grace/deploy k8s`.
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from '../test/helm.js';
import { generateK8sBase } from './k8s-base.js';

const dir = join(REPO, 'k8s');
const files = generateK8sBase();
for (const old of readdirSync(dir)) if (old.endsWith('.yaml') && !files.has(old)) rmSync(join(dir, old));
for (const [name, content] of files) writeFileSync(join(dir, name), content);
console.log(`k8s/: wrote ${[...files.keys()].join(', ')}`);
