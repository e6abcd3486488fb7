// A pool of workers that claim durable work from the service's own tables (work that outlives a message: an
// action to run, a verification that is due) and run it, woken in process when new work is committed and
// polling for the rest (work left by another replica, or due later).
import { errorMessage } from './errors.js';
import type { Logger } from './logger.js';

export interface WorkPoolOptions<T> {
  /** How many items run at once in this instance. */
  workers: number;
  /** How often an idle worker looks for work nobody woke it for. */
  pollMs: number;
  /** Claim one item (e.g. `FOR UPDATE SKIP LOCKED` with a lease), or undefined when there is none. */
  claim: () => Promise<T | undefined>;
  /**
   * Claim up to `max` items in one statement (instead of `claim`): a worker that finds work claims for every
   * free worker at once, and hands the rest to them, so a burst costs one claim, not one per item.
   */
  claimMany?: (max: number) => Promise<T[]>;
  /** Run one claimed item; a throw is logged and the item's lease lets it be claimed again later. */
  run: (item: T) => Promise<void>;
  log: Logger;
  /** Called with +1 when a worker starts an item and -1 when it ends (a busy-workers gauge). */
  onBusy?: (change: 1 | -1) => void;
}

const RESERVATION_MS = 10_000;

/**
 * Idle workers wait to be woken; only one of them at a time also polls on the `pollMs` timer, so an idle pool
 * costs one claim per `pollMs` however many workers it has. A worker that claimed an item wakes the next
 * idle one, so a backlog fills every worker one claim after another, and a wake finds work for one worker.
 */
export class WorkPool<T> {
  private running = false;
  private loops: Promise<void>[] = [];
  private waiting: (() => void)[] = [];
  private pendingWake = false;
  private polling = false;
  /** Items claimed for workers that have not taken them yet. */
  private readonly ready: T[] = [];
  private busy = 0;
  /** When each slot `reserve` promised was promised: a transaction that rolled back never hands its item. */
  private readonly reserved: number[] = [];
  private claiming?: Promise<T[]>;
  /** Wakes for newly committed work so far, and how many had come when the claim in flight began. */
  private wakes = 0;
  private claimingSince = 0;

  constructor(private readonly options: WorkPoolOptions<T>) {}

  start(): void {
    this.running = true;
    for (let i = 0; i < this.options.workers; i++) this.loops.push(this.loop());
  }

  /** Stop claiming; items in flight finish. */
  async stop(): Promise<void> {
    this.running = false;
    for (const resume of this.waiting.splice(0)) resume();
    await Promise.all(this.loops);
  }

  /**
   * Work this process claimed itself (e.g. inserted already leased in the transaction that created it): workers
   * take it from memory, no claim statement. Its lease must let another replica take it if this process dies.
   */
  hand(items: readonly T[]): void {
    for (const item of items) {
      this.reserved.shift();
      this.ready.push(item);
      this.resumeOne();
    }
  }

  /**
   * Promise a worker to an item that a transaction in flight is creating already claimed, for `hand` after its
   * commit: true when a worker is free for it now (none busy with, or promised to, anything else). A promise
   * whose item never comes (the transaction rolled back) lapses after RESERVATION_MS.
   */
  reserve(): boolean {
    const now = Date.now();
    while (this.reserved.length > 0 && now - this.reserved[0]! > RESERVATION_MS) this.reserved.shift();
    if (!this.running || this.busy + this.ready.length + this.reserved.length >= this.options.workers) return false;
    this.reserved.push(now);
    return true;
  }

  /**
   * New work was committed: an idle worker looks at once (or the next one to become idle). A claim already in flight
   * may not see it (its statement ran before the commit), so a claim that begins after this wake looks for it.
   */
  wake(): void {
    this.wakes++;
    this.resumeOne();
  }

  /** Resume one idle worker, or the next one to become idle. */
  private resumeOne(): void {
    const resume = this.waiting.shift();
    if (resume) resume();
    else this.pendingWake = true;
  }

  private idle(): Promise<void> {
    // Stopped while this worker was claiming: it ends instead of waiting for a poll.
    if (!this.running) return Promise.resolve();
    if (this.pendingWake) {
      this.pendingWake = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const polls = !this.polling;
      if (polls) this.polling = true;
      const resume = () => {
        clearTimeout(timer);
        if (polls) this.polling = false;
        const i = this.waiting.indexOf(resume);
        if (i >= 0) this.waiting.splice(i, 1);
        resolve();
      };
      const timer = polls ? setTimeout(resume, this.options.pollMs) : undefined;
      this.waiting.push(resume);
    });
  }

  // One claimMany at a time: a worker that arrives while one runs takes from what it brings. `more`: there may be
  // more work than was claimed (a single claim found one; a claimMany filled what it asked for; a wake came while
  // the claim was in flight, for work it may not have seen).
  private async next(): Promise<{ item: T | undefined; more: boolean }> {
    const { claim, claimMany, workers } = this.options;
    for (;;) {
      const ready = this.ready.shift();
      // More waiting in memory (handed or claimed for others): the next idle worker takes one too, even when the
      // wakes for them came before any worker was idle.
      if (ready !== undefined) return { item: ready, more: this.ready.length > 0 };
      if (!claimMany) {
        const item = await claim();
        return { item, more: item !== undefined };
      }
      if (this.claiming) {
        const since = this.claimingSince;
        await this.claiming.catch(() => undefined);
        const item = this.ready.shift();
        const missed = this.wakes !== since;
        // Woken after the claim it joined began, and it brought nothing for this worker: claim again.
        if (item === undefined && missed) continue;
        return { item, more: missed };
      }
      const since = this.wakes;
      const max = Math.max(1, workers - this.busy - this.ready.length);
      const claiming = claimMany(max);
      this.claiming = claiming;
      this.claimingSince = since;
      try {
        const claimed = await claiming;
        const [first, ...rest] = claimed;
        this.ready.push(...rest);
        for (let i = 0; i < rest.length; i++) this.resumeOne();
        return { item: first, more: claimed.length >= max || this.wakes !== since };
      } finally {
        this.claiming = undefined;
      }
    }
  }

  private async loop(): Promise<void> {
    const { run, log, onBusy } = this.options;
    while (this.running) {
      let item: T | undefined;
      let more = false;
      try {
        ({ item, more } = await this.next());
      } catch (err) {
        log.error({ err: errorMessage(err) }, 'claiming work failed; retrying');
      }
      if (item === undefined) {
        await this.idle();
        continue;
      }
      // There may be more: the next idle worker looks too.
      if (more) this.resumeOne();
      this.busy++;
      onBusy?.(1);
      try {
        await run(item);
      } catch (err) {
        log.error({ err: errorMessage(err) }, 'work item failed; its lease lets it be claimed again');
      } finally {
        this.busy--;
        onBusy?.(-1);
      }
    }
  }
}
