import { describe, expect, it } from '@jest/globals';
import { DEMO_CATALOG, environmentOf, portsFrom } from './settings.js';

const base = { ports: portsFrom(8080), jwtSecret: 's'.repeat(64), demo: true, env: {} };

describe('grace up settings', () => {
  it("keeps the services' own default ports from 8080, or lets each take a free one with 0", () => {
    expect(portsFrom(8080)).toEqual({
      'chat-gateway': 8080,
      'trigger-mesh': 8081,
      sentinel: 8082,
      'action-executor': 8083,
      verifier: 8084,
      'learning-loop': 8085,
      'cube-etl': 8086,
    });
    expect(new Set(Object.values(portsFrom(0)))).toEqual(new Set([0]));
  });

  it('gives the demo its catalog, short windows and a bigger action budget', () => {
    const envOf = environmentOf(base);
    expect(envOf.sentinel).toMatchObject({ PLAYBOOKS_FILE: DEMO_CATALOG, HTTP_PORT: '8082' });
    expect(envOf['action-executor']).toMatchObject({ ACTION_BUDGET: '1000' });
    expect(envOf['trigger-mesh']).toMatchObject({ EMIT_INTERVAL_MS: '1000' });
    expect(envOf.verifier).toMatchObject({ CAPTURE_SETTLE_MS: '2000' });
    expect(envOf['cube-etl']).toMatchObject({ ETL_INTERVAL_MS: '2000' });
    expect(envOf['chat-gateway']).toEqual({ HTTP_PORT: '8080', JWT_SECRET: base.jwtSecret });
  });

  it('lets a variable set in the environment win over the demo, and changes nothing without the demo', () => {
    expect(environmentOf({ ...base, env: { ACTION_BUDGET: '3' } })['action-executor']).toEqual({ HTTP_PORT: '8083' });
    expect(environmentOf({ ...base, demo: false }).sentinel).toEqual({ HTTP_PORT: '8082' });
  });
});
