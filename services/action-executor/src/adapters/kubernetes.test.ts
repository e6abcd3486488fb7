// Tests of the kubernetes adapter against a fake Kubernetes API server over real HTTP.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { currentTraceparent, startTracing, withSpan, type Tracing } from '@grace/service-kit';
import { exportSpansTo, spanCollector, SpanKind, SpanStatusCode } from '@grace/service-kit/testing';
import type { RemediationRequest } from '@grace/contracts';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeKubernetes, type FakeKubernetes } from '../../test/fake-kubernetes.js';
import { AdapterError, type ActionAdapter, type JsonObject } from './adapter.js';
import { createKubernetesAdapter, loadKubeConfig } from './kubernetes.js';

const NAMESPACE = 'shop';
const TIMEOUT_MESSAGE = 'rollout did not complete before the timeout';

function remediation(
  deployment: string,
  action: string,
  params: JsonObject = {},
  idempotencyKey: string = randomUUID(),
): RemediationRequest {
  return {
    contract_id: randomUUID(),
    action_id: randomUUID(),
    idempotency_key: idempotencyKey,
    action,
    target: { service: deployment, environment: 'test', namespace: NAMESPACE, deployment },
    params,
    timeout_ms: 10_000,
  };
}

function target(deployment: string) {
  return { service: deployment, environment: 'test', namespace: NAMESPACE, deployment };
}

const seconds = (count: number) => AbortSignal.timeout(count * 1000);

describe('kubernetes adapter', () => {
  let kubernetes: FakeKubernetes;
  let adapter: ActionAdapter;

  beforeAll(async () => {
    kubernetes = await startFakeKubernetes();
    adapter = createKubernetesAdapter({ kubeConfig: kubernetes.kubeConfig(), pollMs: 20 });
  });

  afterAll(async () => {
    await kubernetes.stop();
  });

  const patchesOf = (name: string) =>
    kubernetes.requests.filter(
      (request) => request.method === 'PATCH' && request.path.endsWith(`/deployments/${name}`),
    );
  const templateOf = (name: string) =>
    (kubernetes.deployment(NAMESPACE, name) as { spec: { template: { metadata: { annotations?: JsonObject } } } }).spec
      .template;
  const replicasOf = (name: string) =>
    (kubernetes.deployment(NAMESPACE, name) as { spec: { replicas: number } }).spec.replicas;

  it('restarts a rollout with the restartedAt annotation and reports it ready', async () => {
    kubernetes.addDeployment(NAMESPACE, 'checkout', { replicas: 3, image: 'shop/checkout:7' });
    const before = Date.now();
    const reply = await adapter.execute(
      remediation('checkout', 'rollout_restart', { reason: 'x'.repeat(300) }, 'key-restart'),
      seconds(10),
    );

    expect(reply.status).toBe('succeeded');
    expect(reply.actual_state).toMatchObject({ ready: true, replicas: 3, ready_replicas: 3, updated_replicas: 3 });
    const annotations = templateOf('checkout').metadata.annotations ?? {};
    expect(Date.parse(annotations['kubectl.kubernetes.io/restartedAt'] as string)).toBeGreaterThanOrEqual(
      before - 1000,
    );
    expect(annotations['grace.dev/reason']).toBe('x'.repeat(256));
    expect(annotations['grace.dev/idempotency-key']).toBe('key-restart');
    expect(reply.actual_state.restarted_at).toBe(annotations['kubectl.kubernetes.io/restartedAt']);
    expect(reply.actual_state.revision).toBe(2);
    expect(patchesOf('checkout').map((request) => request.contentType)).toEqual(['application/merge-patch+json']);
  });

  it('never acts twice for the same idempotency key', async () => {
    kubernetes.addDeployment(NAMESPACE, 'cart', { replicas: 2 });
    const first = await adapter.execute(remediation('cart', 'rollout_restart', {}, 'key-once'), seconds(10));
    const second = await adapter.execute(remediation('cart', 'rollout_restart', {}, 'key-once'), seconds(10));
    const scaled = await adapter.execute(remediation('cart', 'scale', { delta: 1 }, 'key-scale'), seconds(10));
    const scaledAgain = await adapter.execute(remediation('cart', 'scale', { delta: 1 }, 'key-scale'), seconds(10));

    expect([first.status, second.status, scaled.status, scaledAgain.status]).toEqual(Array(4).fill('succeeded'));
    expect(second.message).toMatch(/already acted/);
    expect(second.actual_state.restarted_at).toBe(first.actual_state.restarted_at);
    expect(patchesOf('cart')).toHaveLength(2);
    expect(replicasOf('cart')).toBe(3);
  });

  it('scales by a delta kept within the bounds, and to an absolute count', async () => {
    kubernetes.addDeployment(NAMESPACE, 'search', { replicas: 2 });
    const up = await adapter.execute(remediation('search', 'scale', { delta: 5, max_replicas: 4 }), seconds(10));
    expect(up).toMatchObject({ status: 'succeeded', actual_state: { ready: true, replicas: 4, ready_replicas: 4 } });

    const down = await adapter.execute(remediation('search', 'scale', { delta: -10, min_replicas: 1 }), seconds(10));
    expect(down.actual_state).toMatchObject({ ready: true, replicas: 1 });

    const zero = await adapter.execute(remediation('search', 'scale', { replicas: 0 }), seconds(10));
    expect(zero.actual_state).toMatchObject({ ready: true, replicas: 0, ready_replicas: 0 });
    expect(replicasOf('search')).toBe(0);
  });

  it('rolls the images back to the previous revision, keeping the other container fields', async () => {
    kubernetes.addDeployment(NAMESPACE, 'payments', {
      replicas: 2,
      images: { api: 'shop/payments:3', sidecar: 'shop/proxy:2' },
      previousRevisions: [
        { revision: 1, images: { api: 'shop/payments:1', sidecar: 'shop/proxy:1' } },
        { revision: 2, images: { api: 'shop/payments:2', sidecar: 'shop/proxy:2' } },
      ],
    });
    const reply = await adapter.execute(remediation('payments', 'rollback_image'), seconds(10));

    expect(reply.status).toBe('succeeded');
    expect(reply.actual_state.containers).toEqual([
      { name: 'api', image: 'shop/payments:2' },
      { name: 'sidecar', image: 'shop/proxy:2' },
    ]);
    expect(reply.message).toMatch(/revision 2/);
    const containers = (kubernetes.deployment(NAMESPACE, 'payments') as { spec: { template: { spec: JsonObject } } })
      .spec.template.spec.containers;
    expect(containers).toEqual([
      expect.objectContaining({
        name: 'api',
        image: 'shop/payments:2',
        ports: [{ containerPort: 8080, protocol: 'TCP' }],
      }),
      expect.objectContaining({ name: 'sidecar', image: 'shop/proxy:2', imagePullPolicy: 'IfNotPresent' }),
    ]);
    expect(patchesOf('payments').map((request) => request.contentType)).toEqual([
      'application/strategic-merge-patch+json',
    ]);
    expect(kubernetes.requests.some((request) => request.path.includes('labelSelector=app%3Dpayments'))).toBe(true);

    const toFirst = await adapter.execute(remediation('payments', 'rollback_image', { to_revision: '1' }), seconds(10));
    expect(toFirst.actual_state.containers).toContainEqual({ name: 'api', image: 'shop/payments:1' });
  });

  it('fails a rollback when there is no earlier revision', async () => {
    kubernetes.addDeployment(NAMESPACE, 'fresh', { replicas: 1 });
    const reply = await adapter.execute(remediation('fresh', 'rollback_image'), seconds(10));

    expect(reply.status).toBe('failed');
    expect(reply.message).toBe('deployment shop/fresh has no revision before 1 to roll back to (revisions: 1)');
    expect(patchesOf('fresh')).toHaveLength(0);
  });

  it('restores the replicas and images a snapshot recorded', async () => {
    kubernetes.addDeployment(NAMESPACE, 'inventory', {
      replicas: 3,
      image: 'shop/inventory:4',
      previousRevisions: [{ revision: 1, image: 'shop/inventory:3' }],
    });
    const snapshotRequest = { contract_id: randomUUID(), action: 'scale', target: target('inventory'), params: {} };
    const state = await adapter.snapshot(snapshotRequest, seconds(10));
    expect(state).toEqual({
      replicas: 3,
      restarted_at: null,
      containers: [{ name: 'inventory', image: 'shop/inventory:4' }],
      revision: 2,
    });

    await adapter.execute(remediation('inventory', 'scale', { replicas: 7 }), seconds(10));
    await adapter.execute(remediation('inventory', 'rollback_image'), seconds(10));
    expect(replicasOf('inventory')).toBe(7);

    const restore = { contract_id: randomUUID(), snapshot_id: randomUUID(), target: target('inventory'), state };
    const reply = await adapter.restore(restore, seconds(10));
    expect(reply).toMatchObject({ status: 'restored', actual_state: { ready: true, replicas: 3, ready_replicas: 3 } });
    expect(reply.actual_state.containers).toEqual([{ name: 'inventory', image: 'shop/inventory:4' }]);
    expect(replicasOf('inventory')).toBe(3);
  });

  it('reports a failed rollout when the deployment never gets ready before the signal', async () => {
    kubernetes.addDeployment(NAMESPACE, 'stuck', { replicas: 2 });
    kubernetes.setBehaviour(NAMESPACE, 'stuck', { neverReady: true });
    const reply = await adapter.execute(remediation('stuck', 'rollout_restart'), AbortSignal.timeout(300));

    expect(reply).toMatchObject({ status: 'failed', message: TIMEOUT_MESSAGE, actual_state: { ready: false } });
  }, 5_000);

  it('says which deployment is missing', async () => {
    const reply = await adapter.execute(remediation('ghost', 'rollout_restart'), seconds(10));
    expect(reply).toEqual({ status: 'failed', actual_state: {}, message: 'deployment shop/ghost not found' });

    const snapshot = adapter.snapshot(
      { contract_id: randomUUID(), action: 'scale', target: target('ghost'), params: {} },
      seconds(10),
    );
    await expect(snapshot).rejects.toThrow(new AdapterError('deployment shop/ghost not found'));
  });

  it('rejects plans it cannot run before touching anything', () => {
    const plan = (action: string, params: JsonObject = {}, overrides: JsonObject = {}) => ({
      action,
      params,
      target: { ...target('checkout'), ...overrides },
    });
    expect(adapter.describe(plan('scale', { delta: -1 }))).toBe(
      'scale deployment shop/checkout by -1, kept within 0..100 replicas',
    );
    expect(() => adapter.describe(plan('rollout_restart', {}, { namespace: undefined }))).toThrow(/"namespace"/);
    expect(() => adapter.describe(plan('rollout_restart', {}, { deployment: undefined }))).toThrow(/"deployment"/);
    expect(() => adapter.describe(plan('drain'))).toThrow(
      new AdapterError(
        'kubernetes adapter does not know action "drain"; it knows rollout_restart, scale, rollback_image',
      ),
    );
    expect(() => adapter.describe(plan('scale'))).toThrow(/exactly one of/);
    expect(() => adapter.describe(plan('scale', { replicas: 2, delta: 1 }))).toThrow(/exactly one of/);
    expect(() => adapter.describe(plan('scale', { replicas: 1.5 }))).toThrow(/must be an integer/);
    expect(() => adapter.describe(plan('scale', { delta: '2' }))).toThrow(/must be an integer/);
    expect(() => adapter.describe(plan('scale', { replicas: -1 }))).toThrow(/outside the bounds/);
    expect(() => adapter.describe(plan('rollback_image', { to_revision: 'latest' }))).toThrow(/to_revision/);
  });

  it('settles at the signal when the API server never answers', async () => {
    kubernetes.addDeployment(NAMESPACE, 'hanging', { replicas: 1 });
    kubernetes.setBehaviour(NAMESPACE, 'hanging', { hang: true });
    const execute = adapter.execute(remediation('hanging', 'rollout_restart'), AbortSignal.timeout(200));
    await expect(execute).rejects.toMatchObject({ name: 'AdapterError', retryable: true });

    const snapshotRequest = { contract_id: randomUUID(), action: 'scale', target: target('hanging'), params: {} };
    await expect(adapter.snapshot(snapshotRequest, AbortSignal.timeout(200))).rejects.toThrow(/before the timeout/);
  }, 5_000);

  it('names RBAC when the API server refuses, without the token', async () => {
    kubernetes.addDeployment(NAMESPACE, 'locked', { replicas: 1 });
    kubernetes.setBehaviour(NAMESPACE, 'locked', { forbidden: true });
    const error = await adapter.execute(remediation('locked', 'scale', { replicas: 2 }), seconds(10)).catch((e) => e);

    expect(error).toBeInstanceOf(AdapterError);
    expect(error).toMatchObject({ retryable: false, message: expect.stringContaining('RBAC') });
    expect((error as Error).message).not.toContain(kubernetes.token);
  });

  it('reports an unreachable API server as retryable', async () => {
    const closed = await startFakeKubernetes();
    const unreachable = createKubernetesAdapter({ kubeConfig: closed.kubeConfig() });
    await closed.stop();
    const snapshotRequest = { contract_id: randomUUID(), action: 'scale', target: target('checkout'), params: {} };

    await expect(unreachable.snapshot(snapshotRequest, seconds(10))).rejects.toMatchObject({
      name: 'AdapterError',
      retryable: true,
      message: expect.stringContaining('unreachable'),
    });
  });

  it('loads a kubeconfig file', async () => {
    kubernetes.addDeployment(NAMESPACE, 'from-file', { replicas: 3 });
    const dir = mkdtempSync(join(tmpdir(), 'grace-kubeconfig-'));
    try {
      const fromFile = createKubernetesAdapter({ kubeConfig: loadKubeConfig(kubernetes.writeKubeconfig(dir)) });
      const snapshotRequest = { contract_id: randomUUID(), action: 'scale', target: target('from-file'), params: {} };
      await expect(fromFile.snapshot(snapshotRequest, seconds(10))).resolves.toMatchObject({ replicas: 3 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('kubernetes adapter: traces (tracing on)', () => {
  const collected = spanCollector();
  let tracing: Tracing | undefined;
  let kubernetes: FakeKubernetes;
  let adapter: ActionAdapter;

  beforeAll(async () => {
    exportSpansTo(collected.exporter);
    ({ tracing } = await startTracing('action-executor', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' }));
    kubernetes = await startFakeKubernetes();
    adapter = createKubernetesAdapter({ kubeConfig: kubernetes.kubeConfig(), pollMs: 20 });
  });

  afterAll(async () => {
    await kubernetes.stop();
    await tracing?.shutdown();
    exportSpansTo(undefined);
  });

  it('each API call is a CLIENT span of the run, the API server gets its traceparent; a 404 fails its span', async () => {
    kubernetes.addDeployment(NAMESPACE, 'traced', { replicas: 2 });
    const run = await withSpan('run rollout_restart', {}, async () => {
      await adapter.execute(remediation('traced', 'rollout_restart'), seconds(10));
      return currentTraceparent()!;
    });
    const [, traceId, runSpanId] = run.split('-');
    const calls = kubernetes.requests.filter((r) => r.path.includes('/deployments/traced'));
    const clients = collected.spans().filter((s) => s.kind === SpanKind.CLIENT);
    expect(calls.length).toBeGreaterThanOrEqual(2);
    expect(clients).toHaveLength(calls.length);
    for (const [i, call] of calls.entries()) {
      const span = clients[i]!;
      expect(call.traceparent).toBe(`00-${traceId}-${span.spanContext().spanId}-01`);
      expect(span.parentSpanContext?.spanId).toBe(runSpanId);
      expect(span.name).toBe(call.method);
      expect(span.attributes['url.full']).toBe(`${kubernetes.url}${call.path}`);
      expect(span.attributes['http.response.status_code']).toBe(200);
    }
    expect(calls.map((c) => c.method)).toContain('PATCH');

    await adapter.execute(remediation('ghost', 'rollout_restart'), seconds(10));
    const missing = collected.spans().find((s) => String(s.attributes['url.full']).endsWith('/deployments/ghost'));
    expect(missing?.status.code).toBe(SpanStatusCode.ERROR);
    expect(missing?.attributes).toMatchObject({ 'http.response.status_code': 404, 'error.type': '404' });
  });
});
