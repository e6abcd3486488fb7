// The whole-system harness for tests: Grace's services as real child processes on one sandbox (one namespace on
// the shared NATS, one schema per service), stopped with SIGTERM and checked to exit cleanly.
import { exited, spawnTs, waitFor, type Sandbox } from '@grace/service-kit/testing';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const SERVICES = [
  'trigger-mesh',
  'sentinel',
  'action-executor',
  'verifier',
  'learning-loop',
  'cube-etl',
  'chat-gateway',
] as const;
export type ServiceName = (typeof SERVICES)[number];

const mainOf = (service: ServiceName) =>
  fileURLToPath(new URL(`../../services/${service}/src/main.ts`, import.meta.url));

export const schemaOf = (sandbox: Sandbox, service: ServiceName) => `${sandbox.schema}_${service.replace(/-/g, '_')}`;

export interface RunningSystem {
  readonly processes: ReadonlyMap<ServiceName, ChildProcess & { output: () => string }>;
  /** The side-server port each service listens on (from its start log line). */
  readonly ports: ReadonlyMap<ServiceName, number>;
  /** SIGTERM every service; resolves with each one's exit code. */
  stop(): Promise<Record<string, number | null>>;
  /** Drop the services' schemas (the sandbox drops its own). */
  dropSchemas(): Promise<void>;
}

/** Start `services` as processes, each with its own schema, and wait until each has logged that it started. */
export async function startSystem(
  sandbox: Sandbox,
  services: readonly ServiceName[],
  env: Partial<Record<ServiceName, NodeJS.ProcessEnv>> = {},
): Promise<RunningSystem> {
  const processes = new Map<ServiceName, ChildProcess & { output: () => string }>();
  for (const service of services) {
    processes.set(
      service,
      spawnTs(mainOf(service), [], {
        ...sandbox.env,
        LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'info',
        DB_SCHEMA: schemaOf(sandbox, service),
        HTTP_PORT: '0',
        ...env[service],
      }),
    );
  }
  const ports = new Map<ServiceName, number>();
  try {
    for (const [service, child] of processes) {
      const port = await waitFor(
        `${service} to start`,
        async () => {
          if (child.exitCode !== null) throw new Error(`${service} exited: ${child.output().slice(-2000)}`);
          const line = child
            .output()
            .split('\n')
            .find((l) => l.includes(`"msg":"${service} started"`));
          return line ? (JSON.parse(line) as { http_port: number }).http_port : undefined;
        },
        60_000,
      );
      ports.set(service, port);
    }
  } catch (err) {
    for (const child of processes.values()) child.kill('SIGKILL');
    throw err;
  }
  return {
    processes,
    ports,
    async stop() {
      const codes: Record<string, number | null> = {};
      for (const child of processes.values()) if (child.exitCode === null) child.kill('SIGTERM');
      for (const [service, child] of processes) codes[service] = (await exited(child)).code;
      return codes;
    },
    async dropSchemas() {
      for (const service of services)
        await sandbox.pool.query(`drop schema if exists "${schemaOf(sandbox, service)}" cascade`);
    },
  };
}
