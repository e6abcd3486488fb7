// Traces of the whole system: a real Jaeger (scripts/tools.sh builds it), the seven services as processes exporting
// to it over OTLP, and one remediation of the demo target. The test opens the trace itself (a root span it sends to
// Jaeger), reports the error through trigger-mesh's HTTP ingest and reads the incident back through the gateway's
// REST API, both under that root; then it reads the trace back from Jaeger's query API: spans of all seven services
// under one trace id, and every span's parent in the trace.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { QueryReply, QueryRequest, QuerySubject } from '@grace/contracts';
import { findJaeger, JAEGER_VERSION, startJaeger, toolsBin, type JaegerProcess } from '@grace/cli/system';
import { Naming, request } from '@grace/service-kit';
import { createSandbox, waitFor, type Sandbox } from '@grace/service-kit/testing';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { issueToken } from '../../services/chat-gateway/src/domain/auth.js';
import { startDemoTarget } from '../../services/demo-target/src/demo.js';
import { SERVICES, startSystem, type RunningSystem } from './system.js';

const DEMO_CATALOG = fileURLToPath(new URL('../../services/demo-target/playbooks.yaml', import.meta.url));
const SECRET = 'tracing-test-secret-long-enough-for-hs256';
const TOKEN = 'tracing-e2e-token-0123456789abcdef';

/** A span as Jaeger's query API returns it (/api/traces/<id>). */
interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: { refType: string; traceID: string; spanID: string }[];
  processID: string;
  tags: { key: string; value: unknown }[];
}
interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string }>;
}

/** Send one finished span to Jaeger over OTLP/HTTP (JSON): the root of the trace this test drives. */
async function sendRootSpan(endpoint: string, span: { traceId: string; spanId: string; start: number; end: number }) {
  const nanos = (ms: number) => `${BigInt(Math.round(ms)) * 1_000_000n}`;
  const res = await fetch(`${endpoint}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'e2e-test' } }] },
          scopeSpans: [
            {
              scope: { name: 'tests/e2e/tracing.test.ts' },
              spans: [
                {
                  traceId: span.traceId,
                  spanId: span.spanId,
                  name: 'one remediation',
                  kind: 1,
                  startTimeUnixNano: nanos(span.start),
                  endTimeUnixNano: nanos(span.end),
                },
              ],
            },
          ],
        },
      ],
    }),
  });
  if (!res.ok) throw new Error(`Jaeger refused the root span: ${res.status} ${await res.text()}`);
}

describe('traces: one remediation across the seven services, read back from Jaeger', () => {
  let sandbox: Sandbox;
  let jaeger: JaegerProcess | undefined;
  let system: RunningSystem | undefined;
  let demo: ReturnType<typeof startDemoTarget> | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'grace-tracing-'));
  const traceId = randomBytes(16).toString('hex');
  const rootSpanId = randomBytes(8).toString('hex');
  const traceparent = `00-${traceId}-${rootSpanId}-01`;
  const started = Date.now();
  const ask = <Q extends QuerySubject>(subject: Q, body: QueryRequest<Q>) =>
    request(subject, body, { nc: sandbox.nc, naming: new Naming(sandbox.namespace), timeoutMs: 5_000 });

  beforeAll(async () => {
    const binary = findJaeger();
    // Missing Jaeger is a broken set-up, not a reason to skip.
    if (!binary)
      throw new Error(
        `no jaeger binary on PATH or in ${toolsBin()}: run scripts/tools.sh (it builds Jaeger ${JAEGER_VERSION}), then put its folder on PATH or leave it there`,
      );
    jaeger = await startJaeger({ binary });
    writeFileSync(
      join(dir, 'producers.yaml'),
      `producers:\n  - name: e2e\n    bearer_sha256: ${createHash('sha256').update(TOKEN).digest('hex')}\n`,
    );
    sandbox = await createSandbox('e2etrace');
    // The demo reports no errors on its own: the test's one report, under the test's trace, opens the incident.
    demo = startDemoTarget({ nc: sandbox.nc, namespace: sandbox.namespace, errorIntervalMs: 3_600_000 });
    // Debug: each handled event logs a line inside its span.
    const traced = {
      OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpEndpoint,
      OTEL_BSP_SCHEDULE_DELAY: '200',
      LOG_LEVEL: 'debug',
    };
    system = await startSystem(sandbox, SERVICES, {
      'trigger-mesh': { ...traced, PRODUCERS_FILE: join(dir, 'producers.yaml'), EMIT_INTERVAL_MS: '500' },
      sentinel: { ...traced, PLAYBOOKS_FILE: DEMO_CATALOG },
      'action-executor': { ...traced, WORK_POLL_MS: '50', APPROVAL_SWEEP_MS: '100' },
      verifier: { ...traced, WORK_POLL_MS: '50', CAPTURE_SETTLE_MS: '1500' },
      'learning-loop': { ...traced, PUBLISH_INTERVAL_MS: '50' },
      'cube-etl': { ...traced, ETL_INTERVAL_MS: '3600000' },
      'chat-gateway': { ...traced, JWT_SECRET: SECRET },
    });
  }, 120_000);

  afterAll(async () => {
    if (system) {
      expect(await system.stop()).toEqual(Object.fromEntries(SERVICES.map((s) => [s, 0])));
      await system.dropSchemas();
    }
    await demo?.stop();
    await jaeger?.stop();
    await sandbox?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('spans of all seven services under the one trace id, each one a child of a span of that trace', async () => {
    // The traceparent each request to the demo target carries (the executor's nats adapter sends it).
    const remediationAsked: { subject: string; traceparent: string }[] = [];
    const listening = sandbox.nc.subscribe(`${sandbox.namespace}.remediation.demo.>`, {
      callback: (_err, msg) => {
        remediationAsked.push({ subject: msg.subject, traceparent: msg.headers?.get('traceparent') ?? '' });
      },
    });
    demo!.inject('pool');
    const ingest = `http://127.0.0.1:${system!.ports.get('trigger-mesh')}/ingest/events`;
    const reported = await fetch(ingest, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', traceparent },
      body: JSON.stringify({
        service: 'demo',
        environment: 'demo',
        kind: 'ConnectionPoolExhausted',
        message: 'connection pool exhausted: 20 of 20 connections in use',
        severity: 'error',
        occurred_at: new Date().toISOString(),
      }),
    });
    expect(reported.status).toBe(202);

    type Incident = QueryReply<'sentinel.query.incidents'>['items'][number];
    const incident = await waitFor(
      'the incident to be resolved',
      async () => {
        const { items } = await ask('sentinel.query.incidents', { service: 'demo' });
        return items.find((i: Incident) => i.kind === 'ConnectionPoolExhausted' && i.status === 'resolved');
      },
      60_000,
    );
    expect(demo!.state.pool.healthy).toBe(true);
    // The learning loop has the outcome (its consumer span is in the trace once it has).
    await waitFor('the outcome', async () => {
      const { items } = await ask('learning.query.outcomes', { playbook: 'reconnect_database' });
      return items.length > 0;
    });

    // The operator looks at the incident through the gateway's REST API, in the same trace.
    const api = `http://127.0.0.1:${system!.ports.get('chat-gateway')}/api/v1`;
    const token = issueToken({ secret: SECRET, subject: 'vera', roles: ['viewer'] });
    const looked = await fetch(`${api}/incidents/${incident.incident_id}`, {
      headers: { authorization: `Bearer ${token}`, traceparent },
    });
    expect(looked.status).toBe(200);
    await sendRootSpan(jaeger!.otlpEndpoint, { traceId, spanId: rootSpanId, start: started, end: Date.now() });

    // Read the trace back until it is whole: every service's spans in, the test's root among them, and every
    // span's parent stored (the services export in batches, a parent often after its children). A span whose
    // parent never arrives keeps it from being whole, and the wait fails naming it.
    const url = `${jaeger!.uiUrl}/api/traces/${traceId}`;
    const serviceIn = (t: JaegerTrace, s: JaegerSpan) => t.processes[s.processID]!.serviceName;
    const parentOf = (s: JaegerSpan) => s.references.find((r) => r.refType === 'CHILD_OF');
    const brokenIn = (t: JaegerTrace) => {
      const ids = new Set(t.spans.map((s) => s.spanID));
      return t.spans
        .filter((s) => parentOf(s) && (parentOf(s)!.traceID !== traceId || !ids.has(parentOf(s)!.spanID)))
        .map((s) => `${serviceIn(t, s)}: ${s.operationName} (parent ${parentOf(s)!.spanID})`);
    };
    const missingIn = (t: JaegerTrace) => {
      const seen = new Set(t.spans.map((s) => serviceIn(t, s)));
      return [...SERVICES, 'e2e-test'].filter((s) => !seen.has(s));
    };
    let trace: JaegerTrace | undefined;
    try {
      trace = await waitFor(
        'the whole trace in Jaeger',
        async () => {
          const res = await fetch(url);
          if (!res.ok) return undefined;
          const [found] = ((await res.json()) as { data: JaegerTrace[] }).data;
          trace = found;
          return found && missingIn(found).length === 0 && brokenIn(found).length === 0 ? found : undefined;
        },
        30_000,
      );
    } catch (err) {
      const state = trace
        ? `no spans of: ${missingIn(trace).join(', ') || 'none'}; parents missing: ${brokenIn(trace).join('; ') || 'none'}`
        : 'no trace';
      throw new Error(`${(err as Error).message}; ${state}`);
    }

    const serviceOf = (s: JaegerSpan) => serviceIn(trace!, s);
    const ids = new Map(trace.spans.map((s) => [s.spanID, s]));
    // Every span's parent is a span of this trace; the one root is the test's own.
    const roots = trace.spans.filter((s) => !parentOf(s));
    expect(roots.map((s) => [serviceOf(s), s.operationName])).toEqual([['e2e-test', 'one remediation']]);
    expect(brokenIn(trace)).toEqual([]);

    const count = new Map<string, number>();
    for (const s of trace.spans) count.set(serviceOf(s), (count.get(serviceOf(s)) ?? 0) + 1);
    process.stdout.write(
      `trace ${traceId}: ${trace.spans.length} spans; ${[...count].map(([s, n]) => `${s} ${n}`).join(', ')}\n`,
    );
    if (process.env.TRACE_DUMP) writeFileSync(process.env.TRACE_DUMP, JSON.stringify(trace));

    // The path of the remediation, hop by hop.
    const named = (service: string, name: string | RegExp) =>
      trace!.spans.filter(
        (s) =>
          serviceOf(s) === service &&
          (typeof name === 'string' ? s.operationName === name : name.test(s.operationName)),
      );
    const childOf = (s: JaegerSpan) => ids.get(parentOf(s)!.spanID)!;
    const [ingested] = named('trigger-mesh', 'POST /ingest/events');
    expect(ingested && childOf(ingested).spanID).toBe(rootSpanId);
    const [looking] = named('chat-gateway', 'GET /api/v1/incidents/:id');
    expect(looking && childOf(looking).spanID).toBe(rootSpanId);
    expect(named('sentinel', 'sentinel.query.incident').some((s) => serviceOf(childOf(s)) === 'chat-gateway')).toBe(
      true,
    );
    for (const [service, subject] of [
      ['trigger-mesh', 'error.reported'],
      ['sentinel', 'error.captured'],
      ['action-executor', 'action.requested'],
      ['verifier', 'action.executed'],
      ['sentinel', 'contract.verified'],
      ['learning-loop', 'contract.verified'],
      ['cube-etl', 'contract.verified'],
    ] as const) {
      const consumed = named(service, `process ${subject}`);
      expect({ service, subject, consumed: consumed.length > 0 }).toEqual({ service, subject, consumed: true });
      // Its parent is the PRODUCER span of the event it handled.
      for (const s of consumed) expect(childOf(s).operationName).toBe(`send ${subject}`);
    }
    // Work a row carried past its handler's transaction: a worker's span, the parent of the event it emits.
    const [ran] = named('action-executor', 'run reconnect_database');
    expect(ran && childOf(ran).operationName).toBe('process action.requested');
    expect(named('action-executor', 'send action.executed').map((s) => childOf(s).spanID)).toEqual([ran!.spanID]);
    // The adapter's request to the target: a CLIENT span of the run, whose context the target got.
    const [remediated] = named('action-executor', 'remediation.demo.reconnect_database');
    expect(remediated && childOf(remediated).spanID).toBe(ran!.spanID);
    listening.unsubscribe();
    expect(remediationAsked.find((a) => a.subject.endsWith('.reconnect_database'))?.traceparent).toBe(
      `00-${traceId}-${remediated!.spanID}-01`,
    );
    const [verified] = named('verifier', 'verify contract');
    expect(verified && childOf(verified).operationName).toBe('process action.executed');
    expect(named('verifier', 'send contract.verified').map((s) => childOf(s).spanID)).toEqual([verified!.spanID]);
    // Statements are CLIENT spans of the work they belong to.
    expect(named('action-executor', /^INSERT contracts$/).length).toBeGreaterThan(0);

    // Log lines written inside a span carry its trace id (the gateway logs nothing for a request that succeeds).
    for (const service of SERVICES.filter((s) => s !== 'chat-gateway')) {
      const lines = system!.processes
        .get(service)!
        .output()
        .split('\n')
        .filter((l) => l.includes(`"trace_id":"${traceId}"`));
      expect({ service, logged: lines.length > 0 }).toEqual({ service, logged: true });
    }
  }, 150_000);
});
