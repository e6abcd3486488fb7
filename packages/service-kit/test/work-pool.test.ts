// The work pool on its own (claims from an in-memory queue): what an idle pool costs, and that a backlog or a
// wake reaches every worker without waiting for the poll.
import { describe, expect, it } from '@jest/globals';
import { createLogger, WorkPool } from '../src/index.js';

const log = createLogger('work-pool-test', 'silent');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Wait until `probe` holds (a positive signal, polled every 5 ms), failing after 5 s. */
async function until(what: string, probe: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function queuePool(options: { workers: number; pollMs: number; runMs: number }) {
  const queue: number[] = [];
  const done: number[] = [];
  let claims = 0;
  let busy = 0;
  let busiest = 0;
  const pool = new WorkPool<number>({
    workers: options.workers,
    pollMs: options.pollMs,
    claim: async () => {
      claims++;
      return queue.shift();
    },
    run: async (item) => {
      busy++;
      busiest = Math.max(busiest, busy);
      await sleep(options.runMs);
      busy--;
      done.push(item);
    },
    log,
  });
  return { pool, queue, done, claims: () => claims, running: () => busy, busiest: () => busiest };
}

describe('WorkPool', () => {
  it('polls once per interval when idle, whatever the number of workers', async () => {
    const p = queuePool({ workers: 8, pollMs: 100, runMs: 0 });
    const started = Date.now();
    p.pool.start();
    // The window is the subject: how many claims an idle pool makes in about ten poll intervals.
    await sleep(1_050);
    await p.pool.stop();
    const intervals = Math.ceil((Date.now() - started) / 100);
    // Each worker claims once at start; after that at most one claim per 100 ms (8 polling workers: ~8 each).
    expect(p.claims() - 8).toBeGreaterThanOrEqual(1);
    expect(p.claims() - 8).toBeLessThanOrEqual(intervals + 1);
  });

  it('fills every worker from a backlog found by one poll, and runs each item once', async () => {
    const p = queuePool({ workers: 4, pollMs: 200, runMs: 300 });
    p.pool.start();
    // Every worker has looked once and found nothing: the backlog comes after.
    await until('the first claim of each worker', () => p.claims() >= 4);
    p.queue.push(...Array.from({ length: 12 }, (_, i) => i));
    // Nobody wakes the pool: the poller finds the backlog and each claim wakes the next idle worker.
    const started = Date.now();
    while (p.done.length < 12 && Date.now() - started < 10_000) await sleep(20);
    await p.pool.stop();
    expect([...p.done].sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(p.busiest()).toBe(4);
  });

  it('runs woken work at once, not at the next poll', async () => {
    const p = queuePool({ workers: 3, pollMs: 60_000, runMs: 0 });
    p.pool.start();
    await until('the first claim of each worker', () => p.claims() >= 3);
    p.queue.push(1, 2);
    p.pool.wake();
    const started = Date.now();
    while (p.done.length < 2 && Date.now() - started < 5_000) await sleep(10);
    await p.pool.stop();
    expect(p.done.sort()).toEqual([1, 2]);
    // Woken while every worker was busy: the next one to finish looks before it waits.
    const q = queuePool({ workers: 1, pollMs: 60_000, runMs: 200 });
    q.pool.start();
    q.queue.push(1);
    q.pool.wake();
    await until('the worker running item 1', () => q.running() === 1);
    q.queue.push(2);
    q.pool.wake();
    const t = Date.now();
    while (q.done.length < 2 && Date.now() - t < 5_000) await sleep(10);
    await q.pool.stop();
    expect(q.done).toEqual([1, 2]);
  });

  it('with claimMany, claims a burst for every idle worker in one call and runs each item once', async () => {
    const queue: number[] = [];
    const done: number[] = [];
    const claimed: number[] = [];
    let claimCalls = 0;
    let busy = 0;
    let busiest = 0;
    const pool = new WorkPool<number>({
      workers: 4,
      pollMs: 60_000,
      claim: async () => {
        throw new Error('claim is not used when claimMany is given');
      },
      claimMany: async (max) => {
        claimCalls++;
        const items = queue.splice(0, max);
        if (items.length > 0) claimed.push(items.length);
        return items;
      },
      run: async (item) => {
        busy++;
        busiest = Math.max(busiest, busy);
        await sleep(50);
        busy--;
        done.push(item);
      },
      log,
    });
    pool.start();
    // The start-up claim has been made and found nothing: each burst comes to idle workers.
    await until('the start-up claim', () => claimCalls >= 1);
    for (let burst = 0; burst < 3; burst++) {
      queue.push(...[0, 1, 2, 3].map((i) => burst * 4 + i));
      pool.wake();
      const started = Date.now();
      while (done.length < (burst + 1) * 4 && Date.now() - started < 5_000) await sleep(10);
    }
    await pool.stop();
    expect([...done].sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(busiest).toBe(4);
    // Each burst of four reached the four idle workers through one claim (one claim per item would make 12).
    expect(claimed).toEqual([4, 4, 4]);
  });

  it('runs work woken while a claim is in flight, which that claim did not see, without waiting for the poll', async () => {
    // A claim sees what was committed when its statement ran: the item below is committed (pushed) and woken for
    // after that, while the claim is still in flight. The worker woken joins that claim, which brings nothing;
    // it must look again rather than wait for the poll (60 s here).
    const queue: number[] = [];
    const done: number[] = [];
    let claimCalls = 0;
    let inFlight: (() => void) | undefined;
    const pool = new WorkPool<number>({
      workers: 2,
      pollMs: 60_000,
      claim: async () => undefined,
      claimMany: async (max) => {
        claimCalls++;
        const seen = queue.splice(0, max);
        await new Promise<void>((resolve) => {
          inFlight = resolve;
          setTimeout(resolve, 100);
        });
        inFlight = undefined;
        return seen;
      },
      run: async (item) => {
        done.push(item);
      },
      log,
    });
    pool.start();
    await until('the start-up claim in flight', () => inFlight !== undefined);
    queue.push(1);
    pool.wake();
    await until('item 1 run', () => done.length === 1);
    // The same with the wake arriving while a claim that a worker woken earlier makes is in flight.
    await until('the claims settled', () => inFlight === undefined);
    await sleep(20);
    pool.wake();
    await until('a claim in flight', () => inFlight !== undefined);
    queue.push(2);
    pool.wake();
    await until('item 2 run', () => done.length === 2);
    // Stopped while a claim is in flight: its worker ends when it returns, not at the next poll.
    const stopping = Date.now();
    await pool.stop();
    expect(Date.now() - stopping).toBeLessThan(1_000);
    expect(done).toEqual([1, 2]);
    expect(claimCalls).toBeLessThanOrEqual(6);
  });

  it('promises a worker only while one is free (busy, queued and promised count), and runs what is handed', async () => {
    const p = queuePool({ workers: 2, pollMs: 10_000, runMs: 200 });
    expect(p.pool.reserve()).toBe(false); // not started
    p.pool.start();
    expect(p.pool.reserve()).toBe(true);
    expect(p.pool.reserve()).toBe(true);
    expect(p.pool.reserve()).toBe(false); // both promised
    p.pool.hand([1, 2]);
    await until('both handed items running', () => p.running() === 2);
    expect(p.pool.reserve()).toBe(false); // both busy
    await until('both done', () => p.done.length === 2);
    await until('the workers free again', () => p.running() === 0);
    expect(p.pool.reserve()).toBe(true);
    expect(p.done.sort()).toEqual([1, 2]);
    await p.pool.stop();
  });
});
