// Periodic background work of a service (sweepers, publishers, pruning): one run at a time, a failure logged and
// retried at the next tick, and a stop that waits for the run in flight.
import { errorMessage } from './errors.js';
import type { Logger } from './logger.js';

export interface Periodic {
  /** Run now (or join the run in flight). */
  runNow(): Promise<void>;
  /** No more runs; resolves when the one in flight has ended. */
  stop(): Promise<void>;
}

/** Run `task` every `intervalMs`; a tick that finds the previous run still going is skipped. */
export function every(what: string, intervalMs: number, task: () => Promise<unknown>, log: Logger): Periodic {
  let running: Promise<void> | undefined;
  const runNow = () =>
    (running ??= task()
      .then(() => undefined)
      .catch((err) => log.error({ err: errorMessage(err) }, `${what} failed; retrying at the next tick`))
      .finally(() => (running = undefined)));
  const timer = setInterval(() => void runNow(), intervalMs);
  timer.unref();
  return {
    runNow,
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}
