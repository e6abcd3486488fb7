// The grace command as a real process against a sandbox namespace, with the sentinel running in-process.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { GraceEvent } from '@grace/contracts';
import { startService, type RunningService } from '@grace/service-kit';
import {
  createSandbox,
  exited,
  publishRaw,
  readStream,
  sampleReported,
  spawnTs,
  waitFor,
  type Sandbox,
} from '@grace/service-kit/testing';
import jwt from 'jsonwebtoken';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { sentinel } from '../../../services/sentinel/src/service.js';
import { captured } from '../../../services/sentinel/test/support.js';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));

describe('grace cli', () => {
  let sandbox: Sandbox;
  let running: RunningService<unknown, unknown> | undefined;

  beforeAll(async () => {
    sandbox = await createSandbox('cli');
    running = (await startService(sentinel, sandbox.env)) as unknown as RunningService<unknown, unknown>;
  });

  afterAll(async () => {
    await running?.stop();
    await sandbox.cleanup();
  });

  async function grace(args: string[], env: NodeJS.ProcessEnv = {}) {
    const child = spawnTs(MAIN, args, { NATS_URL: sandbox.env.NATS_URL, GRACE_NAMESPACE: sandbox.namespace, ...env });
    const { code } = await exited(child);
    return { code, output: child.output() };
  }

  it('publishes a valid error.reported event to the reports stream and prints its id', async () => {
    const args = ['--service', 'checkout', '--environment', 'production', '--kind', 'ConnectionRefused'];
    const { code, output } = await grace(['publish-error', ...args, '--message', 'connect ECONNREFUSED']);
    expect(code).toBe(0);
    const id = output.trim();
    const stored = (await readStream(sandbox, 'GRACE_REPORTS')).find((m) => m.msgId === id);
    expect(stored?.subject).toBe(`${sandbox.namespace}.error.reported`);
    expect((stored?.data as GraceEvent<'error.reported'>).data).toMatchObject({ service: 'checkout', origin: 'cli' });
  });

  it('refuses an event that breaks the contract with exit 5 and the reason', async () => {
    const args = ['--service', 'checkout', '--environment', 'prod', '--kind', 'K', '--message', 'm'];
    const { code, output } = await grace(['publish-error', ...args, '--severity', 'fatal']);
    expect(code).toBe(5);
    expect(output).toMatch(/data\.severity: must be one of/);
  });

  it('casts an approver vote on the actions stream', async () => {
    const approvalId = randomUUID();
    const { code } = await grace(['reject', approvalId, '--as', 'grace-operator', '--comment', 'not now', '--json']);
    expect(code).toBe(0);
    const vote = (await readStream(sandbox, 'GRACE_ACTIONS'))
      .map((m) => m.data as GraceEvent<'approval.vote.cast'>)
      .find((e) => e.type === 'approval.vote.cast' && e.data.approval_id === approvalId);
    expect(vote?.data).toMatchObject({ voter_id: 'grace-operator', voter_roles: ['approver'], decision: 'reject' });
  });

  it('lists incidents as the sentinel answers them with --json', async () => {
    const capture = captured({ kind: 'ConnectionRefused', message: 'connect ECONNREFUSED' });
    await publishRaw(sandbox, 'error.captured', JSON.stringify(capture));
    const items = await waitFor('the incident in the CLI output', async () => {
      const { code, output } = await grace(['incidents', '--json', '--service', 'checkout', '--limit', '5']);
      expect(code).toBe(0);
      const reply = JSON.parse(output) as { items: { fingerprint: string }[] };
      return reply.items.some((i) => i.fingerprint === capture.data.fingerprint) ? reply.items : undefined;
    });
    expect(items.length).toBeGreaterThanOrEqual(1);
    const table = await grace(['incidents', '--open']);
    expect(table.code).toBe(0);
    expect(table.output).toMatch(/^ID\s+STATUS\s+SERVICE\/ENV\s+KIND\s+ATTEMPTS\s+OPENED/);
    expect(table.output).toContain('checkout/production');
  });

  it('exits 4 for an incident that does not exist', async () => {
    const { code, output } = await grace(['incident', randomUUID()]);
    expect(code).toBe(4);
    expect(output).toMatch(/no incident/);
  });

  it('exits 5 with the reason for a request that breaks the query contract', async () => {
    const { code, output } = await grace(['incidents', '--service', 'not a service!']);
    expect(code).toBe(5);
    expect(output).toMatch(/service: must match pattern/);
  });

  it('exits 3 and names the service to start when nobody answers', async () => {
    const { code, output } = await grace(['cube', 'mttr', '--since', '1d']);
    expect(code).toBe(3);
    expect(output).toMatch(/nobody answers .*cube\.query\.mttr: start cube-etl/);
  });

  it('exits 3 when NATS is not reachable', async () => {
    const { code, output } = await grace(['playbooks', '--nats', 'nats://127.0.0.1:1']);
    expect(code).toBe(3);
    expect(output).toMatch(/NATS is not reachable/);
  });

  it('lists dead letters newest first and replays one to its subject', async () => {
    const event = sampleReported({ kind: 'ReplayMe' });
    const letter = {
      reason: 'retries_exhausted',
      message: 'gave up',
      errors: [],
      subject: 'error.reported',
      service: 'trigger-mesh',
      consumer: 'trigger-mesh__error_reported',
      stream: 'GRACE_REPORTS',
      stream_sequence: 1,
      deliveries: 5,
      event_id: event.id,
      failed_at: new Date().toISOString(),
      event,
    };
    await publishRaw(sandbox, 'dlq.error.reported', JSON.stringify(letter), randomUUID());
    const list = await grace(['dlq', 'list', '--json']);
    expect(list.code).toBe(0);
    const [newest] = JSON.parse(list.output) as { seq: number; letter: { event_id: string } }[];
    expect(newest?.letter.event_id).toBe(event.id);
    const replay = await grace(['dlq', 'replay', String(newest!.seq)]);
    expect(replay.code).toBe(0);
    const replayed = (await readStream(sandbox, 'GRACE_REPORTS')).filter((m) => (m.data as GraceEvent).id === event.id);
    expect(replayed).toHaveLength(1);
    expect((await grace(['dlq', 'replay', '999999'])).code).toBe(4);
  });

  it('signs a token that verifies with the gateway settings', async () => {
    const { code, output } = await grace(['token', '--user', 'ada', '--role', 'approver,viewer', '--hours', '1'], {
      JWT_SECRET: 'test-secret',
    });
    expect(code).toBe(0);
    const payload = jwt.verify(output.trim(), 'test-secret', {
      algorithms: ['HS256'],
      issuer: 'grace',
      audience: 'grace',
    }) as jwt.JwtPayload;
    expect(payload).toMatchObject({ sub: 'ada', roles: ['approver', 'viewer'] });
  });

  it('exits 2 on a usage error', async () => {
    expect((await grace(['incidents', '--limit', 'many'])).code).toBe(2);
    expect((await grace(['cube', 'revenue'])).code).toBe(2);
    expect((await grace(['no-such-command'])).code).toBe(2);
    expect((await grace(['token', '--user', 'ada', '--role', 'viewer'], { JWT_SECRET: '' })).code).toBe(2);
  });
});
