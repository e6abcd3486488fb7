import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createEvent, type GraceEvent } from '@grace/contracts';
import { startService, type RunningService } from '@grace/service-kit';
import { count, createSandbox, readStream, waitFor, type Sandbox } from '@grace/service-kit/testing';
import { jetstream } from '@nats-io/jetstream';
import { triggerMesh } from '../src/service.js';
import type { Database } from '../src/store.js';

describe('trigger-mesh in an error storm', () => {
  let sandbox: Sandbox;
  let service: RunningService<Database, unknown>;

  beforeAll(async () => {
    sandbox = await createSandbox('tmstorm', { STORM_SERVICE_PER_SECOND: '10', EMIT_INTERVAL_MS: '300' });
    service = (await startService(triggerMesh, sandbox.env)) as RunningService<Database, unknown>;
  });

  afterAll(async () => {
    await service?.stop();
    await sandbox.cleanup();
  });

  it('counts every error over the rate limit, announces them in aggregate with the storm flag, drops none', async () => {
    const js = jetstream(sandbox.nc);
    // 200 different errors of one service at once: 20 times its limit of 10/s.
    const events = Array.from({ length: 200 }, (_, i) =>
      createEvent(
        'error.reported',
        {
          service: 'stormy',
          environment: 'production',
          kind: `StormKind${i}`,
          message: `distinct failure ${String.fromCharCode(97 + (i % 26))}${i}`,
          severity: 'error',
          occurred_at: new Date().toISOString(),
        },
        { source: 'test/storm' },
      ),
    );
    await Promise.all(events.map((e) => js.publish(`${sandbox.namespace}.error.reported`, JSON.stringify(e))));
    await waitFor('all 200 counted', async () => {
      const { rows } = await sandbox.pool.query(
        `select coalesce(sum(total_count), 0)::int as n from "${sandbox.schema}".captures where service = 'stormy'`,
      );
      return (rows[0] as { n: number }).n === 200;
    });
    expect(await count(sandbox, 'captures', "service = 'stormy' and storm")).toBeGreaterThanOrEqual(180);
    // Single occurrences are kept only for what came under the limit.
    expect(await count(sandbox, 'occurrences')).toBeLessThanOrEqual(20);
    const announced = await waitFor('every capture announced', async () => {
      const all = (await readStream(sandbox, 'GRACE_ERRORS'))
        .map((m) => m.data as GraceEvent<'error.captured'>)
        .filter((e) => e.type === 'error.captured' && e.data.service === 'stormy');
      return all.length >= 200 ? all : undefined;
    });
    expect(announced).toHaveLength(200);
    expect(announced.filter((e) => e.data.storm).length).toBeGreaterThanOrEqual(180);
    expect(announced.every((e) => !e.data.update)).toBe(true);
    const metrics = await service.runtime.metrics.registry.getSingleMetricAsString(
      'grace_trigger_mesh_storm_errors_total',
    );
    expect(metrics).toMatch(/scope="service"[^}]*\} 1[89]\d\n?$/);
  });
});
