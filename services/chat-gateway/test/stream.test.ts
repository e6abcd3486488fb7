import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createEvent, eventExamples, type gateway } from '@grace/contracts';
import { publishRaw } from '@grace/service-kit/testing';
import { randomUUID } from 'node:crypto';
import { WebSocket } from 'ws';
import { startGatewaySystem, type GatewaySystem } from './support.js';

function open(url: string, protocols: string[], origin?: string) {
  return new Promise<{ socket: WebSocket; frames: gateway.WsServerMessage[] }>((resolve, reject) => {
    const socket = new WebSocket(url, protocols, origin ? { origin } : {});
    const frames: gateway.WsServerMessage[] = [];
    socket.on('message', (data: Buffer) => frames.push(JSON.parse(data.toString('utf8')) as gateway.WsServerMessage));
    socket.once('open', () => resolve({ socket, frames }));
    socket.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    socket.once('error', reject);
  });
}

const until = async <T>(probe: () => T | undefined, what: string): Promise<T> => {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('gateway live stream', () => {
  let system: GatewaySystem;
  let url: string;
  const sockets: WebSocket[] = [];

  beforeAll(async () => {
    system = await startGatewaySystem('gwstream', { WS_MESSAGES_PER_10S: '3' }, []);
    url = `${system.url.replace('http', 'ws')}/api/v1/stream`;
  }, 60_000);

  afterAll(async () => {
    for (const s of sockets) s.terminate();
    await system?.stop();
  });

  const connect = async (roles: Parameters<GatewaySystem['token']>[0]) => {
    const client = await open(url, ['grace.v1', `bearer.${system.token(roles)}`]);
    sockets.push(client.socket);
    return client;
  };

  it('refuses an upgrade without a valid token or from a foreign origin', async () => {
    await expect(open(url, ['grace.v1'])).rejects.toThrow('HTTP 401');
    await expect(open(url, ['grace.v1', 'bearer.not-a-token'])).rejects.toThrow('HTTP 401');
    await expect(open(url, ['grace.v1', `bearer.${system.token(['viewer'])}`], 'https://evil.example')).rejects.toThrow(
      'HTTP 403',
    );
    const wrongPath = `${system.url.replace('http', 'ws')}/api/v1/other`;
    await expect(open(wrongPath, ['grace.v1', `bearer.${system.token(['viewer'])}`])).rejects.toThrow('HTTP 404');
  });

  it('pushes live events filtered by role', async () => {
    const viewer = await connect(['viewer']);
    const approver = await connect(['approver']);
    const incident = createEvent(
      'incident.escalated',
      {
        incident_id: randomUUID(),
        fingerprint: 'fp-1',
        signature: 'database:timeout',
        service: 'checkout',
        environment: 'production',
        kind: 'Timeout',
        severity: 'error',
        status: 'escalated',
        previous_status: 'verifying',
        reason: 'out of playbooks',
        attempts: 3,
        occurrences: 4,
        opened_at: new Date().toISOString(),
        changed_at: new Date().toISOString(),
        trail: [],
      },
      { source: 'test' },
    );
    const approval = createEvent(
      'approval.expired',
      {
        approval_id: randomUUID(),
        contract_id: randomUUID(),
        action_id: randomUUID(),
        quorum: { required: 2, role: 'approver' },
        votes: [],
        expires_at: new Date().toISOString(),
      },
      { source: 'test' },
    );
    const resolved = createEvent('alert.resolved', eventExamples['alert.resolved'], { source: 'test' });
    await publishRaw(system.sandbox, incident.type, JSON.stringify(incident));
    await publishRaw(system.sandbox, approval.type, JSON.stringify(approval));
    await publishRaw(system.sandbox, resolved.type, JSON.stringify(resolved));
    const seen = (frames: gateway.WsServerMessage[], subject: string) =>
      frames.find((f) => f.type === 'event' && f.subject === subject);
    await until(() => seen(approver.frames, 'approval.expired'), 'the approval event');
    await until(() => seen(viewer.frames, 'incident.escalated'), 'the incident event');
    expect(seen(approver.frames, 'incident.escalated')).toMatchObject({ event: { id: incident.id } });
    await until(() => seen(viewer.frames, 'alert.resolved'), 'the alert event');
    expect(seen(approver.frames, 'alert.resolved')).toMatchObject({ event: { id: resolved.id } });
    expect(seen(viewer.frames, 'approval.expired')).toBeUndefined();
  });

  it('chats both ways, refuses chat to a viewer, and limits the pace per socket', async () => {
    const operator = await connect(['operator']);
    operator.socket.send(JSON.stringify({ type: 'chat', message: 'help' }));
    const reply = await until(() => operator.frames.find((f) => f.type === 'chat.reply'), 'the chat reply');
    expect(reply).toMatchObject({ type: 'chat.reply', reply: { intent: 'help', source: 'engine' } });
    for (let i = 0; i < 3; i++) operator.socket.send(JSON.stringify({ type: 'chat', message: 'help' }));
    await until(() => operator.frames.find((f) => f.type === 'error' && f.error === 'rate_limited'), 'the rate limit');
    const viewer = await connect(['viewer']);
    viewer.socket.send(JSON.stringify({ type: 'chat', message: 'status' }));
    expect(await until(() => viewer.frames.find((f) => f.type === 'error'), 'the refusal')).toMatchObject({
      error: 'forbidden',
    });
    viewer.socket.send('not json');
    viewer.socket.send(JSON.stringify({ type: 'ping' }));
    await until(() => viewer.frames.find((f) => f.type === 'pong'), 'the pong');
  });

  it('closes a socket that sends a frame over the size limit', async () => {
    const client = await connect(['operator']);
    const closed = new Promise<number>((resolve) => client.socket.once('close', (code) => resolve(code)));
    client.socket.send(JSON.stringify({ type: 'chat', message: 'x'.repeat(20_000) }));
    expect(await closed).toBe(1009);
  });
});
