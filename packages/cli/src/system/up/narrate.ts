// The story on the bus, one line per fact: an error captured, an incident opened, an action requested and
// executed, a contract verified or rolled back, an incident resolved, a statistic learnt, a cube row. The
// services log little of their normal work; this is what a newcomer watches `grace up` for.
import type { EventData, EventSubject } from '@grace/contracts';
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { request, type Naming } from '@grace/service-kit';

export type Say = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

type Line = { level: 'info' | 'warn'; msg: string; fields?: Record<string, unknown> } | undefined;

/**
 * One line for one event; undefined for events not worth a line. `faultAge` is ms since the demo broke itself;
 * `firstSight` whether this run has not seen the capture's fingerprint yet.
 */
export function describeEvent(
  subject: string,
  data: unknown,
  faultAge: () => number | undefined,
  firstSight: (fingerprint: string) => boolean = () => false,
): Line {
  const as = <S extends EventSubject>() => data as EventData<S>;
  switch (subject) {
    case 'error.captured': {
      const d = as<'error.captured'>();
      // The first capture of a dedupe window (or of this run); the count updates that follow are not news.
      const first = firstSight(d.fingerprint);
      if (d.update && !first) return undefined;
      return { level: 'info', msg: `error captured: ${d.kind} on ${d.service}/${d.environment}: ${d.message}` };
    }
    case 'incident.opened': {
      const d = as<'incident.opened'>();
      return {
        level: 'info',
        msg: `incident opened: ${d.kind} on ${d.service}/${d.environment}, ${d.status}`,
        fields: { incident_id: d.incident_id },
      };
    }
    case 'incident.updated': {
      const d = as<'incident.updated'>();
      if (d.status === d.previous_status) return undefined;
      return {
        level: 'info',
        msg: `incident ${d.status}${d.playbook ? ` (${d.playbook})` : ''}`,
        fields: { incident_id: d.incident_id },
      };
    }
    case 'incident.resolved': {
      const d = as<'incident.resolved'>();
      const open = Date.parse(d.changed_at) - Date.parse(d.opened_at);
      const age = faultAge();
      const timing = [
        Number.isFinite(open) ? `open ${seconds(open)}` : undefined,
        age !== undefined ? `${seconds(age)} after the demo broke` : undefined,
      ].filter(Boolean);
      return {
        level: 'info',
        msg: `incident resolved ${d.playbook ? `by ${d.playbook}` : 'at its source (its alerts resolved)'} (confidence ${d.confidence.toFixed(2)}; ${timing.join(', ')})`,
        fields: { incident_id: d.incident_id, ...(d.contract_id ? { contract_id: d.contract_id } : {}) },
      };
    }
    case 'incident.escalated': {
      const d = as<'incident.escalated'>();
      return {
        level: 'warn',
        msg: `incident escalated to a human: ${d.reason}`,
        fields: { incident_id: d.incident_id },
      };
    }
    case 'action.requested': {
      const d = as<'action.requested'>();
      return {
        level: 'info',
        msg: `action requested: ${d.playbook} (${d.adapter} ${d.action} on ${d.target.service}/${d.target.environment}, tier ${d.tier}, attempt ${d.attempt})`,
        fields: { incident_id: d.incident_id, action_id: d.action_id },
      };
    }
    case 'action.denied': {
      const d = as<'action.denied'>();
      return {
        level: 'warn',
        msg: `action denied by the ${d.denied_by}: ${d.playbook}: ${d.reason}`,
        fields: { incident_id: d.incident_id, action_id: d.action_id },
      };
    }
    case 'action.executed': {
      const d = as<'action.executed'>();
      return {
        level: 'info',
        msg: `action executed: ${d.action} ${d.result} in ${d.duration_ms} ms${d.snapshot_id ? ' (snapshot taken first)' : ''}`,
        fields: { incident_id: d.incident_id, ...(d.contract_id ? { contract_id: d.contract_id } : {}) },
      };
    }
    case 'approval.requested': {
      const d = as<'approval.requested'>();
      return {
        level: 'warn',
        msg: `approval needed: grace approve ${d.approval_id} --as <you> (or in the console)`,
        fields: { incident_id: d.incident_id, approval_id: d.approval_id },
      };
    }
    case 'contract.verified': {
      const d = as<'contract.verified'>();
      return {
        level: d.verdict === 'verified' ? 'info' : 'warn',
        msg: `contract ${d.verdict === 'verified' ? 'verified' : `judged ${d.verdict}`}: ${d.playbook}, confidence ${d.confidence.toFixed(2)}, ${seconds(d.time_to_verify_ms)} after execution: ${d.reason}`,
        fields: { incident_id: d.incident_id, contract_id: d.contract_id, verdict: d.verdict },
      };
    }
    case 'contract.rolled_back': {
      const d = as<'contract.rolled_back'>();
      return {
        level: 'warn',
        msg: `contract rolled back (${d.trigger}): ${d.playbook}'s snapshot restored in ${d.duration_ms} ms`,
        fields: { incident_id: d.incident_id, ...(d.contract_id ? { contract_id: d.contract_id } : {}) },
      };
    }
    case 'playbook.stats.updated': {
      const d = as<'playbook.stats.updated'>();
      // Each change comes per signature and overall; the signature's line says enough.
      if (!d.signature) return undefined;
      return {
        level: 'info',
        msg: `statistic learnt: ${d.playbook} on ${d.signature}: ${d.successes} of ${d.executions} verified, ${d.rollbacks} rolled back${d.denials ? `, ${d.denials} denied` : ''}`,
      };
    }
    default:
      return undefined;
  }
}

const NARRATED = [
  'error.captured',
  'incident.>',
  'action.requested',
  'action.denied',
  'action.executed',
  'approval.requested',
  'contract.>',
  'playbook.stats.updated',
];

export interface Narrator {
  /** The demo target just broke itself (timings of the next resolution are measured from here). */
  faultInjected(at?: number): void;
  stop(): Promise<void>;
}

/** Subscribe to the namespace's events and watch the cube; every fact becomes one line through `say`. */
export function narrate(options: { nc: NatsConnection; naming: Naming; say: Say; cubeEveryMs: number }): Narrator {
  const { nc, naming, say } = options;
  let lastFault: number | undefined;
  const faultAge = () => (lastFault === undefined ? undefined : Date.now() - lastFault);
  const fingerprints = new Set<string>();
  const firstSight = (fingerprint: string) => {
    if (fingerprints.has(fingerprint)) return false;
    fingerprints.add(fingerprint);
    return true;
  };
  const subscriptions: Subscription[] = NARRATED.map((subject) =>
    nc.subscribe(naming.subject(subject), {
      callback: (err, msg) => {
        if (err) return;
        let event: { data?: unknown; correlationid?: string };
        try {
          event = msg.json<{ data?: unknown; correlationid?: string }>();
        } catch {
          return;
        }
        const contract = naming.unprefix(msg.subject);
        const line = describeEvent(contract, event.data, faultAge, firstSight);
        if (!line) return;
        if (contract === 'incident.resolved') lastFault = undefined;
        say(line.level, line.msg, { subject: contract, correlationid: event.correlationid, ...line.fields });
      },
    }),
  );

  // The cube has no event of its own: ask it for the day's success rate by playbook and tell what changed.
  const seen = new Map<string, string>();
  const started = Date.now();
  const watchCube = async () => {
    const to = new Date();
    const reply = await request(
      'cube.query.success_rate',
      {
        from: new Date(Math.min(started, to.getTime()) - 86_400_000).toISOString(),
        to: new Date(to.getTime() + 60_000).toISOString(),
        bucket: 'day',
        group_by: 'playbook',
      },
      { nc, naming, timeoutMs: 5_000 },
    );
    for (const row of reply.rows) {
      const key = `${row.bucket_start}|${row.group}`;
      const value = `${row.verified}/${row.executed}`;
      if (seen.get(key) === value) continue;
      seen.set(key, value);
      say(
        'info',
        `cube row: success_rate ${row.group}: ${row.verified} of ${row.executed} verified (${Math.round(row.success_rate * 100)}%) today`,
        { subject: 'cube.query.success_rate' },
      );
    }
  };
  let cubeRun: Promise<void> = Promise.resolve();
  const cubeTimer = setInterval(() => {
    cubeRun = watchCube().catch(() => undefined);
  }, options.cubeEveryMs);

  return {
    faultInjected(at = Date.now()) {
      lastFault = at;
    },
    async stop() {
      clearInterval(cubeTimer);
      for (const s of subscriptions) s.unsubscribe();
      await cubeRun;
    },
  };
}
