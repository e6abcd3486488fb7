// The side server of every service: /healthz, /readyz, /metrics, and the service's own routes if it has any.
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { traceRequests, tracingOn } from './tracing.js';

/** Takes over an HTTP upgrade (a WebSocket); it must answer or destroy the socket. */
export type UpgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

export interface ReadinessCheck {
  name: string;
  check: () => Promise<boolean>;
}

export interface SideServerOptions {
  host: string;
  port: number;
  readiness: ReadinessCheck[];
  metrics: () => Promise<{ contentType: string; body: string }>;
  /** The service's own HTTP routes (e.g. an express app); the kit's paths take precedence. */
  routes?: RequestListener;
  /** The service's WebSocket endpoint; without one, upgrades are refused. */
  upgrade?: UpgradeListener;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

async function runChecks(checks: ReadinessCheck[]): Promise<Record<string, boolean>> {
  const results = await Promise.all(
    checks.map(async (c) => {
      try {
        return [c.name, await c.check()] as const;
      } catch {
        return [c.name, false] as const;
      }
    }),
  );
  return Object.fromEntries(results);
}

/** The side server's own paths (span names when tracing is on). */
const OWN_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

export async function startSideServer(opts: SideServerOptions): Promise<{ server: Server; port: number }> {
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (req.method === 'GET' && path === '/readyz') {
      void runChecks(opts.readiness).then((checks) => {
        const ready = Object.values(checks).every(Boolean);
        sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', checks });
      });
      return;
    }
    if (req.method === 'GET' && path === '/metrics') {
      void opts
        .metrics()
        .then(({ contentType, body }) => {
          res.writeHead(200, { 'content-type': contentType });
          res.end(body);
        })
        .catch((err: unknown) => sendJson(res, 500, { error: String(err) }));
      return;
    }
    if (opts.routes) return opts.routes(req, res);
    sendJson(res, 404, { error: 'not_found', message: `no route for ${req.method} ${path}` });
  };
  // Tracing on: every request a SERVER span (the service's routes too); off, the handler as it is.
  const server: Server = createServer(
    tracingOn() ? traceRequests(handle, () => (server.address() as AddressInfo | null)?.port ?? 0, OWN_PATHS) : handle,
  );
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (opts.upgrade) return opts.upgrade(req, socket, head);
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
  });
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return { server, port: (server.address() as AddressInfo).port };
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    // Connections still busy after the grace period are cut, so shutdown is bounded.
    setTimeout(() => server.closeAllConnections(), 2_000).unref();
  });
}
