// One hop of the benchmark's bare baseline, run as its own process like each Grace service: a durable pull
// consumer on RELAY_IN that parses each message, validates it against the error.reported contract (as the
// kit's runner does), publishes it to RELAY_OUT on JetStream and acks once JetStream stored it. No Postgres.
import { validate } from '@grace/contracts';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`relay hop: ${name} is not set`);
  return value;
};
const stream = env('RELAY_STREAM');
const input = env('RELAY_IN');
const output = env('RELAY_OUT');
const durable = env('RELAY_DURABLE');
// Messages pulled ahead; the hop handles them all at once (it only waits on NATS).
const pullBuffer = Number(process.env.RELAY_PULL ?? 64);

const nc = await connect({ servers: (process.env.NATS_URL ?? 'nats://127.0.0.1:4222').split(','), name: durable });
const jsm = await jetstreamManager(nc);
await jsm.consumers.add(stream, {
  durable_name: durable,
  ack_policy: AckPolicy.Explicit,
  deliver_policy: DeliverPolicy.All,
  filter_subject: input,
  ack_wait: 10_000_000_000,
  max_ack_pending: 1_000,
});
const js = jetstream(nc);
const messages = await (await js.consumers.get(stream, durable)).consume({ max_messages: pullBuffer });
let invalid = 0;
process.stdout.write(`${JSON.stringify({ msg: 'relay hop ready', durable })}\n`);

const stop = async () => {
  await messages.close();
  await nc.drain();
  process.stdout.write(`${JSON.stringify({ msg: 'relay hop stopped', durable, invalid })}\n`);
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());

for await (const m of messages) {
  let event: unknown;
  try {
    event = m.json();
  } catch {
    event = undefined;
  }
  const checked = validate('error.reported', event);
  if (!checked.ok) {
    invalid += 1;
    m.term();
    continue;
  }
  // Not awaited: the next message is handled while this one's publish waits for its JetStream ack.
  js.publish(output, JSON.stringify(checked.value), { msgID: `${checked.value.id}:${durable}` }).then(
    () => m.ack(),
    () => m.nak(100),
  );
}
