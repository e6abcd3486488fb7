// Test support for the gateway: the gateway with the services it asks (sentinel, executor, verifier, cube) on one
// sandbox, each in its own schema, and tokens for every role.
import { startService, type RunningService, type ServiceDefinition } from '@grace/service-kit';
import { createSandbox, type Sandbox } from '@grace/service-kit/testing';
import jwt from 'jsonwebtoken';
import { actionExecutor } from '../../action-executor/src/service.js';
import { cubeEtl } from '../../cube-etl/src/service.js';
import { sentinel } from '../../sentinel/src/service.js';
import { verifier } from '../../verifier/src/service.js';
import { issueToken, type Role } from '../src/domain/auth.js';
import { chatGateway } from '../src/service.js';

export const SECRET = 'test-secret-that-is-long-enough-for-hs256!';

export interface GatewaySystem {
  sandbox: Sandbox;
  url: string;
  gateway: RunningService<unknown, unknown>;
  token(roles: Role[], subject?: string): string;
  /** Sign any claims with any options (for refused tokens). */
  sign(claims: object, options: jwt.SignOptions, secret?: string): string;
  stop(): Promise<void>;
}

export async function startGatewaySystem(
  label: string,
  env: NodeJS.ProcessEnv = {},
  others: ServiceDefinition<never, never>[] = [
    sentinel as never,
    actionExecutor as never,
    verifier as never,
    cubeEtl as never,
  ],
): Promise<GatewaySystem> {
  const sandbox = await createSandbox(label, {
    JWT_SECRET: SECRET,
    RATE_LIMIT_USER_PER_MINUTE: '100000',
    RATE_LIMIT_IP_PER_MINUTE: '100000',
    ...env,
  });
  const running: RunningService<unknown, unknown>[] = [];
  for (const def of others)
    running.push(
      (await startService(def, {
        ...sandbox.env,
        DB_SCHEMA: `${sandbox.schema}_${def.name.replace(/-/g, '_')}`,
      })) as unknown as RunningService<unknown, unknown>,
    );
  const gateway = (await startService(chatGateway, sandbox.env)) as RunningService<unknown, unknown>;
  return {
    sandbox,
    url: `http://127.0.0.1:${gateway.httpPort}`,
    gateway,
    token: (roles, subject = `user-${roles.join('-')}`) => issueToken({ secret: SECRET, subject, roles }),
    sign: (claims, options, secret = SECRET) => jwt.sign(claims, secret, options),
    async stop() {
      await gateway.stop();
      for (const s of running) await s.stop();
      for (const def of others)
        await sandbox.pool.query(`drop schema if exists "${sandbox.schema}_${def.name.replace(/-/g, '_')}" cascade`);
      await sandbox.cleanup();
    },
  };
}

/** fetch with a bearer token and a JSON body (the kit's test helper). */
export { httpCall as call } from '@grace/service-kit/testing';
