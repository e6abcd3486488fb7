// A fake Kubernetes API server over real HTTP: the Deployment and ReplicaSet calls the kubernetes adapter makes.
import { KubeConfig } from '@kubernetes/client-node';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

type Json = Record<string, unknown>;
/** Container name -> image; a single `image` names its container after the Deployment. */
type Images = Record<string, string>;

export interface DeploymentSetup {
  replicas: number;
  image?: string;
  images?: Images;
  revision?: number;
  previousRevisions?: { revision: number; image?: string; images?: Images }[];
}

export interface Behaviour {
  /** Delay before a changed Deployment reports its rollout complete (default 0). */
  readyAfterMs?: number;
  neverReady?: boolean;
  /** Requests for this Deployment are never answered. */
  hang?: boolean;
  /** Requests for this Deployment are refused with 403, as without RBAC. */
  forbidden?: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  contentType: string | undefined;
  body: unknown;
  /** The W3C traceparent header the client sent, if any. */
  traceparent?: string;
}

export interface FakeKubernetes {
  url: string;
  token: string;
  kubeConfig(): KubeConfig;
  writeKubeconfig(dir: string): string;
  addDeployment(namespace: string, name: string, setup: DeploymentSetup): void;
  deployment(namespace: string, name: string): Json;
  setBehaviour(namespace: string, name: string, behaviour: Behaviour): void;
  requests: RecordedRequest[];
  stop(): Promise<void>;
}

interface Stored {
  deployment: Json & { metadata: Json & { annotations: Record<string, string> }; spec: Json; status: Json };
  replicaSets: Json[];
  behaviour: Behaviour;
}

const REVISION = 'deployment.kubernetes.io/revision';
const DEPLOYMENT_PATH = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/deployments\/([^/]+)$/;
const REPLICASETS_PATH = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/replicasets$/;

export async function startFakeKubernetes(): Promise<FakeKubernetes> {
  const token = `fake-token-${randomUUID()}`;
  const stored = new Map<string, Stored>();
  const requests: RecordedRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const key = (namespace: string, name: string) => `${namespace}/${name}`;

  const server = createServer((request, response) => {
    void handle(request, response).catch((error: unknown) => {
      send(response, 500, status(500, 'InternalError', String(error)));
    });
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://fake');
    const text = await readBody(request);
    const contentType = request.headers['content-type'];
    let body: unknown = undefined;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        return send(response, 400, status(400, 'BadRequest', 'the body is not JSON'));
      }
    }
    const traceparent = request.headers.traceparent;
    requests.push({
      method: request.method ?? '',
      path: url.pathname + url.search,
      contentType,
      body,
      ...(typeof traceparent === 'string' ? { traceparent } : {}),
    });
    if (request.headers.authorization !== `Bearer ${token}`) return send(response, 401, status(401, 'Unauthorized'));

    const deploymentMatch = DEPLOYMENT_PATH.exec(url.pathname);
    const replicaSetsMatch = REPLICASETS_PATH.exec(url.pathname);
    if (deploymentMatch) {
      const [namespace, name] = deploymentMatch.slice(1).map(decodeURIComponent) as [string, string];
      const entry = stored.get(key(namespace, name));
      if (entry?.behaviour.hang) return; // never answered; stop() destroys the socket
      if (entry?.behaviour.forbidden)
        return send(response, 403, status(403, 'Forbidden', `deployments.apps "${name}" is forbidden`));
      if (!entry) return send(response, 404, status(404, 'NotFound', `deployments.apps "${name}" not found`));
      if (request.method === 'GET') return send(response, 200, entry.deployment);
      if (request.method === 'PATCH') return patchDeployment(entry, contentType, body, response);
      return send(response, 405, status(405, 'MethodNotAllowed', `${request.method} is not supported here`));
    }
    if (replicaSetsMatch && request.method === 'GET') {
      const namespace = decodeURIComponent(replicaSetsMatch[1] ?? '');
      const wanted = parseSelector(url.searchParams.get('labelSelector') ?? '');
      const items = [...stored.values()]
        .filter((entry) => entry.deployment.metadata.namespace === namespace)
        .flatMap((entry) => entry.replicaSets)
        .filter((replicaSet) => {
          const labels = ((replicaSet.metadata as Json).labels ?? {}) as Record<string, string>;
          return Object.entries(wanted).every(([label, value]) => labels[label] === value);
        });
      return send(response, 200, { apiVersion: 'apps/v1', kind: 'ReplicaSetList', metadata: {}, items });
    }
    send(response, 404, status(404, 'NotFound', 'the server could not find the requested resource'));
  }

  function patchDeployment(entry: Stored, contentType: string | undefined, body: unknown, response: ServerResponse) {
    const strategic = contentType === 'application/strategic-merge-patch+json';
    if (!strategic && contentType !== 'application/merge-patch+json')
      return send(
        response,
        415,
        status(415, 'UnsupportedMediaType', `the body of type ${contentType} is not supported`),
      );
    if (!isObject(body)) return send(response, 422, status(422, 'Invalid', 'the patch is not an object'));
    const deployment = entry.deployment;
    const before = JSON.stringify(deployment.spec);
    const templateBefore = JSON.stringify(deployment.spec.template);
    for (const field of ['metadata', 'spec'] as const) {
      if (isObject(body[field])) deployment[field] = mergePatch(deployment[field], body[field], strategic) as never;
    }
    const metadata = deployment.metadata;
    metadata.resourceVersion = String(Number(metadata.resourceVersion) + 1);
    if (JSON.stringify(deployment.spec) !== before) {
      metadata.generation = (metadata.generation as number) + 1;
      if (JSON.stringify(deployment.spec.template) !== templateBefore) newRevision(entry);
      scheduleRollout(entry);
    }
    send(response, 200, deployment);
  }

  /** Like the deployment controller: a template seen before takes its ReplicaSet back with the next revision. */
  function newRevision(entry: Stored) {
    const template = entry.deployment.spec.template as Json;
    const revisions = entry.replicaSets.map((replicaSet) => Number(annotationsOf(replicaSet)[REVISION]));
    const revision = String(Math.max(0, ...revisions) + 1);
    const same = entry.replicaSets.find(
      (replicaSet) => JSON.stringify((replicaSet.spec as Json).template) === JSON.stringify(template),
    );
    if (same) annotationsOf(same)[REVISION] = revision;
    else entry.replicaSets.push(createReplicaSet(entry.deployment, revision, template));
    entry.deployment.metadata.annotations[REVISION] = revision;
    entry.deployment.status = { ...entry.deployment.status, updatedReplicas: 0 };
  }

  function scheduleRollout(entry: Stored) {
    if (entry.behaviour.neverReady) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      const { deployment } = entry;
      const replicas = deployment.spec.replicas as number;
      deployment.status = {
        observedGeneration: deployment.metadata.generation,
        replicas,
        readyReplicas: replicas,
        updatedReplicas: replicas,
        availableReplicas: replicas,
      };
    }, entry.behaviour.readyAfterMs ?? 0);
    timers.add(timer);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  function kubeConfig(): KubeConfig {
    const config = new KubeConfig();
    config.loadFromOptions({
      // client-node refuses plain http unless skipTLSVerify is set.
      clusters: [{ name: 'fake', server: url, skipTLSVerify: true }],
      users: [{ name: 'fake', token }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'fake' }],
      currentContext: 'fake',
    });
    return config;
  }

  return {
    url,
    token,
    requests,
    kubeConfig,
    writeKubeconfig(dir: string): string {
      const path = join(dir, 'kubeconfig.yaml');
      writeFileSync(path, kubeConfig().exportConfig()); // JSON is YAML
      return path;
    },
    addDeployment(namespace: string, name: string, setup: DeploymentSetup): void {
      const revision = setup.revision ?? 1 + (setup.previousRevisions?.length ?? 0);
      const labels = { app: name };
      const deployment: Stored['deployment'] = {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: {
          name,
          namespace,
          uid: randomUUID(),
          generation: 1,
          resourceVersion: '1',
          creationTimestamp: new Date().toISOString(),
          labels,
          annotations: { [REVISION]: String(revision) },
        },
        spec: {
          replicas: setup.replicas,
          selector: { matchLabels: labels },
          template: template(name, imagesOf(name, setup)),
        },
        status: {
          observedGeneration: 1,
          replicas: setup.replicas,
          readyReplicas: setup.replicas,
          updatedReplicas: setup.replicas,
          availableReplicas: setup.replicas,
        },
      };
      const replicaSets = (setup.previousRevisions ?? []).map((previous) =>
        createReplicaSet(deployment, String(previous.revision), template(name, imagesOf(name, previous))),
      );
      replicaSets.push(createReplicaSet(deployment, String(revision), deployment.spec.template as Json));
      stored.set(key(namespace, name), { deployment, replicaSets, behaviour: {} });
    },
    deployment(namespace: string, name: string): Json {
      const entry = stored.get(key(namespace, name));
      if (!entry) throw new Error(`no deployment ${namespace}/${name}`);
      return structuredClone(entry.deployment);
    },
    setBehaviour(namespace: string, name: string, behaviour: Behaviour): void {
      const entry = stored.get(key(namespace, name));
      if (!entry) throw new Error(`no deployment ${namespace}/${name}`);
      entry.behaviour = { ...entry.behaviour, ...behaviour };
    },
    async stop(): Promise<void> {
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}

function imagesOf(name: string, setup: { image?: string; images?: Images }): Images {
  return setup.images ?? { [name]: setup.image ?? `registry.example/${name}:1` };
}

function template(name: string, images: Images): Json {
  const containers = Object.entries(images).map(([container, image]) => ({
    name: container,
    image,
    imagePullPolicy: 'IfNotPresent',
    ports: [{ containerPort: 8080, protocol: 'TCP' }],
  }));
  return { metadata: { labels: { app: name } }, spec: { containers } };
}

function createReplicaSet(deployment: Stored['deployment'], revision: string, podTemplate: Json): Json {
  const { name, namespace, uid } = deployment.metadata;
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: `${name as string}-${revision}`,
      namespace,
      uid: randomUUID(),
      labels: { ...(deployment.spec.selector as { matchLabels: Json }).matchLabels, 'pod-template-hash': revision },
      annotations: { [REVISION]: revision },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name, uid, controller: true }],
    },
    spec: { replicas: 0, template: structuredClone(podTemplate) },
  };
}

function annotationsOf(object: Json): Record<string, string> {
  return (object.metadata as { annotations: Record<string, string> }).annotations;
}

/**
 * RFC 7386 merge patch; `strategic` also merges `containers` lists by name, the one list strategic merge patch
 * treats specially that the adapter sends (no `$patch` directives).
 */
function mergePatch(target: unknown, patch: unknown, strategic: boolean, field = ''): unknown {
  if (strategic && field === 'containers' && Array.isArray(target) && Array.isArray(patch)) {
    const merged = structuredClone(target) as Json[];
    for (const item of patch as Json[]) {
      const index = merged.findIndex((existing) => existing.name === item.name);
      if (index < 0) merged.push(item);
      else merged[index] = mergePatch(merged[index], item, strategic) as Json;
    }
    return merged;
  }
  if (!isObject(patch)) return patch;
  const result: Json = isObject(target) ? { ...target } : {};
  for (const [name, value] of Object.entries(patch)) {
    if (value === null) delete result[name];
    else result[name] = mergePatch(result[name], value, strategic, name);
  }
  return result;
}

function parseSelector(selector: string): Record<string, string> {
  const wanted: Record<string, string> = {};
  for (const term of selector.split(',').filter(Boolean)) {
    const [label, value] = term.split(/==?/);
    if (label !== undefined && value !== undefined) wanted[label.trim()] = value.trim();
  }
  return wanted;
}

function status(code: number, reason: string, message = reason): Json {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function send(response: ServerResponse, code: number, body: unknown): void {
  response.writeHead(code, { 'Content-Type': 'application/json' });
  response.end(JSON.stringify(body));
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
