import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createEvent, type GraceEvent } from '@grace/contracts';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-node';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  startService,
  tracedFetch,
  tracedRequest,
  tracingOn,
  tracingSettings,
  withSpan,
  currentTraceparent,
  type RunningService,
} from '../src/index.js';
import { exportSpansTo, traceLogFields, tracePublish } from '../src/tracing.js';
import { ledgerService, type LedgerDb } from './fixtures/ledger-service.js';
import { createSandbox, publishRaw, readStream, sampleReported, waitFor, type Sandbox } from './support.js';

/** A local HTTP server that records each request's headers and answers `/status/<code>` with that code. */
async function startWebServer() {
  const seen: { url: string; headers: IncomingHttpHeaders }[] = [];
  const server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    res.writeHead(Number(/^\/status\/(\d{3})/.exec(req.url ?? '')?.[1] ?? 200));
    res.end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** A port nothing listens on (one the system just gave out and took back). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

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

  it("off, tracedFetch is plain fetch: the caller's headers, no traceparent", async () => {
    const web = await startWebServer();
    try {
      const res = await tracedFetch(`${web.url}/status/201`, { headers: { 'x-caller': 'kept' } });
      expect(res.status).toBe(201);
      expect(web.seen[0]!.headers['x-caller']).toBe('kept');
      expect(web.seen[0]!.headers.traceparent).toBeUndefined();
    } finally {
      await web.close();
    }
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

  it('an event published again here (the sweep, a replay): a PRODUCER span of its own under its traceparent', async () => {
    const event = { ...sampleReported({ message: 'swept' }), traceparent: `00-${TRACE}-${PARENT}-01` };
    await expect(tracePublish(event, 'ns.error.reported', async () => 'acked')).resolves.toBe('acked');
    await expect(
      tracePublish({ ...event, id: 'refused' }, 'ns.error.reported', () => Promise.reject(new Error('no ack'))),
    ).rejects.toThrow('no ack');
    const sent = spans().filter((s) => s.attributes['grace.republished'] === true);
    expect(sent.map((s) => [s.name, s.kind, s.attributes['messaging.message.id'], s.status.code])).toEqual([
      ['send error.reported', SpanKind.PRODUCER, event.id, SpanStatusCode.UNSET],
      ['send error.reported', SpanKind.PRODUCER, 'refused', SpanStatusCode.ERROR],
    ]);
    for (const span of sent) {
      expect(span.spanContext().traceId).toBe(TRACE);
      expect(parentOf(span)).toBe(PARENT);
      expect(span.attributes['messaging.destination.name']).toBe('ns.error.reported');
    }
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
    // A message served outside the kit (the gateway's WebSocket frames): a SERVER span.
    const frame = await withSpan('websocket message', { kind: 'server' }, async () => currentTraceparent());
    expect(byId(frame!.split('-')[2])!.kind).toBe(SpanKind.SERVER);
  });

  it("a dead letter: a PRODUCER span under the given-up event, its traceparent in the letter's headers", async () => {
    const letterOf = async (eventId: string) => {
      const name = `${sandbox.namespace}_GRACE_DLQ`;
      const info = await sandbox.jsm.streams.info(name);
      for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
        const m = await sandbox.jsm.streams.getMessage(name, { seq }).catch(() => null);
        if (m && m.json<{ event_id?: string }>().event_id === eventId) return m;
      }
      return undefined;
    };
    // Refused by its handler: the dead letter's span is the child of the event's CONSUMER span.
    const refused = { ...sampleReported({ message: 'refuse traced' }), traceparent: `00-${TRACE}-${PARENT}-01` };
    await publishRaw(sandbox, 'error.reported', JSON.stringify(refused));
    const letter = await waitFor('the dead letter', () => letterOf(refused.id), 30_000);
    const traceparent = letter.header.get('traceparent');
    expect(traceparent).toMatch(new RegExp(`^00-${TRACE}-[0-9a-f]{16}-01$`));
    expect(letter.header.get('Grace-Dead-Letter-Reason')).toBe('permanent_failure');
    const span = await waitFor('the dead letter span', async () => byId(traceparent!.split('-')[2]));
    expect(span).toMatchObject({ name: 'send dlq.error.reported', kind: SpanKind.PRODUCER });
    expect(span.attributes).toMatchObject({
      'messaging.system': 'nats',
      'messaging.operation.type': 'send',
      'messaging.destination.name': `${sandbox.namespace}.dlq.error.reported`,
      'grace.dead_letter.reason': 'permanent_failure',
      'cloudevents.event_id': refused.id,
    });
    const consumer = byId(parentOf(span))!;
    expect(consumer.kind).toBe(SpanKind.CONSUMER);
    expect(consumer.attributes['cloudevents.event_id']).toBe(refused.id);
    expect(consumer.status.code).toBe(SpanStatusCode.ERROR);

    // Refused before any handling (it breaks its contract): the child of the event's own traceparent.
    const invalid = { ...sampleReported(), id: 'invalid-traced', traceparent: `00-${TRACE}-${PARENT}-01` };
    delete (invalid.data as Partial<typeof invalid.data>).environment;
    await publishRaw(sandbox, 'error.reported', JSON.stringify(invalid));
    const early = await waitFor("the invalid event's dead letter", () => letterOf(invalid.id), 30_000);
    const earlySpan = await waitFor('its span', async () => byId(early.header.get('traceparent').split('-')[2]));
    expect(earlySpan.name).toBe('send dlq.error.reported');
    expect(earlySpan.spanContext().traceId).toBe(TRACE);
    expect(parentOf(earlySpan)).toBe(PARENT);
    expect(earlySpan.attributes['grace.dead_letter.reason']).toBe('invalid_event');
  });

  describe('tracedFetch: a CLIENT span per outgoing request', () => {
    let web: Awaited<ReturnType<typeof startWebServer>>;
    const clientSpan = (url: string) =>
      waitFor('the client span', async () =>
        spans().find((s) => s.kind === SpanKind.CLIENT && s.attributes['url.full'] === url),
      );
    beforeAll(async () => {
      web = await startWebServer();
    });
    afterAll(() => web.close());

    it("sends its traceparent with the caller's headers; method, redacted url, server, status", async () => {
      const parent = await withSpan('caller', {}, async () => {
        const res = await tracedFetch(`${web.url}/hook?token=s3cret&page=2#frag`, {
          headers: new Headers({ 'x-caller': 'kept', authorization: 'Bearer top-secret' }),
        });
        expect(res.status).toBe(200);
        return currentTraceparent()!;
      });
      const seen = web.seen.at(-1)!;
      expect(seen.headers['x-caller']).toBe('kept');
      expect(seen.headers.authorization).toBe('Bearer top-secret');
      const span = await clientSpan(`${web.url}/hook?token=REDACTED&page=REDACTED`);
      expect(seen.headers.traceparent).toBe(`00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`);
      expect(span.spanContext().traceId).toBe(parent.split('-')[1]);
      expect(parentOf(span)).toBe(parent.split('-')[2]);
      expect(span.name).toBe('GET');
      expect(span.attributes).toEqual({
        'http.request.method': 'GET',
        'url.full': `${web.url}/hook?token=REDACTED&page=REDACTED`,
        'server.address': '127.0.0.1',
        'server.port': web.port,
        'http.response.status_code': 200,
      });
      expect(span.status.code).toBe(SpanStatusCode.UNSET);
      expect(JSON.stringify([span.name, span.attributes, span.events, span.status])).not.toMatch(/s3cret|top-secret/);
    });

    it('keeps headers given as pairs, as a record, or on a Request', async () => {
      await tracedFetch(`${web.url}/pairs`, { method: 'post', body: '{}', headers: [['x-pair', 'a']] });
      await tracedFetch(`${web.url}/record`, { method: 'PUT', body: '{}', headers: { 'x-record': 'b' } });
      await tracedFetch(new Request(`${web.url}/request`, { method: 'DELETE', headers: { 'x-request': 'c' } }));
      const byPath = (path: string) => web.seen.find((s) => s.url === path)!.headers;
      expect(byPath('/pairs')).toMatchObject({ 'x-pair': 'a', traceparent: expect.stringMatching(/^00-/) });
      expect(byPath('/record')).toMatchObject({ 'x-record': 'b', traceparent: expect.stringMatching(/^00-/) });
      expect(byPath('/request')).toMatchObject({ 'x-request': 'c', traceparent: expect.stringMatching(/^00-/) });
      expect((await clientSpan(`${web.url}/pairs`)).name).toBe('POST');
      expect((await clientSpan(`${web.url}/record`)).name).toBe('PUT');
      expect((await clientSpan(`${web.url}/request`)).attributes['http.request.method']).toBe('DELETE');
    });

    it('is failed at 4xx and 5xx (error.type the status), not at 2xx or 3xx', async () => {
      expect((await tracedFetch(`${web.url}/status/500`)).status).toBe(500);
      expect((await tracedFetch(`${web.url}/status/404`)).status).toBe(404);
      expect((await tracedFetch(`${web.url}/status/204`)).status).toBe(204);
      const failed = await clientSpan(`${web.url}/status/500`);
      expect(failed.status.code).toBe(SpanStatusCode.ERROR);
      expect(failed.attributes).toMatchObject({ 'http.response.status_code': 500, 'error.type': '500' });
      const missing = await clientSpan(`${web.url}/status/404`);
      expect(missing.status.code).toBe(SpanStatusCode.ERROR);
      expect(missing.attributes).toMatchObject({ 'http.response.status_code': 404, 'error.type': '404' });
      const fine = await clientSpan(`${web.url}/status/204`);
      expect(fine.status.code).toBe(SpanStatusCode.UNSET);
      expect(fine.attributes['error.type']).toBeUndefined();
    });

    it('is failed when the fetch throws: a refused connection, a URL with credentials (never recorded)', async () => {
      const port = await closedPort();
      await expect(tracedFetch(`http://127.0.0.1:${port}/nobody`)).rejects.toThrow();
      const refused = await clientSpan(`http://127.0.0.1:${port}/nobody`);
      expect(refused.status.code).toBe(SpanStatusCode.ERROR);
      expect(refused.attributes['error.type']).toBe('ECONNREFUSED');
      expect(refused.attributes['http.response.status_code']).toBeUndefined();
      expect(refused.events.map((e) => e.name)).toEqual(['exception']);

      // fetch refuses a URL with credentials, quoting it: the span has neither the user nor the password.
      await expect(tracedFetch(`http://grace:pa55word@127.0.0.1:${web.port}/x`)).rejects.toThrow();
      const withCredentials = await clientSpan(`http://REDACTED:REDACTED@127.0.0.1:${web.port}/x`);
      expect(withCredentials.status.code).toBe(SpanStatusCode.ERROR);
      expect(JSON.stringify([withCredentials.attributes, withCredentials.events, withCredentials.status])).not.toMatch(
        /grace:|pa55word/,
      );
    });
  });

  it('tracedRequest: a CLIENT span, its traceparent in the request headers', async () => {
    const subject = `${sandbox.namespace}.remediation.demo.status`;
    const asked: { traceparent?: string }[] = [];
    const sub = sandbox.nc.subscribe(subject, {
      callback: (_err, msg) => {
        asked.push({ traceparent: msg.headers?.get('traceparent') });
        msg.respond(asked.length === 1 ? '{"state":{}}' : 'not json');
      },
    });
    try {
      const reply = await withSpan('caller', {}, () =>
        tracedRequest(sandbox.nc, subject, '{}', { timeout: 2_000, name: 'remediation.demo.status' }, (m) =>
          m.json<unknown>(),
        ),
      );
      expect(reply).toEqual({ state: {} });
      const span = await waitFor('the request span', async () => byId(asked[0]!.traceparent?.split('-')[2]));
      expect(span).toMatchObject({ name: 'remediation.demo.status', kind: SpanKind.CLIENT });
      expect(span.attributes['messaging.destination.name']).toBe(subject);
      expect(byId(parentOf(span))!.name).toBe('caller');
      expect(span.status.code).toBe(SpanStatusCode.UNSET);

      // What `read` throws (a reply that breaks the protocol) fails the span.
      await expect(
        tracedRequest(sandbox.nc, subject, '{}', { timeout: 2_000 }, (m) => m.json<unknown>()),
      ).rejects.toThrow();
      const bad = await waitFor('the failed span', async () => byId(asked[1]?.traceparent?.split('-')[2]));
      expect(bad.name).toBe(subject);
      expect(bad.status.code).toBe(SpanStatusCode.ERROR);
    } finally {
      sub.unsubscribe();
    }
    // Nobody answers: failed too.
    await expect(
      tracedRequest(sandbox.nc, `${sandbox.namespace}.remediation.nobody.status`, '{}', { timeout: 1_000 }),
    ).rejects.toThrow();
    const none = await waitFor('the unanswered span', async () =>
      spans().find((s) => s.name === `${sandbox.namespace}.remediation.nobody.status`),
    );
    expect(none.status.code).toBe(SpanStatusCode.ERROR);
  });

  it('every span the service made has its parent among them, or is a root of the trace it was handed', () => {
    const ids = new Set(spans().map((s) => s.spanContext().spanId));
    const dangling = spans().filter((s) => parentOf(s) && !ids.has(parentOf(s)!) && parentOf(s) !== PARENT);
    // Remote parents: the events published straight to the stream by the test itself.
    expect(dangling.filter((s) => s.kind !== SpanKind.CONSUMER).map((s) => s.name)).toEqual([]);
  });
});
