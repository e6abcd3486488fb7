// Load script (not a test): 200 WebSocket users receive live events while 20 of them chat. Starts the gateway in
// its own process on a sandbox, publishes incident events at a set rate, and prints delivered events, p99 push
// latency and p99 chat reply time as JSON. Usage: pnpm --filter @grace/chat-gateway bench [users] [chatters] [events/s]
import { createEvent } from '@grace/contracts';
import { createSandbox, latencySummary, spawnTs, waitFor } from '@grace/service-kit/testing';
import { jetstream } from '@nats-io/jetstream';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { issueToken } from '../src/domain/auth.js';

const USERS = Number(process.argv[2] ?? 200);
const CHATTERS = Number(process.argv[3] ?? 20);
const EVENTS_PER_SECOND = Number(process.argv[4] ?? 50);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const SECRET = 'bench-secret-long-enough-for-hs256-tokens';

const sandbox = await createSandbox('gwbench', {
  JWT_SECRET: SECRET,
  LOG_LEVEL: 'warn',
  RATE_LIMIT_USER_PER_MINUTE: '100000',
  RATE_LIMIT_IP_PER_MINUTE: '100000',
  WS_MESSAGES_PER_10S: '1000',
});
const gateway = spawnTs(fileURLToPath(new URL('../src/main.ts', import.meta.url)), [], {
  ...sandbox.env,
  LOG_LEVEL: 'info',
});
try {
  const port = await waitFor(
    'the gateway',
    async () => {
      const line = gateway
        .output()
        .split('\n')
        .find((l) => l.includes('"msg":"chat-gateway started"'));
      return line ? (JSON.parse(line) as { http_port: number }).http_port : undefined;
    },
    60_000,
  );
  const url = `ws://127.0.0.1:${port}/api/v1/stream`;
  const pushLatency: number[] = [];
  const chatLatency: number[] = [];
  let delivered = 0;
  let chatErrors = 0;
  const sockets = await Promise.all(
    Array.from(
      { length: USERS },
      (_, i) =>
        new Promise<WebSocket>((resolve, reject) => {
          const roles = i < CHATTERS ? (['operator'] as const) : (['viewer'] as const);
          const token = issueToken({ secret: SECRET, subject: `user-${i}`, roles: [...roles] });
          const socket = new WebSocket(url, ['grace.v1', `bearer.${token}`]);
          const sentAt: number[] = [];
          socket.on('message', (data: Buffer) => {
            const frame = JSON.parse(data.toString('utf8')) as {
              type: string;
              event?: { data: { changed_at: string } };
            };
            if (frame.type === 'event' && frame.event) {
              delivered += 1;
              pushLatency.push(Date.now() - Date.parse(frame.event.data.changed_at));
            } else if (frame.type === 'chat.reply') {
              const sent = sentAt.shift();
              if (sent !== undefined) chatLatency.push(Date.now() - sent);
            } else if (frame.type === 'error') {
              sentAt.shift();
              chatErrors += 1;
            }
          });
          socket.once('open', () => {
            if (i < CHATTERS) {
              const timer = setInterval(() => {
                if (socket.readyState !== WebSocket.OPEN) return clearInterval(timer);
                sentAt.push(Date.now());
                socket.send(JSON.stringify({ type: 'chat', message: 'help' }));
              }, 1_000);
              socket.once('close', () => clearInterval(timer));
            }
            resolve(socket);
          });
          socket.once('error', reject);
        }),
    ),
  );

  const js = jetstream(sandbox.nc);
  let offered = 0;
  const started = Date.now();
  while (Date.now() - started < SECONDS * 1_000) {
    const tick = Date.now();
    for (let n = 0; n < EVENTS_PER_SECOND / 10; n++) {
      const now = new Date().toISOString();
      const event = createEvent(
        'incident.updated',
        {
          incident_id: randomUUID(),
          fingerprint: 'fp-bench',
          signature: 'bench:load',
          service: 'bench',
          environment: 'production',
          kind: 'Load',
          severity: 'warning',
          status: 'remediating',
          previous_status: 'triaged',
          reason: 'benchmark',
          attempts: 1,
          occurrences: 1,
          opened_at: now,
          changed_at: now,
        },
        { source: 'bench' },
      );
      await js.publish(`${sandbox.namespace}.incident.updated`, JSON.stringify(event), { msgID: event.id });
      offered += 1;
    }
    await new Promise((r) => setTimeout(r, Math.max(0, 100 - (Date.now() - tick))));
  }
  await new Promise((r) => setTimeout(r, 1_000));
  for (const socket of sockets) socket.close();
  console.log(
    JSON.stringify(
      {
        users: USERS,
        chatters: CHATTERS,
        seconds: SECONDS,
        events_offered: offered,
        events_expected: offered * USERS,
        events_delivered: delivered,
        push_latency_ms: latencySummary(pushLatency),
        chat_replies: chatLatency.length,
        chat_errors: chatErrors,
        chat_reply_ms: latencySummary(chatLatency),
      },
      null,
      2,
    ),
  );
} finally {
  gateway.kill('SIGTERM');
  await sandbox.cleanup();
}
