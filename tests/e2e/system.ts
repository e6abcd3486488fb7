// The whole-system harness for tests: Grace's services as real child processes (the CLI's launcher) on one
// sandbox (one namespace on the shared NATS, one schema per service), stopped with SIGTERM.
import { launch, SERVICES, type ProcessName, type RunningProcesses, type ServiceName } from '@grace/cli/system';
import type { Sandbox } from '@grace/service-kit/testing';

export { SERVICES, type ServiceName };

export const schemaOf = (sandbox: Sandbox, service: ProcessName) => `${sandbox.schema}_${service.replace(/-/g, '_')}`;

export interface RunningSystem extends RunningProcesses {
  /** The side-server port each service listens on (from its start log line). */
  readonly ports: ReadonlyMap<ServiceName, number>;
  /** Drop the services' schemas (the sandbox drops its own). */
  dropSchemas(): Promise<void>;
}

/** Start `services` as processes, each with its own schema, and wait until each has logged that it started. */
export async function startSystem(
  sandbox: Sandbox,
  services: readonly ProcessName[],
  env: Partial<Record<ProcessName, NodeJS.ProcessEnv>> = {},
): Promise<RunningSystem> {
  const envOf: Partial<Record<ProcessName, NodeJS.ProcessEnv>> = {};
  for (const service of services) envOf[service] = { DB_SCHEMA: schemaOf(sandbox, service), ...env[service] };
  const running = await launch(services, {
    env: { ...sandbox.env, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'info', HTTP_PORT: '0' },
    envOf,
  });
  return {
    ...running,
    get ports() {
      const ports = new Map<ServiceName, number>();
      for (const [name, p] of running.processes)
        if (p.httpPort !== undefined) ports.set(name as ServiceName, p.httpPort);
      return ports;
    },
    async dropSchemas() {
      for (const service of services)
        await sandbox.pool.query(`drop schema if exists "${schemaOf(sandbox, service)}" cascade`);
    },
  };
}
