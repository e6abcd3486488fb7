// Ctrl-C in a terminal (or `timeout`, or a process manager) signals a whole process group: every service, the
// demo, nats-server and PostgreSQL would get SIGINT at the same moment and stop in no order (the services drain
// into a bus that is already gone, and our own SIGTERM after it is their "second signal: exit now"). So
// `grace up` runs itself again in a session of its own (setsid) and only forwards signals: the supervisor then
// stops everything in order. scripts/start.mjs is such a front too.
import { spawn } from 'node:child_process';

/** Set in the supervisor's environment: it is already in a session of its own. */
export const DETACHED_ENV = 'GRACE_UP_DETACHED';

/** Signals that arrive within this long of the one forwarded are the same Ctrl-C (from the group and pnpm). */
const SAME_SIGNAL_MS = 500;

/** Run this very command again detached, forward signals to it, and resolve with its exit code. */
export function runDetached(): Promise<number> {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    detached: true,
    // The IPC channel closes when this process dies, however it dies: the supervisor then stops everything.
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, [DETACHED_ENV]: '1' },
  });
  let lastForwarded = 0;
  const forward = (signal: NodeJS.Signals) => {
    const now = Date.now();
    if (now - lastForwarded < SAME_SIGNAL_MS) return;
    lastForwarded = now;
    // A closed terminal (SIGHUP) stops Grace as SIGTERM does.
    child.kill(signal === 'SIGHUP' ? 'SIGTERM' : signal);
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, forward);
  return new Promise((resolve) => {
    child.once('error', (err) => {
      process.stderr.write(`grace: could not start the supervisor: ${err.message}\n`);
      resolve(1);
    });
    child.once('exit', (code, signal) => {
      for (const s of signals) process.off(s, forward);
      resolve(code ?? (signal === 'SIGKILL' ? 137 : 1));
    });
  });
}

/** In the supervisor: call `onParentGone` when the process that started it (and holds the terminal) dies. */
export function watchParent(onParentGone: () => void): void {
  if (!process.channel) return;
  // The channel must not keep the process alive; it only tells when the other end is gone.
  process.channel.unref();
  process.once('disconnect', onParentGone);
}
