import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createEvent, type GraceEvent } from '@grace/contracts';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-node';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  startService,
  tracingOn,
  tracingSettings,
  withSpan,
  currentTraceparent,
  type RunningService,
} from '../src/index.js';
import { exportSpansTo, traceLogFields } from '../src/tracing.js';
import { ledgerService, type LedgerDb } from './fixtures/ledger-service.js';
import { createSandbox, publishRaw, readStream, sampleReported, waitFor, type Sandbox } from './support.js';

describe('tracing settings (the standard OTEL_* variables)', () => {
  it('is off without an OTLP endpoint, or when disabled', () => {
    expect(tracingSettings('ledger', {})).toBeUndefined();
    expect(tracingSettings('ledger', { OTEL_SERVICE_NAME: 'x', OTEL_TRACES_SAMPLER: 'always_on' })).toBeUndefined();
    const on = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };
    expect(tracingSettings('ledger', { ...on, OTEL_SDK_DISABLED: 'true' })).toBeUndefined();
    expect(tracingSettings('ledger', { ...on, OTEL_TRACES_EXPORTER: 'none' })).toBeUndefined();
  });

  it('takes the endpoint, service name, headers, resource and sampler from the environment', () => {
    expect(tracingSettings('ledger', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' })).toMatchObject({
      endpoint: 'http://collector:4318/v1/traces',
      serviceName: 'ledger',
      sampler: { name: 'parentbased_always_on' },
      warnings: [],
    });
    const settings = tracingSettings('ledger', {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://ignored:4318',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://collector.example/otlp/v1/traces',
      OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20abc, x-team=grace',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=prod,service.namespace=grace',
      OTEL_SERVICE_NAME: 'ledger-eu',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
      OTEL_EXPORTER_OTLP_TIMEOUT: '5000',
    });
    expect(settings).toMatchObject({
      endpoint: 'https://collector.example/otlp/v1/traces',
      headers: { authorization: 'Bearer abc', 'x-team': 'grace' },
      resourceAttributes: { 'deployment.environment.name': 'prod', 'service.namespace': 'grace' },
      serviceName: 'ledger-eu',
      sampler: { name: 'parentbased_traceidratio', arg: 0.25 },
      timeoutMillis: 5000,
      warnings: [],
    });
    const odd = tracingSettings('ledger', {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_TRACES_SAMPLER: 'sometimes',
    });
    expect(odd?.sampler).toEqual({ name: 'parentbased_always_on' });
    expect(odd?.warnings.join('\n')).toMatch(/grpc is not supported[\s\S]*sometimes/);
  });

  it('is off in a service started without an endpoint: no span, no trace fields', async () => {
    expect(tracingOn()).toBe(false);
    expect(await withSpan('nothing', {}, async () => currentTraceparent())).toBeUndefined();
    expect(traceLogFields()).toEqual({});
  });
});

type Traced = RunningService<LedgerDb, unknown>;

describe('traces of a service (tracing on, spans kept in memory)', () => {
  let sandbox: Sandbox;
  let service: Traced;
  const exporter = new InMemorySpanExporter();
  const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
  const PARENT = '00f067aa0ba902b7';

  const spans = () => exporter.getFinishedSpans();
  const byId = (id: string | undefined) => spans().find((s) => s.spanContext().spanId === id);
  const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
  const childrenOf = (span: ReadableSpan) => spans().filter((s) => parentOf(s) === span.spanContext().spanId);

  beforeAll(async () => {
    exportSpansTo(exporter);
    sandbox = await createSandbox('tracing');
    const def = {
      ...ledgerService,
      setup: async (runtime: Parameters<NonNullable<typeof ledgerService.setup>>[0]) => ({
        ...(await ledgerService.setup!(runtime)),
        queries: {
          'executor.control.status': async () => ({
            paused: false,
            held_actions: 0,
            open_contracts: 0,
            dry_run: false,
          }),
        },
        // One route that asks a query and publishes an event, as the gateway's API and trigger-mesh's ingest do.
        routes: (req: IncomingMessage, res: ServerResponse) => {
          void (async () => {
            await runtime.request('executor.control.status', {});
            const event = createEvent('error.reported', sampleReported({ message: 'from http' }).data, {
              source: 'ingest/test',
            });
            await runtime.publish(event);
            res.writeHead(202, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ id: event.id, url: req.url }));
          })();
        },
      }),
    };
    service = (await startService(def, {
      ...sandbox.env,
      // Nothing listens there: the spans go to the in-memory exporter.
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9',
      OTEL_SERVICE_NAME: 'traced-ledger',
    })) as unknown as Traced;
  });

  afterAll(async () => {
    await service?.stop();
    exportSpansTo(undefined);
    await sandbox?.cleanup();
  });

  it('a consumed event: a CONSUMER span under its traceparent, its statements and its emit under that', async () => {
    expect(tracingOn()).toBe(true);
    const event = { ...sampleReported({ message: 'traced' }), traceparent: `00-${TRACE}-${PARENT}-01` };
    await publishRaw(sandbox, 'error.reported', JSON.stringify(event));
    const captured = await waitFor('the emitted error.captured', async () =>
      (await readStream(sandbox, 'GRACE_ERRORS'))
        .map((m) => m.data as GraceEvent<'error.captured'>)
        .find((e) => e.data.reported_event_id === event.id),
    );
    const consumer = await waitFor('the consumer span', async () =>
      spans().find((s) => s.kind === SpanKind.CONSUMER && s.attributes['cloudevents.event_id'] === event.id),
    );
    expect(consumer.name).toBe('process error.reported');
    expect(consumer.spanContext().traceId).toBe(TRACE);
    expect(parentOf(consumer)).toBe(PARENT);
    expect(consumer.resource.attributes['service.name']).toBe('traced-ledger');
    expect(consumer.attributes).toMatchObject({
      'messaging.system': 'nats',
      'messaging.operation.type': 'process',
      'messaging.destination.name': `${sandbox.namespace}.error.reported`,
      'messaging.consumer.group.name': 'ledger__error_reported',
      'grace.correlation_id': event.correlationid,
    });

    // The emitted event carries its PRODUCER span's context; that span is the consumer span's child.
    const [, traceId, spanId] = captured.traceparent!.split('-');
    expect(traceId).toBe(TRACE);
    const producer = await waitFor('the producer span', async () => byId(spanId));
    expect(producer).toMatchObject({ name: 'send error.captured', kind: SpanKind.PRODUCER });
    expect(parentOf(producer)).toBe(consumer.spanContext().spanId);
    expect(producer.attributes['messaging.destination.name']).toBe(`${sandbox.namespace}.error.captured`);

    // Every statement of the handling (claim, the handler's insert, the inbox row, the commit) is a CLIENT span.
    const statements = childrenOf(consumer).filter((s) => s.kind === SpanKind.CLIENT);
    const names = statements.map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(['BEGIN', 'INSERT ledger', 'INSERT inbox', 'COMMIT']));
    const insert = statements.find((s) => s.name === 'INSERT ledger')!;
    expect(insert.attributes).toMatchObject({
      'db.system.name': 'postgresql',
      'db.namespace': sandbox.schema,
      'db.operation.name': 'INSERT',
      'db.collection.name': 'ledger',
    });
    expect(String(insert.attributes['db.query.text'])).toMatch(/^insert into "ledger"/);
    expect(String(insert.attributes['db.query.text'])).not.toContain('traced');
  });

  it('an HTTP request: a SERVER span under its traceparent header, its query and its publish under that', async () => {
    const res = await fetch(`http://127.0.0.1:${service.httpPort}/ingest?token=secret`, {
      method: 'POST',
      headers: { traceparent: `00-${TRACE}-${PARENT}-01` },
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const server = await waitFor('the server span', async () =>
      spans().find((s) => s.kind === SpanKind.SERVER && s.attributes['url.path'] === '/ingest'),
    );
    expect(parentOf(server)).toBe(PARENT);
    expect(server.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.response.status_code': 202 });
    // No query string: it can carry credentials.
    expect(JSON.stringify(server.attributes)).not.toContain('secret');

    const request = childrenOf(server).find((s) => s.kind === SpanKind.CLIENT)!;
    expect(request.name).toBe('executor.control.status');
    const answer = await waitFor('the answer span', async () =>
      childrenOf(request).find((s) => s.kind === SpanKind.SERVER),
    );
    expect(answer.name).toBe('executor.control.status');

    const published = await waitFor('the published event', async () =>
      (await readStream(sandbox, 'GRACE_REPORTS')).map((m) => m.data as GraceEvent).find((e) => e.id === id),
    );
    const producer = await waitFor('its producer span', async () => byId(published.traceparent!.split('-')[2]));
    expect(parentOf(producer)).toBe(server.spanContext().spanId);
    expect(producer.spanContext().traceId).toBe(TRACE);

    // And the consumer that handles it continues the same trace.
    const consumer = await waitFor('its consumer span', async () =>
      spans().find((s) => s.kind === SpanKind.CONSUMER && s.attributes['cloudevents.event_id'] === id),
    );
    expect(parentOf(consumer)).toBe(producer.spanContext().spanId);

    const health = await fetch(`http://127.0.0.1:${service.httpPort}/healthz`);
    expect(health.status).toBe(200);
    const probe = await waitFor('the /healthz span', async () =>
      spans().find((s) => s.kind === SpanKind.SERVER && s.attributes['url.path'] === '/healthz'),
    );
    expect(probe.name).toBe('GET /healthz');
  });

  it("a service's own work in withSpan: a child of the traceparent it stored, active for what it logs", async () => {
    const stored = `00-${TRACE}-${PARENT}-01`;
    const inside = await withSpan(
      'run contract',
      { parent: stored, attributes: { 'grace.contract_id': 'c1' } },
      async () => ({
        traceparent: currentTraceparent(),
        fields: traceLogFields(),
      }),
    );
    const span = byId(inside.traceparent!.split('-')[2])!;
    expect(span.name).toBe('run contract');
    expect(parentOf(span)).toBe(PARENT);
    expect(inside.fields).toEqual({ trace_id: TRACE, span_id: span.spanContext().spanId });
  });

  it('every span the service made has its parent among them, or is a root of the trace it was handed', () => {
    const ids = new Set(spans().map((s) => s.spanContext().spanId));
    const dangling = spans().filter((s) => parentOf(s) && !ids.has(parentOf(s)!) && parentOf(s) !== PARENT);
    // Remote parents: the events published straight to the stream by the test itself.
    expect(dangling.filter((s) => s.kind !== SpanKind.CONSUMER).map((s) => s.name)).toEqual([]);
  });
});
