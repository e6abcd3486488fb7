// Group commit: units of work that are ready while a transaction is in flight wait for it, then run together in
// the next transaction, so N concurrent steps cost one commit, not N. Alone, a unit runs at once (no linger).
import { errorMessage } from './errors.js';
import type { Logger } from './logger.js';

/** Open one transaction and run `body` in it (e.g. the runtime's `transaction` with its outbox). */
export type TransactionRunner<Ctx> = <T>(body: (ctx: Ctx) => Promise<T>) => Promise<T>;

interface Pending<Ctx> {
  fn: (ctx: Ctx) => Promise<unknown>;
  key: string | undefined;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

export interface GroupCommitOptions {
  /** Most units in one transaction. */
  max: number;
  /** Transactions in flight at once (default 1); units that arrive meanwhile wait for the next free one. */
  concurrency?: number;
  log: Logger;
  /** Told of the size of every group committed together (a histogram). */
  onGroup?: (size: number) => void;
}

/**
 * Each unit must keep its effects inside the transaction it is given (its writes, its emits, its after-commit
 * callbacks), because a group that fails is rolled back whole and each of its units is then run again alone, in a
 * transaction of its own: one unit's failure (a deadlock, a constraint) fails only that unit.
 */
export class GroupCommit<Ctx> {
  private queue: Pending<Ctx>[] = [];
  private inFlight = 0;

  constructor(
    private readonly run: TransactionRunner<Ctx>,
    private readonly options: GroupCommitOptions,
  ) {}

  /**
   * Run `fn` in a transaction, with whatever else is ready when that transaction starts. Units with the same `key`
   * (e.g. batches of one consumer, which could have been one batch) never share a transaction: they run side by
   * side in separate ones.
   */
  submit<T>(fn: (ctx: Ctx) => Promise<T>, key?: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, key, resolve: resolve as (value: unknown) => void, reject });
      this.pump();
    });
  }

  /** Start a transaction for what is queued while fewer than `concurrency` are in flight. */
  private pump(): void {
    while (this.inFlight < (this.options.concurrency ?? 1) && this.queue.length > 0) {
      this.inFlight++;
      void this.commit(this.take()).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  /** The next group: the oldest units, at most `max`, at most one per key; the rest stay queued in order. */
  private take(): Pending<Ctx>[] {
    const group: Pending<Ctx>[] = [];
    const keys = new Set<string>();
    const rest: Pending<Ctx>[] = [];
    for (const unit of this.queue) {
      if (group.length < this.options.max && (unit.key === undefined || !keys.has(unit.key))) {
        group.push(unit);
        if (unit.key !== undefined) keys.add(unit.key);
      } else rest.push(unit);
    }
    this.queue = rest;
    return group;
  }

  private async commit(group: Pending<Ctx>[]): Promise<void> {
    this.options.onGroup?.(group.length);
    if (group.length === 1) return this.alone(group[0]!);
    let results: unknown[];
    try {
      results = await this.run(async (ctx) => {
        const out: unknown[] = [];
        for (const unit of group) out.push(await unit.fn(ctx));
        return out;
      });
    } catch (err) {
      this.options.log.debug({ size: group.length, error: errorMessage(err) }, 'group rolled back; each unit alone');
      for (const unit of group) await this.alone(unit);
      return;
    }
    group.forEach((unit, i) => unit.resolve(results[i]));
  }

  private async alone(unit: Pending<Ctx>): Promise<void> {
    try {
      unit.resolve(await this.run(unit.fn));
    } catch (err) {
      unit.reject(err);
    }
  }
}
