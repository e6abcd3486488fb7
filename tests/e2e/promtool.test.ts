// Every service's /metrics as Prometheus' own linter reads it: the seven services started for real (each its
// definition from services/<name>/src/service.ts, on the test NATS and Postgres, each in its own schema), one error
// reported through them, then `promtool check metrics` (Debian's prometheus package) on what each /metrics answers.
// It fails on any problem promtool prints, and when promtool is missing. prometheus.test.ts checks the same
// outputs again after a whole remediation, and a real Prometheus scraping them.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startService, type RunningService, type ServiceDefinition } from '@grace/service-kit';
import {
  checkMetrics,
  createSandbox,
  publishRaw,
  sampleReported,
  waitFor,
  type Sandbox,
} from '@grace/service-kit/testing';
import { actionExecutor } from '../../services/action-executor/src/service.js';
import { chatGateway } from '../../services/chat-gateway/src/service.js';
import { cubeEtl } from '../../services/cube-etl/src/service.js';
import { learningLoop } from '../../services/learning-loop/src/service.js';
import { sentinel } from '../../services/sentinel/src/service.js';
import { triggerMesh } from '../../services/trigger-mesh/src/service.js';
import { verifier } from '../../services/verifier/src/service.js';
import { SERVICES } from './system.js';

const DEFINITIONS = [
  triggerMesh,
  sentinel,
  actionExecutor,
  verifier,
  learningLoop,
  cubeEtl,
  chatGateway,
] as unknown as ServiceDefinition<never, never>[];

describe('promtool check metrics on every service', () => {
  let sandbox: Sandbox;
  const running: RunningService<unknown, unknown>[] = [];
  const schemaOf = (name: string) => `${sandbox.schema}_${name.replace(/-/g, '_')}`;

  beforeAll(async () => {
    sandbox = await createSandbox('promtool', { JWT_SECRET: 'promtool-test-secret-long-enough-for-hs256' });
    for (const def of DEFINITIONS)
      running.push(
        (await startService(def, { ...sandbox.env, DB_SCHEMA: schemaOf(def.name) })) as unknown as RunningService<
          unknown,
          unknown
        >,
      );
  }, 60_000);

  afterAll(async () => {
    for (const service of running.reverse()) await service.stop();
    for (const def of DEFINITIONS) await sandbox?.pool.query(`drop schema if exists "${schemaOf(def.name)}" cascade`);
    await sandbox?.cleanup();
  });

  it('starts the seven', () => {
    expect(running.map((s) => s.runtime.name).sort()).toEqual([...SERVICES].sort());
  });

  it("finds no problem in any service's /metrics", async () => {
    // One error through trigger-mesh and the sentinel, so labelled series (handled, latency) are in the output too.
    await publishRaw(sandbox, 'error.reported', JSON.stringify(sampleReported()));
    const metricsOf = async (s: RunningService<unknown, unknown>) =>
      (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text();
    await waitFor('the sentinel to handle the captured error', async () =>
      (await metricsOf(running.find((s) => s.runtime.name === 'sentinel')!)).includes('subject="error.captured"'),
    );
    const problems = [];
    for (const service of running) {
      const text = await metricsOf(service);
      expect(text).toContain(`grace_outbox_backlog{service="${service.runtime.name}"}`);
      const checked = checkMetrics(text);
      if (checked.code !== 0 || checked.output !== '') problems.push({ service: service.runtime.name, ...checked });
    }
    // Every service's, promtool's output verbatim.
    expect(problems).toEqual([]);
  });
});
