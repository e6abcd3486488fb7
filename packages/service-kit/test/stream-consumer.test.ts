// A consumer of several subjects of one stream (ConsumerDefinition.subjects): one durable for all of them, batches
// that mix them, the stream's other subjects acknowledged and left alone; and `replaces`: created where the
// per-subject durables it takes over had got to, which are then deleted.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createEvent, eventExamples, type EventSubject, type GraceEvent } from '@grace/contracts';
import { AckPolicy, DeliverPolicy, jetstream } from '@nats-io/jetstream';
import { randomUUID } from 'node:crypto';
import { consumer, startService, type RunningService, type ServiceDefinition } from '../src/index.js';
import { count, createSandbox, metricSum, publishRaw, waitFor, type Sandbox } from './support.js';

interface TallyDb {
  tally: { event_id: string; type: string };
}

const TAKEN = ['incident.opened', 'incident.resolved'] as const satisfies readonly EventSubject[];

/** Records every event it handles; one consumer takes incident.opened and incident.resolved. */
const tallyService: ServiceDefinition<TallyDb, Record<string, never>> = {
  name: 'tally',
  config: {},
  migrations: {
    '0001_tally': {
      async up(db) {
        await db.schema
          .createTable('tally')
          .addColumn('event_id', 'text', (c) => c.primaryKey())
          .addColumn('type', 'text', (c) => c.notNull())
          .execute();
      },
    },
  },
  setup: (runtime) => ({
    consumers: [
      consumer<TallyDb, EventSubject>({
        subject: TAKEN[0],
        subjects: TAKEN,
        replaces: TAKEN.map((subject) => runtime.naming.durable('tally', subject)),
        batch: 16,
        async handler(event, { trx }) {
          await trx.insertInto('tally').values({ event_id: event.id, type: event.type }).execute();
        },
      }),
    ],
  }),
};

const incidentEvent = (type: 'incident.opened' | 'incident.resolved' | 'incident.updated') =>
  createEvent(type, eventExamples[type] as never, { source: 'test' }) as GraceEvent;

describe('a consumer of several subjects of one stream', () => {
  let sandbox: Sandbox;
  let service: RunningService<TallyDb, unknown> | undefined;
  const stream = () => `${sandbox.namespace}_GRACE_INCIDENTS`;
  const publish = (e: GraceEvent) => publishRaw(sandbox, e.type, JSON.stringify(e));

  beforeAll(async () => {
    sandbox = await createSandbox('streamconsumer');
  });

  afterAll(async () => {
    await service?.stop();
    await sandbox.cleanup();
  });

  it('takes over the per-subject durables where they had got to, and handles both subjects with one durable', async () => {
    // Before: one durable per subject (as the kit made them), each having acknowledged what it handled.
    const legacy = TAKEN.map((subject) => `tally__${subject.replace('.', '_')}`);
    for (const [i, subject] of TAKEN.entries())
      await sandbox.jsm.consumers.add(stream(), {
        durable_name: legacy[i],
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        filter_subject: `${sandbox.namespace}.${subject}`,
      });
    const handledBefore = [incidentEvent('incident.opened'), incidentEvent('incident.resolved')];
    for (const e of handledBefore) await publish(e);
    // Each legacy durable acknowledges its one message (the opened one is the lower position).
    for (const durable of legacy) {
      const c = await jetstream(sandbox.nc).consumers.get(stream(), durable);
      const msg = await c.next({ expires: 2_000 });
      msg!.ack();
      await waitFor(`${durable} acknowledged`, async () => {
        const info = await sandbox.jsm.consumers.info(stream(), durable);
        return info.num_ack_pending === 0 && info.ack_floor.stream_seq > 0;
      });
    }
    const waiting = [incidentEvent('incident.opened'), incidentEvent('incident.resolved')];
    for (const e of waiting) await publish(e);

    service = (await startService(tallyService, sandbox.env)) as RunningService<TallyDb, unknown>;
    expect(service.consumers).toHaveLength(1);
    expect(service.consumers[0]!.durable).toBe('tally__GRACE_INCIDENTS');
    const names: string[] = [];
    for await (const info of sandbox.jsm.consumers.list(stream())) names.push(info.name);
    expect(names).toEqual(['tally__GRACE_INCIDENTS']);

    await waitFor('both waiting events handled', async () => (await count(sandbox, 'tally')) >= 2);
    const rows = await sandbox.pool.query<{ event_id: string; type: string }>(
      `select event_id, type from "${sandbox.schema}".tally order by type`,
    );
    // It started after the lowest position both had acknowledged: the resolved one (acknowledged by its own
    // durable, above that position) comes again; the opened one before it does not.
    expect(rows.rows.map((r) => r.event_id).sort()).toEqual([handledBefore[1]!.id, ...waiting.map((e) => e.id)].sort());
  });

  it("handles a mixed batch, each event as its own type, and acknowledges the stream's other subjects unhandled", async () => {
    const before = await count(sandbox, 'tally');
    const skippedBefore = await metricSum([service!], 'grace_events_handled_total', { outcome: 'skipped' });
    const mixed = Array.from({ length: 10 }, (_, i) =>
      incidentEvent(i % 3 === 0 ? 'incident.updated' : i % 3 === 1 ? 'incident.opened' : 'incident.resolved'),
    );
    await Promise.all(mixed.map(publish));
    const taken = mixed.filter((e) => e.type !== 'incident.updated');
    await waitFor('the taken events handled', async () => (await count(sandbox, 'tally')) === before + taken.length);
    await waitFor('nothing left', async () => {
      const info = await service!.consumers[0]!.info();
      return info.pending === 0 && info.ackPending === 0;
    });
    const types = await sandbox.pool.query<{ type: string; n: number }>(
      `select type, count(*)::int as n from "${sandbox.schema}".tally
       where event_id = any($1) group by type order by type`,
      [taken.map((e) => e.id)],
    );
    expect(types.rows).toEqual([
      { type: 'incident.opened', n: taken.filter((e) => e.type === 'incident.opened').length },
      { type: 'incident.resolved', n: taken.filter((e) => e.type === 'incident.resolved').length },
    ]);
    expect(await metricSum([service!], 'grace_events_handled_total', { outcome: 'skipped' })).toBe(
      skippedBefore + mixed.length - taken.length,
    );
  });

  it('refuses subjects of two streams', () => {
    const broken: ServiceDefinition<TallyDb, Record<string, never>> = {
      ...tallyService,
      name: `tally${randomUUID().slice(0, 4)}`,
      setup: () => ({
        consumers: [
          consumer<TallyDb, EventSubject>({
            subject: 'incident.opened',
            subjects: ['incident.opened', 'action.requested'],
            handler: async () => {},
          }),
        ],
      }),
    };
    return expect(startService(broken, sandbox.env)).rejects.toThrow(
      'a consumer takes subjects of one stream: action.requested are not in GRACE_INCIDENTS',
    );
  });
});
