// The kubernetes adapter: rollout restart, scale and image rollback of a Deployment through the API server.
import type {
  RemediationReply,
  RemediationRequest,
  RestoreReply,
  RestoreRequest,
  SnapshotRequest,
} from '@grace/contracts';
import {
  ApiException,
  AppsV1Api,
  KubeConfig,
  Observable,
  PatchStrategy,
  setHeaderOptions,
  type ObservableMiddleware as Middleware,
  type RequestContext,
  type ResponseContext,
  type V1Deployment,
  type V1PodTemplateSpec,
} from '@kubernetes/client-node';
import { startHttpClientSpan, type HttpClientSpan } from '@grace/service-kit';
import { setTimeout as delay } from 'node:timers/promises';
import { AdapterError, type ActionAdapter, type JsonObject, type PlanInput } from './adapter.js';

const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';
const REASON = 'grace.dev/reason';
const IDEMPOTENCY_KEY = 'grace.dev/idempotency-key';
const REVISION = 'deployment.kubernetes.io/revision';
const ACTIONS = ['rollout_restart', 'scale', 'rollback_image'];
const ROLLOUT_TIMEOUT = 'rollout did not complete before the timeout';

export interface KubernetesAdapterOptions {
  kubeConfig: KubeConfig;
  /** Wait after patching until the rollout is complete (default true). */
  rolloutWait?: boolean;
  /** How often to read the Deployment while waiting (default 500 ms). */
  pollMs?: number;
}

type Target = RemediationRequest['target'];
type DeploymentRef = { namespace: string; name: string };
type Container = { name: string; image: string | null };
type Plan =
  | { action: 'rollout_restart'; reason: string | undefined }
  | { action: 'scale'; replicas: number | undefined; delta: number | undefined; min: number; max: number }
  | { action: 'rollback_image'; toRevision: 'previous' | number };
/** What execute does to the Deployment: a patch, nothing (with a note), or a failure found before patching. */
type Change = { patch?: { body: object; strategy: PatchStrategy }; note?: string; failure?: string };

/** A kubeconfig from `path`, else the default one (KUBECONFIG, ~/.kube/config or the in-cluster service account). */
export function loadKubeConfig(path?: string): KubeConfig {
  const kubeConfig = new KubeConfig();
  if (path) kubeConfig.loadFromFile(path);
  else kubeConfig.loadFromDefault();
  return kubeConfig;
}

/**
 * Acts on `target.namespace`/`target.deployment`. Annotations and replicas are sent as JSON merge patches; container
 * images as strategic merge patches, which merge `containers` by name (what `kubectl set image` does), so every other
 * container field stays as the server has it.
 */
export function createKubernetesAdapter(options: KubernetesAdapterOptions): ActionAdapter {
  const api = options.kubeConfig.makeApiClient(AppsV1Api);
  const rolloutWait = options.rolloutWait ?? true;
  const pollMs = options.pollMs ?? 500;

  /** Reads the Deployment, patches it as `decide` says, and waits for the rollout until the signal fires. */
  async function act<Success extends 'succeeded' | 'restored'>(
    client: Client,
    signal: AbortSignal,
    success: Success,
    decide: (current: V1Deployment) => Change | Promise<Change>,
  ): Promise<{ status: Success | 'failed'; actual_state: JsonObject; message?: string }> {
    try {
      const current = await client.read();
      const change = await decide(current);
      if (change.failure) return { status: 'failed', actual_state: deploymentState(current), message: change.failure };
      let latest = change.patch ? await client.patch(change.patch.body, change.patch.strategy) : current;
      while (rolloutWait && !rolloutComplete(latest)) {
        await delay(pollMs, undefined, { signal }).catch(() => undefined); // the abort ends the pause early
        if (signal.aborted) break;
        latest = await client.read().catch((error: unknown) => (signal.aborted ? latest : Promise.reject(error)));
      }
      const actual_state = deploymentState(latest);
      if (rolloutWait && !rolloutComplete(latest)) return { status: 'failed', actual_state, message: ROLLOUT_TIMEOUT };
      return { status: success, actual_state, ...(change.note ? { message: change.note } : {}) };
    } catch (error) {
      if (error instanceof DeploymentNotFoundError)
        return { status: 'failed', actual_state: {}, message: error.message };
      throw error;
    }
  }

  return {
    name: 'kubernetes',

    describe(plan: PlanInput): string {
      return describePlan(deploymentRef(plan.target), parsePlan(plan));
    },

    async snapshot(request: SnapshotRequest, signal: AbortSignal): Promise<JsonObject> {
      const deployment = await createClient(api, deploymentRef(request.target), signal).read();
      const { replicas, restarted_at, containers, revision } = deploymentState(deployment);
      return { replicas, restarted_at, containers, revision };
    },

    execute(request: RemediationRequest, signal: AbortSignal): Promise<RemediationReply> {
      const ref = deploymentRef(request.target);
      const plan = parsePlan(request);
      const client = createClient(api, ref, signal);
      return act(client, signal, 'succeeded', (current) =>
        planChange(plan, current, request.idempotency_key, ref, client),
      );
    },

    restore(request: RestoreRequest, signal: AbortSignal): Promise<RestoreReply> {
      const client = createClient(api, deploymentRef(request.target), signal);
      return act(client, signal, 'restored', (current) => restoreChange(current, request.state));
    },
  };
}

function deploymentRef({ namespace, deployment }: Target): DeploymentRef {
  if (!namespace) throw new AdapterError('kubernetes target needs "namespace" (the namespace of the Deployment)');
  if (!deployment) throw new AdapterError('kubernetes target needs "deployment" (the name of the Deployment)');
  return { namespace, name: deployment };
}

function parsePlan({ action, params }: Pick<PlanInput, 'action' | 'params'>): Plan {
  switch (action) {
    case 'rollout_restart': {
      if (params.reason !== undefined && typeof params.reason !== 'string')
        throw new AdapterError('rollout_restart: params.reason must be a string');
      return { action, reason: params.reason };
    }
    case 'scale':
      return parseScale(params);
    case 'rollback_image': {
      const wanted = params.to_revision ?? 'previous';
      if (wanted === 'previous') return { action, toRevision: 'previous' };
      const revision = typeof wanted === 'string' && /^\d+$/.test(wanted) ? Number(wanted) : wanted;
      if (typeof revision !== 'number' || !Number.isInteger(revision) || revision < 1)
        throw new AdapterError(
          `rollback_image: params.to_revision must be "previous" or a revision number, not ${JSON.stringify(wanted)}`,
        );
      return { action, toRevision: revision };
    }
    default:
      throw new AdapterError(`kubernetes adapter does not know action "${action}"; it knows ${ACTIONS.join(', ')}`);
  }
}

function parseScale(params: JsonObject): Plan {
  const integer = (field: string, fallback?: number): number | undefined => {
    const value = params[field] ?? fallback;
    if (value !== undefined && !Number.isInteger(value))
      throw new AdapterError(`scale: params.${field} must be an integer, not ${JSON.stringify(value)}`);
    return value as number | undefined;
  };
  const [replicas, delta] = [integer('replicas'), integer('delta')];
  const [min, max] = [integer('min_replicas', 0) ?? 0, integer('max_replicas', 100) ?? 100];
  if ((replicas === undefined) === (delta === undefined))
    throw new AdapterError('scale: give exactly one of params.replicas (absolute) or params.delta (relative)');
  if (min < 0 || max < min)
    throw new AdapterError(`scale: the bounds must satisfy 0 <= min_replicas <= max_replicas, not ${min}..${max}`);
  if (replicas !== undefined && (replicas < min || replicas > max))
    throw new AdapterError(`scale: params.replicas ${replicas} is outside the bounds ${min}..${max}`);
  return { action: 'scale', replicas, delta, min, max };
}

function describePlan({ namespace, name }: DeploymentRef, plan: Plan): string {
  const where = `deployment ${namespace}/${name}`;
  switch (plan.action) {
    case 'rollout_restart':
      return `rollout restart ${where}${plan.reason ? ` (reason: ${plan.reason.slice(0, 256)})` : ''}`;
    case 'scale':
      return plan.replicas !== undefined
        ? `scale ${where} to ${plan.replicas} replicas`
        : `scale ${where} by ${plan.delta}, kept within ${plan.min}..${plan.max} replicas`;
    case 'rollback_image': {
      const revision = plan.toRevision === 'previous' ? 'the previous revision' : `revision ${plan.toRevision}`;
      return `roll ${where} back to the container images of ${revision}`;
    }
  }
}

async function planChange(
  plan: Plan,
  current: V1Deployment,
  idempotencyKey: string,
  ref: DeploymentRef,
  client: Client,
): Promise<Change> {
  // The key is kept on the template (restart, as asked) or on the Deployment's metadata, which starts no rollout;
  // only the latest key is remembered, which covers retries of the same action.
  const seen = [current.metadata?.annotations, current.spec?.template?.metadata?.annotations];
  if (seen.some((annotations) => annotations?.[IDEMPOTENCY_KEY] === idempotencyKey))
    return { note: `idempotency key ${idempotencyKey} already acted on this deployment; not patched again` };
  const marker = { annotations: { [IDEMPOTENCY_KEY]: idempotencyKey } };
  switch (plan.action) {
    case 'rollout_restart': {
      const annotations = {
        [RESTARTED_AT]: new Date().toISOString(),
        [IDEMPOTENCY_KEY]: idempotencyKey,
        [REASON]: plan.reason?.slice(0, 256) ?? null, // null removes an earlier restart's reason
      };
      return {
        patch: { body: { spec: { template: { metadata: { annotations } } } }, strategy: PatchStrategy.MergePatch },
      };
    }
    case 'scale': {
      const replicas =
        plan.replicas ?? Math.min(plan.max, Math.max(plan.min, (current.spec?.replicas ?? 1) + (plan.delta ?? 0)));
      return { patch: { body: { metadata: marker, spec: { replicas } }, strategy: PatchStrategy.MergePatch } };
    }
    case 'rollback_image': {
      const target = await findRevision(current, plan.toRevision, ref, client);
      if (typeof target === 'string') return { failure: target };
      const present = new Set(containersOf(current.spec?.template).map((container) => container.name));
      // A container the revision had but the Deployment no longer has is left out: the patch would add it.
      const containers = target.containers.filter((container) => present.has(container.name));
      const body = { metadata: marker, spec: { template: { spec: { containers } } } };
      return {
        patch: { body, strategy: PatchStrategy.StrategicMergePatch },
        note: `rolled back to the container images of revision ${target.revision}`,
      };
    }
  }
}

/** The revision to roll back to, from the ReplicaSets the Deployment owns, or why there is none. */
async function findRevision(
  deployment: V1Deployment,
  wanted: 'previous' | number,
  { namespace, name }: DeploymentRef,
  client: Client,
): Promise<{ revision: number; containers: Container[] } | string> {
  const matchLabels = deployment.spec?.selector?.matchLabels ?? {};
  const labelSelector = Object.entries(matchLabels)
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
  const uid = deployment.metadata?.uid;
  const owned = (await client.replicaSets(labelSelector)).items.filter((replicaSet) =>
    replicaSet.metadata?.ownerReferences?.some(
      (owner) => owner.kind === 'Deployment' && (uid ? owner.uid === uid : owner.name === name),
    ),
  );
  const revisions = owned
    .map((replicaSet) => ({
      revision: revisionOf(replicaSet.metadata?.annotations),
      containers: containersOf(replicaSet.spec?.template),
    }))
    .filter((entry): entry is { revision: number; containers: Container[] } => entry.revision !== null)
    .sort((a, b) => b.revision - a.revision);
  const current = revisionOf(deployment.metadata?.annotations) ?? revisions[0]?.revision ?? 0;
  const found =
    wanted === 'previous'
      ? revisions.find((entry) => entry.revision < current)
      : revisions.find((entry) => entry.revision === wanted);
  if (found) return found;
  const known = revisions.map((entry) => entry.revision).join(', ') || 'none';
  return wanted === 'previous'
    ? `deployment ${namespace}/${name} has no revision before ${current} to roll back to (revisions: ${known})`
    : `deployment ${namespace}/${name} has no revision ${wanted} (revisions: ${known})`;
}

/** A strategic merge patch putting back replicas and container images (none when nothing differs). */
function restoreChange(current: V1Deployment, state: JsonObject): Change {
  const { replicas, containers } = state;
  if (replicas !== undefined && !(Number.isInteger(replicas) && (replicas as number) >= 0))
    return { failure: `the snapshot's replicas ${JSON.stringify(replicas)} is not a replica count` };
  const wanted = (Array.isArray(containers) ? containers : []) as Container[];
  if (!wanted.every((entry) => typeof entry?.name === 'string' && typeof entry.image === 'string'))
    return { failure: "the snapshot's containers are not a list of {name, image}" };
  if (replicas === undefined && wanted.length === 0)
    return { failure: 'the snapshot holds neither replicas nor containers' };
  const images = new Map(containersOf(current.spec?.template).map((container) => [container.name, container.image]));
  const changed = wanted
    .filter((entry) => images.has(entry.name) && images.get(entry.name) !== entry.image)
    .map(({ name, image }) => ({ name, image }));
  const spec = {
    ...(replicas !== undefined && replicas !== current.spec?.replicas ? { replicas } : {}),
    ...(changed.length > 0 ? { template: { spec: { containers: changed } } } : {}),
  };
  if (Object.keys(spec).length === 0) return { note: 'the deployment already has the snapshot state' };
  return { patch: { body: { spec }, strategy: PatchStrategy.StrategicMergePatch } };
}

function containersOf(template: V1PodTemplateSpec | undefined): Container[] {
  return (template?.spec?.containers ?? []).map(({ name, image }) => ({ name, image: image ?? null }));
}

function revisionOf(annotations: Record<string, string> | undefined): number | null {
  const value = annotations?.[REVISION];
  return value && /^\d+$/.test(value) ? Number(value) : null;
}

function rolloutComplete(deployment: V1Deployment): boolean {
  const replicas = deployment.spec?.replicas ?? 1;
  const status = deployment.status;
  return (
    (status?.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 0) &&
    (status?.readyReplicas ?? 0) === replicas &&
    (status?.updatedReplicas ?? 0) === replicas
  );
}

function deploymentState(deployment: V1Deployment): JsonObject {
  const status = deployment.status;
  return {
    ready: rolloutComplete(deployment),
    replicas: deployment.spec?.replicas ?? 1,
    ready_replicas: status?.readyReplicas ?? 0,
    updated_replicas: status?.updatedReplicas ?? 0,
    available_replicas: status?.availableReplicas ?? 0,
    generation: deployment.metadata?.generation ?? 0,
    observed_generation: status?.observedGeneration ?? 0,
    containers: containersOf(deployment.spec?.template),
    revision: revisionOf(deployment.metadata?.annotations),
    restarted_at: deployment.spec?.template?.metadata?.annotations?.[RESTARTED_AT] ?? null,
  };
}

type Client = ReturnType<typeof createClient>;

/** The three API calls the adapter makes, each cut by the signal and failing with an AdapterError. */
function createClient(api: AppsV1Api, ref: DeploymentRef, signal: AbortSignal) {
  const { namespace, name } = ref;
  // The generated client never sets a signal itself: a middleware puts it on each request for node-fetch.
  const abortable = {
    pre: (request: RequestContext) => {
      request.setSignal(signal);
      return new Observable(Promise.resolve(request));
    },
    post: (response: ResponseContext) => new Observable(Promise.resolve(response)),
  };
  type Options = { middleware: Middleware[]; middlewareMergeStrategy: 'append' };
  // Each call is one request; tracing on, it is a CLIENT span whose traceparent the API server is sent.
  const call = async <T>(what: string, request: (options: Options) => Promise<T>): Promise<T> => {
    let span: HttpClientSpan | undefined;
    const traced: Middleware = {
      pre: (req: RequestContext) => {
        span = startHttpClientSpan(req.getHttpMethod(), req.getUrl());
        if (span) req.setHeaderParam('traceparent', span.traceparent);
        return new Observable(Promise.resolve(req));
      },
      post: (response: ResponseContext) => {
        span?.end({ status: response.httpStatusCode });
        return new Observable(Promise.resolve(response));
      },
    };
    try {
      return await request({ middleware: [abortable, traced], middlewareMergeStrategy: 'append' });
    } catch (error) {
      span?.end({ error });
      throw toAdapterError(error, ref, what, signal);
    }
  };
  return {
    read: () => call('get deployment', (options) => api.readNamespacedDeployment({ name, namespace }, options)),
    // Without the Content-Type middleware the client sends the first type it knows, application/json-patch+json.
    patch: (body: object, strategy: PatchStrategy) =>
      call('patch deployment', (options) =>
        api.patchNamespacedDeployment({ name, namespace, body }, setHeaderOptions('Content-Type', strategy, options)),
      ),
    replicaSets: (labelSelector: string) =>
      call('list the replicasets of deployment', (options) =>
        api.listNamespacedReplicaSet({ namespace, labelSelector }, options),
      ),
  };
}

class DeploymentNotFoundError extends AdapterError {}

function toAdapterError(error: unknown, { namespace, name }: DeploymentRef, what: string, signal: AbortSignal) {
  const subject = `${what} ${namespace}/${name}`;
  if (signal.aborted || (error instanceof Error && error.name === 'AbortError'))
    return new AdapterError(`kubernetes API did not answer (${subject}) before the timeout`, true);
  if (error instanceof ApiException) {
    const code: number = error.code;
    if (code === 404) return new DeploymentNotFoundError(`deployment ${namespace}/${name} not found`);
    if (code === 401 || code === 403)
      return new AdapterError(
        `kubernetes API refused to ${subject} (HTTP ${code}); check RBAC: the executor's service account needs ` +
          `get and patch on deployments and list on replicasets in namespace ${namespace}`,
      );
    const retryable = code === 409 || code === 429 || code >= 500;
    return new AdapterError(
      `kubernetes API answered HTTP ${code} to ${subject}: ${statusMessage(error.body)}`,
      retryable,
    );
  }
  const message = redact(error instanceof Error ? error.message : String(error));
  if (error instanceof Error && error.name === 'FetchError')
    return new AdapterError(`kubernetes API unreachable (${subject}): ${message}`, true);
  return new AdapterError(`kubernetes client failed to ${subject}: ${message}`);
}

/** The message of a Kubernetes Status body (the client hands it over as text). */
function statusMessage(body: unknown): string {
  const text = typeof body === 'string' ? body : JSON.stringify(body ?? null);
  try {
    const status = JSON.parse(text) as { message?: unknown };
    if (typeof status?.message === 'string') return redact(status.message).slice(0, 1024);
  } catch {
    // not JSON: the text itself
  }
  return redact(text).slice(0, 1024);
}

function redact(text: string): string {
  return text.replace(/(bearer\s+)\S+/gi, '$1<redacted>');
}
