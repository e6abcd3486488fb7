// Ingest: reported -> captured, with duplicates counted into their captures.
import { request } from '@grace/service-kit';
import { latencySummary } from '@grace/service-kit/testing';
import type { JetStreamManager } from '@nats-io/jetstream';
import { round, sleep, type Bench } from './context.js';
import { costPerItem } from './cost.js';
import { HOT_FINGERPRINTS, ingestEvent, isDistinct, offer, type Offered } from './load.js';
import { Observer } from './observe.js';
import type { ProcessUsage } from './proc.js';
import type { IngestReport } from './report.js';
import { afterLoad, beforeLoad, infrastructureCpu } from './window.js';

/** Wait until one durable consumer has nothing pending or unacked; performance.now() then, or undefined. */
async function consumerEmptyAt(
  jsm: JetStreamManager,
  stream: string,
  durable: string,
  deadline: number,
): Promise<number | undefined> {
  while (performance.now() < deadline) {
    const info = await jsm.consumers.info(stream, durable).catch(() => undefined);
    if (info && info.num_pending + info.num_ack_pending === 0) return performance.now();
    await sleep(100);
  }
  return undefined;
}

/** The occurrences trigger-mesh counted: every capture's total_count, page by page over trigger-mesh.query.captures. */
async function countedOccurrences(bench: Bench): Promise<{ occurrences: number; captures: number }> {
  let occurrences = 0;
  let captures = 0;
  let cursor: string | undefined;
  do {
    const page = await request(
      'trigger-mesh.query.captures',
      { limit: 100, ...(cursor ? { cursor } : {}) },
      { nc: bench.nc, naming: bench.naming, timeoutMs: 10_000 },
    );
    for (const item of page.items) occurrences += item.total_count;
    captures += page.items.length;
    cursor = page.next_cursor;
  } while (cursor);
  return { occurrences, captures };
}

export async function runIngest(bench: Bench): Promise<{ report: IngestReport; usage: Record<string, ProcessUsage> }> {
  const { options, naming, nc, jsm, js } = bench;
  const rate = options.ingestRate;
  // At most 100 errors/s per service: under trigger-mesh's per-service storm limit (200/s by default).
  const services = Math.max(HOT_FINGERPRINTS, Math.ceil(rate / 100));
  const sentAt = new Map<string, number>();
  const hotServices = new Set<string>();
  let distinctOffered = 0;
  const latencies: number[] = [];
  let updates = 0;

  const observer = new Observer(nc, naming);
  observer.on(
    'error.captured',
    (event, at) => {
      if (event.data.update) {
        updates += 1;
        return;
      }
      const t = sentAt.get(event.data.reported_event_id);
      if (t !== undefined) latencies.push(at - t);
    },
    (correlationId) => correlationId === undefined || sentAt.has(correlationId),
  );
  await observer.flush();
  const { backlog, activityBefore, usage, costUsage, timings } = await beforeLoad(bench);

  options.progress(
    `ingest: ${rate} errors/s for ${options.seconds} s (${Math.round(options.distinctRatio * 100)}% distinct)`,
  );
  const offered: Offered = await offer(rate, options.seconds, (i) => {
    const event = ingestEvent(i, options.distinctRatio, services);
    if (isDistinct(i, options.distinctRatio)) distinctOffered += 1;
    else hotServices.add(event.data.service);
    sentAt.set(event.id, performance.now());
    return js.publish(naming.subject('error.reported'), JSON.stringify(event), { msgID: event.id });
  });
  const deadline = performance.now() + options.drainTimeoutMs;
  const doneAt = await consumerEmptyAt(
    jsm,
    naming.stream('GRACE_REPORTS'),
    naming.durable('trigger-mesh', 'error.reported'),
    deadline,
  );
  const expected = distinctOffered + hotServices.size;
  // First captures are published by trigger-mesh's outbox right after the commit that counted them.
  while (latencies.length < expected && performance.now() < Math.min(deadline, (doneAt ?? 0) + 5_000)) await sleep(50);
  const window = usage.finish();
  const peaks = await backlog.finish();
  const serviceTimings = await timings.finish();
  observer.close();

  const counted = await countedOccurrences(bench);
  const end = doneAt ?? performance.now();
  const { drain, activityAfter, costWindow } = await afterLoad(bench, 'ingest', costUsage);
  return {
    report: {
      rate,
      seconds: options.seconds,
      distinct_ratio: options.distinctRatio,
      offered: offered.offered,
      published: offered.published,
      failed_publishes: offered.failed,
      offered_per_s: offered.offered_per_s,
      ingested: counted.occurrences,
      ingested_per_s: Math.round(counted.occurrences / ((end - offered.startedAt) / 1000)),
      unaccounted: offered.offered - counted.occurrences,
      lost: Math.max(0, offered.published - counted.occurrences),
      caught_up_ms: doneAt === undefined ? null : round(Math.max(0, doneAt - offered.lastStartedAt)),
      fingerprints: counted.captures,
      first_captures_expected: expected,
      first_captures_delivered: latencies.length,
      count_updates_announced: updates,
      reported_to_captured_ms: latencySummary(latencies),
      consumer_backlog_peak: peaks,
      drain,
      machine_cpu_pct: window.machine_cpu_pct,
      infrastructure_cpu_pct: infrastructureCpu(window.processes),
      cost_per_error: costPerItem(counted.occurrences, costWindow, activityBefore, activityAfter, bench.idle),
      service_timings: serviceTimings,
      invalid_events: observer.invalid,
    },
    usage: window.processes,
  };
}
