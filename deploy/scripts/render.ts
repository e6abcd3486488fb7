// Renders the Helm chart offline like `helm template`: `pnpm --filter @grace/deploy render -- [-f values.yaml]
// [-set path=value] [-notes]` (builds deploy/helm/render once, then passes the arguments on).
import { spawnSync } from 'node:child_process';
import { CHART, renderer } from '../test/helm.js';

const args = process.argv.slice(2);
if (args[0] === '--') args.shift(); // pnpm passes the `--` of `pnpm render -- …` on
const result = spawnSync(renderer(), ['-chart', CHART, ...args], { stdio: 'inherit' });
process.exit(result.status ?? 1);
