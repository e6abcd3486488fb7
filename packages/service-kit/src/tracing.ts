// OpenTelemetry traces: off unless an OTLP endpoint is set (OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT). Off, no SDK is loaded and every hook below is one check of a module variable;
// on, one tracer provider per process exports over OTLP/HTTP (protobuf) and the kit makes a span for each consumed
// event (CONSUMER, child of its `traceparent`), each publish and dead letter (PRODUCER: the event carries its
// context), each HTTP request served (SERVER) and sent through tracedFetch (CLIENT), each NATS request asked or
// answered (CLIENT, SERVER) and each Postgres statement (CLIENT, only inside another span). docs/service-kit.md,
// "Traces".
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type Span,
  type SpanContext,
  type Tracer,
} from '@opentelemetry/api';
import type { SpanExporter } from '@opentelemetry/sdk-trace-node';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';

/** Set while tracing is on: the process's tracer. Every hook checks it first. */
let tracer: Tracer | undefined;
let running: { provider: { shutdown(): Promise<void>; forceFlush(): Promise<void> }; refs: number } | undefined;
let testExporter: SpanExporter | undefined;

/**
 * Tests: the next provider exports each span as it ends to `exporter` (e.g. the SDK's InMemorySpanExporter)
 * instead of OTLP; the endpoint variables still decide whether tracing is on.
 */
export function exportSpansTo(exporter: SpanExporter | undefined): void {
  testExporter = exporter;
}

/** Whether this process exports traces (startTracing found an endpoint). */
export function tracingOn(): boolean {
  return tracer !== undefined;
}

export interface Tracing {
  /** Where spans go (the OTLP/HTTP traces URL). */
  readonly endpoint: string;
  /** The service.name spans carry. */
  readonly serviceName: string;
  /** Export what is buffered and stop (the last of a process's services stops the provider). */
  shutdown(): Promise<void>;
}

export interface TracingSettings {
  endpoint: string;
  headers: Record<string, string>;
  timeoutMillis?: number;
  serviceName: string;
  resourceAttributes: Record<string, string>;
  sampler: { name: string; arg?: number };
  warnings: string[];
}

const SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
];

/** `k=v,k2=v2` (W3C baggage form, values percent-encoded), as OTEL_EXPORTER_OTLP_HEADERS and OTEL_RESOURCE_ATTRIBUTES. */
function keyValues(text: string | undefined, warnings: string[], variable: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (text ?? '').split(',')) {
    if (!part.trim()) continue;
    const eq = part.indexOf('=');
    const key = eq > 0 ? part.slice(0, eq).trim() : '';
    if (!key) {
      warnings.push(`${variable}: "${part.trim()}" is not key=value; ignored`);
      continue;
    }
    try {
      out[key] = decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      out[key] = part.slice(eq + 1).trim();
    }
  }
  return out;
}

/**
 * What the standard OTEL_* variables ask for, or undefined when tracing is off: no endpoint, OTEL_SDK_DISABLED=true,
 * or OTEL_TRACES_EXPORTER=none. The service's name is the default service.name.
 */
export function tracingSettings(service: string, env: NodeJS.ProcessEnv): TracingSettings | undefined {
  const warnings: string[] = [];
  const value = (name: string) => {
    const v = env[name]?.trim();
    return v ? v : undefined;
  };
  if (value('OTEL_SDK_DISABLED')?.toLowerCase() === 'true') return undefined;
  const exporter = value('OTEL_TRACES_EXPORTER');
  if (exporter?.split(',').every((e) => e.trim() === 'none')) return undefined;
  const base = value('OTEL_EXPORTER_OTLP_ENDPOINT');
  const endpoint = value('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') ?? (base && `${base.replace(/\/+$/, '')}/v1/traces`);
  if (!endpoint) return undefined;
  if (exporter && !exporter.split(',').some((e) => e.trim() === 'otlp'))
    warnings.push(`OTEL_TRACES_EXPORTER=${exporter}: the kit exports OTLP only; exporting OTLP`);
  const protocol = value('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ?? value('OTEL_EXPORTER_OTLP_PROTOCOL');
  if (protocol && protocol !== 'http/protobuf')
    warnings.push(`OTLP protocol ${protocol} is not supported: the kit sends http/protobuf to ${endpoint}`);
  const timeout = Number(value('OTEL_EXPORTER_OTLP_TRACES_TIMEOUT') ?? value('OTEL_EXPORTER_OTLP_TIMEOUT'));
  const resourceAttributes = keyValues(value('OTEL_RESOURCE_ATTRIBUTES'), warnings, 'OTEL_RESOURCE_ATTRIBUTES');
  let samplerName = value('OTEL_TRACES_SAMPLER') ?? 'parentbased_always_on';
  if (!SAMPLERS.includes(samplerName)) {
    warnings.push(`OTEL_TRACES_SAMPLER=${samplerName} is not one of ${SAMPLERS.join(', ')}; parentbased_always_on`);
    samplerName = 'parentbased_always_on';
  }
  const arg = value('OTEL_TRACES_SAMPLER_ARG');
  const ratio = arg === undefined ? undefined : Number(arg);
  if (ratio !== undefined && !(ratio >= 0 && ratio <= 1))
    warnings.push(`OTEL_TRACES_SAMPLER_ARG=${arg} is not a ratio between 0 and 1; 1`);
  return {
    endpoint,
    headers: {
      ...keyValues(value('OTEL_EXPORTER_OTLP_HEADERS'), warnings, 'OTEL_EXPORTER_OTLP_HEADERS'),
      ...keyValues(value('OTEL_EXPORTER_OTLP_TRACES_HEADERS'), warnings, 'OTEL_EXPORTER_OTLP_TRACES_HEADERS'),
    },
    ...(timeout > 0 ? { timeoutMillis: timeout } : {}),
    serviceName: value('OTEL_SERVICE_NAME') ?? resourceAttributes['service.name'] ?? service,
    resourceAttributes,
    sampler: { name: samplerName, ...(ratio !== undefined && ratio >= 0 && ratio <= 1 ? { arg: ratio } : {}) },
    warnings,
  };
}

/**
 * Start exporting traces when the environment asks for it (tracingSettings); undefined when it does not, and then
 * nothing is loaded. One provider per process: a second service started in the same process shares it (and its
 * service.name). `warnings` are settings that were not taken as given.
 */
export async function startTracing(
  service: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ tracing?: Tracing; warnings: string[] }> {
  const settings = tracingSettings(service, env);
  if (!settings) return { warnings: [] };
  if (!running) {
    const [sdk, { OTLPTraceExporter }, { resourceFromAttributes }] = await Promise.all([
      import('@opentelemetry/sdk-trace-node'),
      import('@opentelemetry/exporter-trace-otlp-proto'),
      import('@opentelemetry/resources'),
    ]);
    const ratio = new sdk.TraceIdRatioBasedSampler(settings.sampler.arg ?? 1);
    const root = {
      always_on: new sdk.AlwaysOnSampler(),
      always_off: new sdk.AlwaysOffSampler(),
      traceidratio: ratio,
      parentbased_always_on: new sdk.ParentBasedSampler({ root: new sdk.AlwaysOnSampler() }),
      parentbased_always_off: new sdk.ParentBasedSampler({ root: new sdk.AlwaysOffSampler() }),
      parentbased_traceidratio: new sdk.ParentBasedSampler({ root: ratio }),
    }[settings.sampler.name as 'always_on'];
    const exporter = new OTLPTraceExporter({
      url: settings.endpoint,
      headers: settings.headers,
      ...(settings.timeoutMillis ? { timeoutMillis: settings.timeoutMillis } : {}),
    });
    const provider = new sdk.NodeTracerProvider({
      resource: resourceFromAttributes({
        ...settings.resourceAttributes,
        'service.name': settings.serviceName,
        'process.pid': process.pid,
        'process.runtime.name': 'nodejs',
        'process.runtime.version': process.versions.node,
      }),
      sampler: root,
      // OTEL_BSP_* (delay, queue and batch sizes) are read by the processor itself.
      spanProcessors: [testExporter ? new sdk.SimpleSpanProcessor(testExporter) : new sdk.BatchSpanProcessor(exporter)],
    });
    // The global context manager (AsyncLocalStorage) and W3C propagator; the tracer is the kit's own.
    provider.register();
    running = { provider, refs: 0 };
    tracer = provider.getTracer('@grace/service-kit');
  }
  running.refs++;
  let stopped = false;
  return {
    warnings: settings.warnings,
    tracing: {
      endpoint: settings.endpoint,
      serviceName: settings.serviceName,
      async shutdown() {
        if (stopped || !running) return;
        stopped = true;
        if (--running.refs > 0) return running.provider.forceFlush();
        const { provider } = running;
        running = undefined;
        tracer = undefined;
        await provider.shutdown().catch(() => undefined);
        trace.disable();
        context.disable();
        propagation.disable();
      },
    },
  };
}

// --- trace context: W3C traceparent in events, HTTP headers and NATS headers -----------------------------------

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The span context a W3C `traceparent` names (remote), or undefined for none or a malformed one. */
export function parseTraceparent(traceparent: string | undefined): SpanContext | undefined {
  const m = traceparent ? TRACEPARENT.exec(traceparent) : null;
  if (!m || m[1] === 'ff' || /^0+$/.test(m[2]!) || /^0+$/.test(m[3]!)) return undefined;
  return { traceId: m[2]!, spanId: m[3]!, traceFlags: parseInt(m[4]!, 16) & TraceFlags.SAMPLED, isRemote: true };
}

export function formatTraceparent(sc: SpanContext): string {
  return `00-${sc.traceId}-${sc.spanId}-${sc.traceFlags & TraceFlags.SAMPLED ? '01' : '00'}`;
}

/** A context whose parent is `traceparent` (none: a new trace). */
export function contextOf(traceparent: string | undefined): Context {
  const sc = parseTraceparent(traceparent);
  return sc ? trace.setSpanContext(ROOT_CONTEXT, sc) : ROOT_CONTEXT;
}

/** The `traceparent` of the active span when tracing is on; undefined when off or outside any span. */
export function currentTraceparent(): string | undefined {
  if (!tracer) return undefined;
  const span = trace.getSpan(context.active());
  return span ? formatTraceparent(span.spanContext()) : undefined;
}

/** Run `fn` with `span` active (its DB statements, requests and emits are its children); without one, just run it. */
export function inSpan<T>(span: Span | undefined, fn: () => T): T {
  return span ? context.with(trace.setSpan(context.active(), span), fn) : fn();
}

/** `fn` bound to the active context when tracing is on (it runs in it wherever it is called); off, `fn` itself. */
export function bindActive<F extends (...args: never[]) => unknown>(fn: F): F {
  return tracer ? context.bind(context.active(), fn) : fn;
}

/** Mark `span` failed with `err`. */
export function failSpan(span: Span | undefined, err: unknown): void {
  if (!span) return;
  const message = err instanceof Error ? err.message : String(err);
  span.recordException(err instanceof Error ? err : message);
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}

/** Trace ids for log lines (the logger's mixin while tracing is on): the active span's, or none. */
export function traceLogFields(): { trace_id?: string; span_id?: string } {
  const span = trace.getSpan(context.active());
  if (!span) return {};
  const sc = span.spanContext();
  return { trace_id: sc.traceId, span_id: sc.spanId };
}

/**
 * Run `fn` in an INTERNAL span named `name`, child of `parent` (a traceparent stored with the work, e.g. a row a
 * worker claimed) or of the active span; off, only runs `fn`. For a service's own work outside a handler; `kind:
 * 'server'` for a message it serves that the kit does not see (the gateway's WebSocket frames).
 */
export async function withSpan<T>(
  name: string,
  options: { parent?: string | null; attributes?: Attributes; kind?: 'internal' | 'server' },
  fn: () => Promise<T>,
): Promise<T> {
  if (!tracer) return fn();
  const parent = options.parent ? contextOf(options.parent) : context.active();
  const kind = options.kind === 'server' ? SpanKind.SERVER : SpanKind.INTERNAL;
  const span = tracer.startSpan(name, { kind, attributes: options.attributes ?? {} }, parent);
  try {
    return await context.with(trace.setSpan(parent, span), fn);
  } catch (err) {
    failSpan(span, err);
    throw err;
  } finally {
    span.end();
  }
}

// --- events: a CONSUMER span per handled event, a PRODUCER span per emitted or published one ------------------

interface EventLike {
  id: string;
  type: string;
  source: string;
  correlationid?: string;
  traceparent?: string;
}

const eventAttributes = (event: EventLike): Attributes => ({
  'messaging.system': 'nats',
  'messaging.message.id': event.id,
  'cloudevents.event_id': event.id,
  'cloudevents.event_type': event.type,
  'cloudevents.event_source': event.source,
  ...(event.correlationid ? { 'grace.correlation_id': event.correlationid } : {}),
});

/** The CONSUMER span of one event's handling, child of the event's traceparent (tracing must be on). */
export function startConsumerSpan(
  event: EventLike,
  where: { subject: string; consumer: string; stream: string; delivery: number },
): Span {
  return tracer!.startSpan(
    `process ${event.type}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        ...eventAttributes(event),
        'messaging.operation.type': 'process',
        'messaging.operation.name': 'process',
        'messaging.destination.name': where.subject,
        'messaging.consumer.group.name': where.consumer,
        'messaging.nats.stream': where.stream,
        'messaging.nats.delivery_count': where.delivery,
      },
    },
    contextOf(event.traceparent),
  );
}

/**
 * The span of a batch's shared work (one transaction for several events): a new trace linked to each event's span,
 * since it belongs to no single event's trace (each event's own span stays the child of its traceparent).
 */
export function startBatchSpan(label: string, consumer: string, events: readonly Span[]): Span {
  return tracer!.startSpan(
    `process ${label} batch`,
    {
      kind: SpanKind.CONSUMER,
      root: true,
      links: events.map((s) => ({ context: s.spanContext() })),
      attributes: {
        'messaging.system': 'nats',
        'messaging.operation.type': 'process',
        'messaging.operation.name': 'process',
        'messaging.consumer.group.name': consumer,
        'messaging.batch.message_count': events.length,
      },
    },
    ROOT_CONTEXT,
  );
}

/** A PRODUCER span (messaging send, over NATS) named `name`, child of `parent` (tracing must be on). */
function startProducerSpan(name: string, attributes: Attributes, parent: Context): Span {
  return tracer!.startSpan(
    name,
    {
      kind: SpanKind.PRODUCER,
      attributes: {
        'messaging.system': 'nats',
        ...attributes,
        'messaging.operation.type': 'send',
        'messaging.operation.name': 'send',
      },
    },
    parent,
  );
}

/** PRODUCER spans of events emitted and not yet published, ended by tracePublish once JetStream acks them. */
const producing = new WeakMap<object, Span>();

/**
 * Start the PRODUCER span of an event just built (tracing must be on) and make the event carry its context, so the
 * consumers' spans are its children. Its parent: `parent` (a traceparent the caller continues; the active span
 * instead when that is of the same trace), else the active span, else none (a new trace). The span ends when the
 * event is published (tracePublish).
 */
export function traceEmitted(event: EventLike, parent?: string | Context): void {
  const ctx = typeof parent === 'string' ? continuing(parent) : (parent ?? context.active());
  const span = startProducerSpan(`send ${event.type}`, eventAttributes(event), ctx);
  event.traceparent = formatTraceparent(span.spanContext());
  producing.set(event, span);
}

/**
 * The context that continues `traceparent`: the active span when it is of that trace (a worker's span, started
 * under the traceparent its row stored, is the closer parent), else `traceparent` itself.
 */
function continuing(traceparent: string): Context {
  const active = context.active();
  const span = trace.getSpan(active);
  const traceId = span?.spanContext().traceId;
  return traceId && traceparent.slice(3, 35) === traceId ? active : contextOf(traceparent);
}

/** The context a span is the parent in (for traceEmitted's `parent`). */
export function spanContextOf(span: Span): Context {
  return trace.setSpan(ROOT_CONTEXT, span);
}

/**
 * Publish `event` to `subject` and end its PRODUCER span when JetStream answers (failed if it does not). An event
 * this process did not emit here (one the outbox's sweep publishes for a process that stopped, a redelivery's
 * recorded output published again) gets a PRODUCER span of its own, child of the traceparent it carries (marked
 * `grace.republished`: its consumers stay children of the span that first sent it). Off: only publishes.
 */
export function tracePublish<T>(event: object, subject: string, publish: () => Promise<T>): Promise<T> {
  if (!tracer) return publish();
  let span = producing.get(event);
  if (span) producing.delete(event);
  else {
    const e = event as Partial<EventLike>;
    if (typeof e.id !== 'string' || typeof e.type !== 'string') return publish();
    span = startProducerSpan(
      `send ${e.type}`,
      { ...eventAttributes(e as EventLike), 'grace.republished': true },
      e.traceparent ? contextOf(e.traceparent) : context.active(),
    );
  }
  const sent = span;
  sent.setAttribute('messaging.destination.name', subject);
  return publish().then(
    (ack) => {
      sent.end();
      return ack;
    },
    (err: unknown) => {
      // The relay's retry publishes the same event (the same traceparent): its consumers are this span's children.
      failSpan(sent, err);
      sent.end();
      throw err;
    },
  );
}

/**
 * Publish a dead letter under a PRODUCER span while tracing is on (off: only `publish()`): named `send <name>`
 * (the dead-letter subject), child of the active span (the given-up event's CONSUMER span) or, outside one (an
 * event refused before its handling began), of the event's own traceparent. `publish` gets the span's traceparent
 * for the letter's headers; the span ends when JetStream answers (failed if it does not).
 */
export async function traceDeadLetter<T>(
  where: { name: string; destination: string; reason: string; event?: Partial<EventLike> },
  publish: (traceparent?: string) => Promise<T>,
): Promise<T> {
  if (!tracer) return publish();
  const active = context.active();
  const own = where.event?.traceparent;
  const parent = trace.getSpan(active) ? active : contextOf(typeof own === 'string' ? own : undefined);
  const id = where.event?.id;
  const span = startProducerSpan(
    `send ${where.name}`,
    {
      'messaging.destination.name': where.destination,
      'grace.dead_letter.reason': where.reason,
      ...(typeof id === 'string' ? { 'cloudevents.event_id': id } : {}),
    },
    parent,
  );
  try {
    return await publish(formatTraceparent(span.spanContext()));
  } catch (err) {
    failSpan(span, err);
    throw err;
  } finally {
    span.end();
  }
}

// --- Postgres: a CLIENT span per statement, only inside a span ---------------------------------------------------

const OPERATION = /^\s*([a-z]+)/i;
const COLLECTION =
  /^\s*(?:insert\s+into|update|delete\s+from|select\s[\s\S]*?\bfrom|with\s[\s\S]*?\bfrom)\s+"?([a-z_][a-z0-9_]*)"?/i;
const MAX_QUERY_TEXT = 2048;

/**
 * The CLIENT span of one statement, child of the active span; undefined outside any span (the relay's and the
 * workers' idle polls make no traces of their own) or when tracing is off.
 */
export function startStatementSpan(text: string, schema: string): Span | undefined {
  if (!tracer) return undefined;
  const parent = context.active();
  if (!trace.getSpan(parent)) return undefined;
  const operation = (OPERATION.exec(text)?.[1] ?? 'query').toUpperCase();
  const collection = COLLECTION.exec(text)?.[1];
  return tracer.startSpan(
    collection ? `${operation} ${collection}` : operation,
    {
      kind: SpanKind.CLIENT,
      attributes: {
        'db.system': 'postgresql',
        'db.system.name': 'postgresql',
        'db.namespace': schema,
        'db.operation.name': operation,
        ...(collection ? { 'db.collection.name': collection } : {}),
        // Statements carry placeholders ($1), never the values.
        'db.query.text': text.length > MAX_QUERY_TEXT ? `${text.slice(0, MAX_QUERY_TEXT)}…` : text,
      },
    },
    parent,
  );
}

/** End a statement's span when its result (a promise) settles. */
export function endStatementSpan(span: Span, result: unknown): void {
  if (result instanceof Promise)
    result.then(
      () => span.end(),
      (err: unknown) => {
        failSpan(span, err);
        span.end();
      },
    );
  else span.end();
}

// --- HTTP: a SERVER span per request served ----------------------------------------------------------------------

/**
 * Wrap a request listener so each request is a SERVER span, child of its `traceparent` header, active while the
 * listener (an express app too: its route names the span when the response is done) handles it.
 */
export function traceRequests(
  listener: RequestListener,
  port: () => number,
  ownPaths: ReadonlySet<string> = new Set(),
): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    if (!tracer) return listener(req, res);
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const header = req.headers.traceparent;
    const parent = contextOf(Array.isArray(header) ? header[0] : header);
    const span = tracer.startSpan(
      method,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': method,
          'url.path': path,
          'url.scheme': 'http',
          'server.port': port(),
          'network.protocol.version': req.httpVersion,
          ...(req.socket.remoteAddress ? { 'client.address': req.socket.remoteAddress } : {}),
          ...(req.headers['user-agent'] ? { 'user_agent.original': req.headers['user-agent'] } : {}),
        },
      },
      parent,
    );
    const ctx = trace.setSpan(parent, span);
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      // express leaves the matched route on the request (its mount path in baseUrl).
      const r = req as IncomingMessage & { route?: { path?: unknown }; baseUrl?: string };
      const route =
        typeof r.route?.path === 'string' ? `${r.baseUrl ?? ''}${r.route.path}` : ownPaths.has(path) ? path : undefined;
      if (route) {
        span.setAttribute('http.route', route);
        span.updateName(`${method} ${route}`);
      }
      span.setAttribute('http.response.status_code', res.statusCode);
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      if (!res.writableFinished) span.setAttribute('grace.http.aborted', true);
      span.end();
    };
    res.once('finish', end);
    res.once('close', end);
    // What the request's and the response's events call back (a body being read) runs in the span too.
    context.bind(ctx, req);
    context.bind(ctx, res);
    context.with(ctx, () => listener(req, res));
  };
}

// --- HTTP: a CLIENT span per request sent --------------------------------------------------------------------

const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

/** `url` fit for a span: userinfo and every query value replaced by REDACTED (they may be credentials), no fragment. */
export function redactUrl(url: URL): string {
  const safe = new URL(url.href);
  if (safe.username || safe.password) {
    safe.username = 'REDACTED';
    safe.password = 'REDACTED';
  }
  safe.hash = '';
  if (safe.search) {
    const keys = [...safe.searchParams.keys()];
    safe.search = keys.map((k) => `${encodeURIComponent(k)}=REDACTED`).join('&');
  }
  return safe.href;
}

/** What a Request-like input is, duck typed (a Request may come from another realm, e.g. jest's vm). */
function requestOf(input: unknown): { url: string; method: string; headers: Headers } | undefined {
  return typeof input === 'object' && input !== null && !(input instanceof URL) && 'headers' in input && 'url' in input
    ? (input as { url: string; method: string; headers: Headers })
    : undefined;
}

/** A low-cardinality name for why a fetch threw: the socket's code (ECONNREFUSED) or the error's name. */
function fetchErrorType(err: unknown): string {
  const { cause, name } = (err ?? {}) as { cause?: { code?: unknown }; name?: unknown };
  if (typeof cause?.code === 'string' && cause.code) return cause.code;
  return typeof name === 'string' && name ? name : '_OTHER';
}

/** The CLIENT span of one HTTP request being sent (startHttpClientSpan): its traceparent, and its end. */
export interface HttpClientSpan {
  /** The W3C traceparent to send in the request's headers. */
  readonly traceparent: string;
  /** End it with the response's status (failed at 4xx and 5xx) or with what the request threw (failed). */
  end(result: { status: number } | { error: unknown }): void;
}

/**
 * Start the CLIENT span of an HTTP request about to be sent, child of the active span; undefined when tracing is off
 * or `href` is no URL. It follows the OTel HTTP client conventions: named by the method; `http.request.method`,
 * `url.full` (userinfo and query values redacted), `server.address`, `server.port`, `http.response.status_code`;
 * failed, with `error.type`, at 4xx (the request did not do what it asked), 5xx or a throw. No header value or body
 * is recorded. For a client that is not `fetch` (tracedFetch is this around fetch), e.g. a generated API client's
 * middleware.
 */
export function startHttpClientSpan(given: string, href: string): HttpClientSpan | undefined {
  if (!tracer || !URL.canParse(href)) return undefined;
  const url = new URL(href);
  const method = HTTP_METHODS.has(given.toUpperCase()) ? given.toUpperCase() : '_OTHER';
  const full = redactUrl(url);
  const span = tracer.startSpan(
    method === '_OTHER' ? 'HTTP' : method,
    {
      kind: SpanKind.CLIENT,
      attributes: {
        'http.request.method': method,
        ...(method === '_OTHER' ? { 'http.request.method_original': given } : {}),
        'url.full': full,
        'server.address': url.hostname.replace(/^\[|\]$/g, ''),
        'server.port': Number(url.port) || (url.protocol === 'https:' ? 443 : 80),
      },
    },
    context.active(),
  );
  let ended = false;
  return {
    traceparent: formatTraceparent(span.spanContext()),
    end(result) {
      if (ended) return;
      ended = true;
      if ('status' in result) {
        span.setAttribute('http.response.status_code', result.status);
        if (result.status >= 400) {
          span.setAttribute('error.type', String(result.status));
          span.setStatus({ code: SpanStatusCode.ERROR });
        }
      } else {
        const err = result.error;
        span.setAttribute('error.type', fetchErrorType(err));
        // A client's messages may quote the URL (fetch refuses one with credentials with it): never as given.
        // Duck typed: the error may come from another realm (jest's vm).
        const { message: own, name } = (err ?? {}) as { message?: unknown; name?: unknown };
        const raw = typeof own === 'string' ? own : String(err);
        const message = [href, url.href].reduce((m, u) => m.split(u).join(full), raw);
        span.recordException({ name: typeof name === 'string' ? name : 'Error', message });
        span.setStatus({ code: SpanStatusCode.ERROR, message });
      }
      span.end();
    },
  };
}

/**
 * `fetch` with a CLIENT span while tracing is on (startHttpClientSpan; off: exactly `fetch(input, init)`). The span
 * ends when the response headers arrive (the body is the caller's) and its W3C `traceparent` goes in the request's
 * headers, next to the caller's.
 */
export function tracedFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  if (!tracer) return fetch(input, init);
  const request = requestOf(input);
  // The caller's headers in whatever form (Headers, pairs, a record; a Request's own when init has none), plus ours
  // below. Headers fetch would refuse: let it.
  let headers: Headers;
  try {
    headers = new Headers(init?.headers ?? request?.headers);
  } catch {
    return fetch(input, init);
  }
  // Not a URL fetch can send: let fetch say so, no span.
  const span = startHttpClientSpan(init?.method ?? request?.method ?? 'GET', request ? request.url : String(input));
  if (!span) return fetch(input, init);
  headers.set('traceparent', span.traceparent);
  return fetch(input, { ...init, headers }).then(
    (response) => {
      span.end({ status: response.status });
      return response;
    },
    (err: unknown) => {
      span.end({ error: err });
      throw err;
    },
  );
}

// --- NATS request-reply: a CLIENT span per request, a SERVER span per answer ----------------------------------

/**
 * The CLIENT span of a request sent (named `name`, to `destination`: by default the same); its traceparent goes in
 * the request's headers. Undefined when off.
 */
export function startRequestSpan(
  name: string,
  destination: string = name,
): { span: Span; traceparent: string } | undefined {
  if (!tracer) return undefined;
  const span = tracer.startSpan(
    name,
    {
      kind: SpanKind.CLIENT,
      attributes: { 'messaging.system': 'nats', 'rpc.system': 'nats', 'messaging.destination.name': destination },
    },
    context.active(),
  );
  return { span, traceparent: formatTraceparent(span.spanContext()) };
}

/** The SERVER span of a query answered, child of the request's `traceparent` header. Undefined when off. */
export function startAnswerSpan(subject: string, traceparent: string | undefined, service: string): Span | undefined {
  if (!tracer) return undefined;
  return tracer.startSpan(
    subject,
    {
      kind: SpanKind.SERVER,
      attributes: {
        'messaging.system': 'nats',
        'rpc.system': 'nats',
        'messaging.destination.name': subject,
        'messaging.consumer.group.name': service,
      },
    },
    contextOf(traceparent),
  );
}
