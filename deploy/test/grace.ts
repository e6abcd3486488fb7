// What the deploy tests check the packaging against: the repository root, the seven service definitions
// (names, default ports, settings, migrations) and docker-compose.yml as compose reads it.
import { KitConfig, migrateService, type ServiceDefinition } from '@grace/service-kit';
import type { TProperties } from '@sinclair/typebox';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { actionExecutor } from '../../services/action-executor/src/service.js';
import { chatGateway } from '../../services/chat-gateway/src/service.js';
import { cubeEtl } from '../../services/cube-etl/src/service.js';
import { learningLoop } from '../../services/learning-loop/src/service.js';
import { sentinel } from '../../services/sentinel/src/service.js';
import { triggerMesh } from '../../services/trigger-mesh/src/service.js';
import { verifier } from '../../services/verifier/src/service.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface GraceService {
  name: string;
  httpPort: number | undefined;
  /** Every environment variable the service reads: the kit's and its own. */
  settings: ReadonlySet<string>;
  migrate(env: NodeJS.ProcessEnv): Promise<string[]>;
}

function graceService<DB, P extends TProperties>(def: ServiceDefinition<DB, P>): GraceService {
  return {
    name: def.name,
    httpPort: def.defaultHttpPort,
    settings: new Set([...Object.keys(KitConfig), ...Object.keys(def.config ?? {})]),
    migrate: (env) => migrateService(def, env),
  };
}

export const GRACE_SERVICES: readonly GraceService[] = [
  graceService(triggerMesh),
  graceService(sentinel),
  graceService(actionExecutor),
  graceService(verifier),
  graceService(learningLoop),
  graceService(cubeEtl),
  graceService(chatGateway),
];

export interface ComposeService {
  image?: string;
  build?: { context?: string; dockerfile?: string; args?: Record<string, string> };
  command?: string[];
  restart?: string;
  environment?: Record<string, string | number | boolean | null>;
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  profiles?: string[];
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

/** docker-compose.yml with its anchors and merge keys (`<<`) resolved, as compose loads it. */
export function readCompose(): ComposeFile {
  return parse(readFileSync(`${REPO_ROOT}docker-compose.yml`, 'utf8'), { merge: true }) as ComposeFile;
}

/** A value with its `${NAME:-default}` references replaced by their defaults (no environment is applied). */
export function withDefaults(value: string): string {
  return value.replace(/\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}/g, (_, _name: string, fallback?: string) => fallback ?? '');
}
