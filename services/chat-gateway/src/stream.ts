// The live stream (WebSocket /api/v1/stream): authenticated at the upgrade (subprotocol bearer.<token> or an
// Authorization header), origin checked, small frames, a per-socket chat rate; pushes Grace's incident, alert, approval,
// action and contract events as they happen, filtered by role, and carries chat both ways.
import { gateway, validateSchema, type GraceEvent } from '@grace/contracts';
import { eventLogger, withSpan, type Logger, type Naming } from '@grace/service-kit';
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { checkText } from './api/http.js';
import { AuthError, hasRole, type Principal, type Role } from './domain/auth.js';

export const STREAM_PATH = '/api/v1/stream';
const PROTOCOL = 'grace.v1';
const FRAME_SPAN = {
  kind: 'server',
  attributes: { 'url.path': STREAM_PATH, 'network.protocol.name': 'websocket' },
} as const;

/** Which events each role sees live. */
const VISIBLE: { prefix: string; roles: readonly Role[] }[] = [
  { prefix: 'incident.', roles: ['viewer', 'operator', 'approver', 'admin'] },
  { prefix: 'contract.', roles: ['viewer', 'operator', 'approver', 'admin'] },
  // alert.resolved: an Alertmanager alert of an incident's group stopped firing.
  { prefix: 'alert.', roles: ['viewer', 'operator', 'approver', 'admin'] },
  { prefix: 'action.', roles: ['operator', 'approver', 'admin'] },
  { prefix: 'approval.', roles: ['operator', 'approver', 'admin'] },
];

export interface StreamOptions {
  nc: NatsConnection;
  naming: Naming;
  log: Logger;
  verify: (token: string) => Promise<Principal>;
  chat: (principal: Principal, message: string, conversationId?: string) => Promise<gateway.ChatReply>;
  allowedOrigins: string[];
  maxPayload: number;
  chatPerTenSeconds: number;
}

interface Client {
  socket: WebSocket;
  principal: Principal;
  sentAt: number[];
}

function refuse(socket: Duplex, status: number, reason: string) {
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

export function startStream(options: StreamOptions) {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxPayload,
    handleProtocols: (protocols) => (protocols.has(PROTOCOL) ? PROTOCOL : false),
  });
  const clients = new Set<Client>();
  const send = (client: Client, message: gateway.WsServerMessage) => {
    if (client.socket.readyState === WebSocket.OPEN) client.socket.send(JSON.stringify(message));
  };

  const subscriptions: Subscription[] = VISIBLE.map(({ prefix, roles }) =>
    options.nc.subscribe(options.naming.subject(`${prefix}>`), {
      callback: (err, msg) => {
        if (err) return options.log.error({ err: err.message }, 'live stream subscription failed');
        let event: GraceEvent;
        try {
          event = msg.json<GraceEvent>();
        } catch {
          return;
        }
        const subject = options.naming.unprefix(msg.subject);
        const frame = JSON.stringify({ type: 'event', subject, event });
        let pushed = 0;
        for (const client of clients)
          if (hasRole(client.principal, roles) && client.socket.readyState === WebSocket.OPEN) {
            client.socket.send(frame);
            pushed++;
          }
        eventLogger(options.log, event).debug({ sockets: pushed }, 'event pushed to the live stream');
      },
    }),
  );

  async function onMessage(client: Client, data: Buffer) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(data.toString('utf8'));
    } catch {
      return send(client, { type: 'error', error: 'invalid_request', message: 'a frame is one JSON message' });
    }
    const checked = validateSchema<gateway.WsClientMessage>(gateway.WsClientMessage, parsed);
    if (!checked.ok) return send(client, { type: 'error', error: 'invalid_request', message: 'unknown message' });
    const message = checked.value;
    if (message.type === 'ping') return send(client, { type: 'pong' });
    if (!hasRole(client.principal, ['operator', 'admin']))
      return send(client, { type: 'error', error: 'forbidden', message: 'chat needs the operator role' });
    const now = Date.now();
    client.sentAt = client.sentAt.filter((t) => now - t < 10_000);
    if (client.sentAt.length >= options.chatPerTenSeconds)
      return send(client, { type: 'error', error: 'rate_limited', message: 'too many messages; wait a few seconds' });
    client.sentAt.push(now);
    try {
      checkText(message.message, 'the message', { plain: true });
    } catch (err) {
      return send(client, { type: 'error', error: 'invalid_request', message: (err as Error).message });
    }
    try {
      const reply = await options.chat(client.principal, message.message, message.conversation_id);
      send(client, { type: 'chat.reply', reply });
    } catch (err) {
      options.log.error({ err: (err as Error).message }, 'chat over the stream failed');
      send(client, { type: 'error', error: 'internal', message: 'the chat failed; try again' });
    }
  }

  /** The server's `upgrade` handler: only the stream path, only allowed origins, only valid tokens. */
  function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer) {
    const path = (req.url ?? '').split('?')[0];
    if (path !== STREAM_PATH) return refuse(socket, 404, 'Not Found');
    const origin = req.headers.origin;
    const host = req.headers.host;
    const sameOrigin = origin !== undefined && host !== undefined && new URL(origin).host === host;
    if (origin !== undefined && !sameOrigin && !options.allowedOrigins.includes(origin))
      return refuse(socket, 403, 'Forbidden');
    const offered = String(req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((p) => p.trim());
    const bearer = offered.find((p) => p.startsWith('bearer.'))?.slice('bearer.'.length);
    const header = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const token = bearer ?? header;
    if (!token) return refuse(socket, 401, 'Unauthorized');
    options
      .verify(token)
      .then((principal) => {
        wss.handleUpgrade(req, socket, head, (ws) => {
          const client: Client = { socket: ws, principal, sentAt: [] };
          clients.add(client);
          // Tracing on, each frame handled is a SERVER span (a trace of its own: frames carry no traceparent).
          ws.on(
            'message',
            (data: Buffer) => void withSpan('websocket message', FRAME_SPAN, () => onMessage(client, data)),
          );
          ws.on('close', () => clients.delete(client));
          ws.on('error', () => clients.delete(client));
        });
      })
      .catch((err: unknown) => {
        if (!(err instanceof AuthError)) options.log.error({ err: (err as Error).message }, 'stream auth failed');
        refuse(socket, 401, 'Unauthorized');
      });
  }

  return {
    upgrade,
    clients: () => clients.size,
    async stop() {
      for (const sub of subscriptions) sub.unsubscribe();
      for (const client of clients) client.socket.close(1001, 'server shutting down');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
