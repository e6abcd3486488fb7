import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { QueryReply } from '@grace/contracts';
import { QueryError, RequestFailedError, startService, type RunningService } from '../src/index.js';
import { createSandbox, type Sandbox } from './support.js';

// A stand-in owner of executor.control.*: the real executor comes later; the protocol is the kit's.
const state: QueryReply<'executor.control.status'> = {
  paused: false,
  held_actions: 0,
  open_contracts: 0,
  dry_run: false,
};

describe('request-reply', () => {
  let sandbox: Sandbox;
  let owner: RunningService<unknown, unknown>;
  let asker: RunningService<unknown, unknown>;

  beforeAll(async () => {
    sandbox = await createSandbox('queries', { REQUEST_TIMEOUT_MS: '300' });
    owner = (await startService(
      {
        name: 'owner',
        migrations: {},
        setup: () => ({
          queries: {
            'executor.control.status': async () => state,
            'executor.control.pause': async (req) => {
              if (req.by === 'nobody') throw new QueryError('forbidden', 'nobody may pause');
              if (req.by === 'slow') await new Promise((r) => setTimeout(r, 1_000).unref());
              if (req.by === 'liar') return { paused: 'yes' } as never;
              if (req.by === 'crash') throw new Error('database exploded');
              return { ...state, paused: true, paused_by: req.by, reason: req.reason };
            },
          },
        }),
      },
      sandbox.env,
    )) as RunningService<unknown, unknown>;
    asker = (await startService(
      { name: 'asker', migrations: {} },
      { ...sandbox.env, DB_SCHEMA: `${sandbox.schema}_a` },
    )) as RunningService<unknown, unknown>;
  });

  afterAll(async () => {
    await asker?.stop();
    await owner?.stop();
    await sandbox.pool.query(`drop schema if exists "${sandbox.schema}_a" cascade`);
    await sandbox.cleanup();
  });

  const failure = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (err) {
      return err as RequestFailedError;
    }
    throw new Error('expected the request to fail');
  };

  it('answers a valid request with a reply checked against the contract', async () => {
    await expect(
      asker.runtime.request('executor.control.pause', { by: 'alice', reason: 'maintenance' }),
    ).resolves.toEqual({
      ...state,
      paused: true,
      paused_by: 'alice',
      reason: 'maintenance',
    });
    await expect(asker.runtime.request('executor.control.status', {})).resolves.toEqual(state);
  });

  it('refuses a request that breaks the contract before sending it', async () => {
    const err = await failure(asker.runtime.request('executor.control.pause', { by: 'alice' } as never));
    expect(err).toBeInstanceOf(RequestFailedError);
    expect(err.code).toBe('invalid_request');
    expect(err.details).toEqual([{ path: 'reason', message: 'is required' }]);
  });

  it('answers a malformed request on the wire with invalid_request and the paths', async () => {
    const msg = await sandbox.nc.request(`${sandbox.namespace}.executor.control.pause`, JSON.stringify({ by: 7 }), {
      timeout: 2_000,
    });
    expect(msg.json()).toEqual({
      ok: false,
      error: {
        code: 'invalid_request',
        message: 'request breaks the executor.control.pause contract',
        details: expect.arrayContaining([
          { path: 'by', message: 'must be string' },
          { path: 'reason', message: 'is required' },
        ]),
      },
    });
    const notJson = await sandbox.nc.request(`${sandbox.namespace}.executor.control.pause`, '{oops', {
      timeout: 2_000,
    });
    expect(notJson.json()).toMatchObject({
      ok: false,
      error: { code: 'invalid_request', message: expect.stringMatching(/^request is not JSON/) },
    });
  });

  it('passes on typed errors, and hides internal ones behind a pointer to the log', async () => {
    expect(await failure(asker.runtime.request('executor.control.pause', { by: 'nobody', reason: 'x' }))).toMatchObject(
      {
        code: 'forbidden',
        message: 'executor.control.pause: nobody may pause',
      },
    );
    expect(await failure(asker.runtime.request('executor.control.pause', { by: 'crash', reason: 'x' }))).toMatchObject({
      code: 'internal',
      message: "executor.control.pause: internal error answering executor.control.pause; see the responder's log",
    });
    expect(await failure(asker.runtime.request('executor.control.pause', { by: 'liar', reason: 'x' }))).toMatchObject({
      code: 'internal',
      message: expect.stringContaining('reply broke its contract'),
    });
  });

  it('bounds every request in time, on both sides', async () => {
    const err = await failure(
      asker.runtime.request('executor.control.pause', { by: 'slow', reason: 'x' }, { timeoutMs: 2_000 }),
    );
    expect(err.code).toBe('timeout');
    expect(err.message).toBe('executor.control.pause: query executor.control.pause did not finish within 300 ms');
    const asked = await failure(
      asker.runtime.request('executor.control.pause', { by: 'slow', reason: 'x' }, { timeoutMs: 100 }),
    );
    expect(asked.code).toBe('timeout');
    expect(asked.message).toBe('executor.control.pause: no reply within 100 ms');
  });

  it('says so when nobody answers', async () => {
    const err = await failure(asker.runtime.request('verifier.query.baselines', {} as never));
    expect(['unavailable', 'invalid_request']).toContain(err.code);
    const none = await failure(asker.runtime.request('executor.control.resume', { by: 'alice' }));
    expect(none.code).toBe('unavailable');
    expect(none.message).toBe('executor.control.resume: no service is answering; is its owner running?');
  });
});
