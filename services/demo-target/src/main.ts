// The demo target as a process: connects to NATS, breaks one part of itself every DEMO_FAULT_INTERVAL_MS while
// healthy, and lets Grace fix it. Ctrl-C stops it.
import { connect } from '@nats-io/transport-node';
import { FAULT_NAMES, startDemoTarget } from './demo.js';

const nc = await connect({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' });
const demo = startDemoTarget({
  nc,
  namespace: process.env.GRACE_NAMESPACE ?? '',
  errorIntervalMs: Number(process.env.DEMO_ERROR_INTERVAL_MS ?? 1_000),
});
const faultEveryMs = Number(process.env.DEMO_FAULT_INTERVAL_MS ?? 30_000);
const say = (text: string) => process.stdout.write(`${JSON.stringify({ at: new Date().toISOString(), demo: text })}\n`);

let turn = 0;
const faults = setInterval(() => {
  if (!demo.healthy()) return;
  const fault = FAULT_NAMES[turn++ % FAULT_NAMES.length]!;
  demo.inject(fault);
  say(`broke the ${fault}; reporting errors until Grace fixes it`);
}, faultEveryMs);

let wasHealthy = true;
const watch = setInterval(() => {
  const healthy = demo.healthy();
  if (healthy && !wasHealthy) say('healthy again');
  wasHealthy = healthy;
}, 250);

say(`demo target "${demo.service}" (${demo.environment}) up; a fault every ${faultEveryMs} ms`);
const stop = async () => {
  clearInterval(faults);
  clearInterval(watch);
  await demo.stop();
  await nc.drain();
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
