// Remediation: reported -> captured -> action.requested -> the target acts -> action.executed -> contract.verified.
import { latencySummary } from '@grace/service-kit/testing';
import { round, sleep, type Bench } from './context.js';
import { costPerItem } from './cost.js';
import { offer, remediationEvent, type BenchTarget } from './load.js';
import { Observer } from './observe.js';
import type { ProcessUsage } from './proc.js';
import type { RemediationReport } from './report.js';
import { afterLoad, beforeLoad, infrastructureCpu } from './window.js';

interface Flow {
  service: string;
  reported: number;
  captured?: number;
  requested?: number;
  acted?: number;
  /** The action itself: the target's time from the request to its answer. */
  actionMs?: number;
  executed?: number;
  /** The executor's started_at -> finished_at of the contract (its own steps around the adapter call included). */
  executorActionMs?: number;
  verified?: number;
  verdict?: string;
  denied?: string;
  escalated?: boolean;
}

export async function runRemediation(
  bench: Bench,
  target: BenchTarget,
  rate: number,
  what: string,
): Promise<{ report: RemediationReport; usage: Record<string, ProcessUsage> }> {
  const { options, naming, nc, js } = bench;
  const flows = new Map<string, Flow>();
  const verdicts: Record<string, number> = {};
  const denied: Record<string, number> = {};
  let ended = 0;
  let lastEndedAt = 0;
  const end = (at: number) => {
    ended += 1;
    lastEndedAt = at;
  };

  const observer = new Observer(nc, naming);
  const wanted = (correlationId: string | undefined) => correlationId === undefined || flows.has(correlationId);
  const flowOf = (event: { correlationid?: string | undefined }) => flows.get(event.correlationid ?? '');
  observer.on(
    'error.captured',
    (event, at) => {
      const flow = flowOf(event);
      if (flow && !event.data.update) flow.captured ??= at;
    },
    wanted,
  );
  observer.on(
    'action.requested',
    (event, at) => {
      const flow = flowOf(event);
      if (flow) flow.requested ??= at;
    },
    wanted,
  );
  observer.on(
    'action.executed',
    (event, at) => {
      const flow = flowOf(event);
      if (!flow || flow.executed !== undefined) return;
      flow.executed = at;
      flow.executorActionMs = Math.max(0, Date.parse(event.data.finished_at) - Date.parse(event.data.started_at));
    },
    wanted,
  );
  observer.on(
    'contract.verified',
    (event, at) => {
      const flow = flowOf(event);
      if (!flow) return;
      verdicts[event.data.verdict] = (verdicts[event.data.verdict] ?? 0) + 1;
      if (flow.verdict === 'verified') return;
      flow.verdict = event.data.verdict;
      if (event.data.verdict === 'verified') {
        flow.verified = at;
        if (!flow.escalated) end(at);
      }
    },
    wanted,
  );
  observer.on(
    'action.denied',
    (event) => {
      const flow = flowOf(event);
      if (!flow) return;
      flow.denied = event.data.rule;
      denied[event.data.rule] = (denied[event.data.rule] ?? 0) + 1;
    },
    wanted,
  );
  observer.on(
    'incident.escalated',
    (event, at) => {
      const flow = flowOf(event);
      if (!flow || flow.escalated) return;
      flow.escalated = true;
      if (flow.verdict !== 'verified') end(at);
    },
    wanted,
  );
  await observer.flush();
  const { backlog, activityBefore, usage, costUsage, timings } = await beforeLoad(bench);
  const countsBefore = target.counts();

  options.progress(`${what}: ${rate} distinct errors/s for ${options.seconds} s, each to a verified contract`);
  const offered = await offer(rate, options.seconds, (i) => {
    const event = remediationEvent(i, `${bench.runId}${what === 'remediation' ? '' : 'l'}`);
    flows.set(event.id, { service: event.data.service, reported: performance.now() });
    return js.publish(naming.subject('error.reported'), JSON.stringify(event), { msgID: event.id });
  });
  const deadline = performance.now() + options.drainTimeoutMs;
  // Offered, not published: a publish whose acknowledgement timed out may still have been stored.
  while (ended < offered.offered && performance.now() < deadline) await sleep(50);
  const window = usage.finish();
  const peaks = await backlog.finish();
  const serviceTimings = await timings.finish();
  observer.close();

  const all = [...flows.values()];
  for (const flow of all) {
    const acted = target.acted.get(flow.service);
    flow.acted = acted?.at;
    flow.actionMs = acted?.ms;
  }
  const between = (from: keyof Flow, to: keyof Flow) =>
    latencySummary(
      all.flatMap((f) =>
        typeof f[from] === 'number' && typeof f[to] === 'number' ? [(f[to] as number) - (f[from] as number)] : [],
      ),
    );
  const verified = all.filter((f) => f.verified !== undefined);
  const lastVerified = Math.max(0, ...verified.map((f) => f.verified!));

  const { drain, activityAfter, costWindow } = await afterLoad(bench, what, costUsage);
  return {
    report: {
      rate,
      seconds: options.seconds,
      offered: offered.offered,
      published: offered.published,
      failed_publishes: offered.failed,
      offered_per_s: offered.offered_per_s,
      captured: all.filter((f) => f.captured !== undefined).length,
      requested: all.filter((f) => f.requested !== undefined).length,
      executed: all.filter((f) => f.executed !== undefined).length,
      verdicts,
      verified: verified.length,
      verified_per_s: verified.length ? Math.round(verified.length / ((lastVerified - offered.startedAt) / 1000)) : 0,
      denied,
      escalated: all.filter((f) => f.escalated).length,
      unfinished: offered.offered - ended,
      caught_up_ms:
        ended >= offered.offered && ended > 0 ? round(Math.max(0, lastEndedAt - offered.lastStartedAt)) : null,
      reported_to_captured_ms: between('reported', 'captured'),
      reported_to_requested_ms: between('reported', 'requested'),
      reported_to_executed_ms: between('reported', 'executed'),
      reported_to_verified_ms: between('reported', 'verified'),
      reported_to_verified_excluding_action_ms: latencySummary(
        verified.map((f) => f.verified! - f.reported - (f.actionMs ?? 0)),
      ),
      action_ms: latencySummary(all.flatMap((f) => (f.actionMs === undefined ? [] : [f.actionMs]))),
      executor_action_window_ms: latencySummary(
        all.flatMap((f) => (f.executorActionMs === undefined ? [] : [f.executorActionMs])),
      ),
      hops_ms: {
        'trigger-mesh: reported -> captured': between('reported', 'captured'),
        'sentinel: captured -> action.requested': between('captured', 'requested'),
        'action-executor: action.requested -> target asked': between('requested', 'acted'),
        'action-executor: target asked -> action.executed': between('acted', 'executed'),
        'verifier: action.executed -> contract.verified': between('executed', 'verified'),
      },
      // This load's share of what the target counted.
      target: Object.fromEntries(
        Object.entries(target.counts()).map(([key, n]) => [key, n - countsBefore[key as keyof typeof countsBefore]]),
      ) as RemediationReport['target'],
      consumer_backlog_peak: peaks,
      drain,
      machine_cpu_pct: window.machine_cpu_pct,
      infrastructure_cpu_pct: infrastructureCpu(window.processes),
      cost_per_remediation: costPerItem(verified.length, costWindow, activityBefore, activityAfter, bench.idle),
      service_timings: serviceTimings,
      invalid_events: observer.invalid,
    },
    usage: window.processes,
  };
}
