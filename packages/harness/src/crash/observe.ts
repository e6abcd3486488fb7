// What the crash test reads from outside the system once the load stopped: whether Grace is quiet yet (consumers
// caught up, outboxes sent, contracts and verifications settled), and the counts the invariants are checked on,
// from each service's own tables (trigger-mesh captures, executor contracts, the kit's outbox in every schema)
// and from JetStream (the stored error.reported, the dead letters).
import { streams, type DeadLetter } from '@grace/contracts';
import type { JetStreamManager } from '@nats-io/jetstream';
import type pg from 'pg';
import { SERVICES } from '../launch.js';

/** Contract statuses after which nothing more happens to a contract (services/action-executor/README.md). */
export const FINAL_CONTRACT_STATUSES = ['verified', 'failed', 'rolled_back', 'expired', 'denied'] as const;

export const schemaOfService = (service: string) => service.replace(/-/g, '_');

export interface Busyness {
  /** Messages not yet delivered, and delivered but not acked, over every durable consumer. */
  consumer_pending: number;
  consumer_ack_pending: number;
  outbox_unsent: number;
  contracts_open: number;
  verifications_pending: number;
}

export const isQuiet = (b: Busyness) =>
  b.consumer_pending + b.consumer_ack_pending + b.outbox_unsent + b.contracts_open + b.verifications_pending === 0;

const streamName = (namespace: string, name: string) => (namespace ? `${namespace}_${name}` : name);

async function one<T>(pool: pg.Pool, text: string, values: unknown[] = []): Promise<T> {
  const { rows } = await pool.query(text, values);
  return rows[0] as T;
}

/** How much work is still in the system right now. */
export async function measureBusyness(pool: pg.Pool, jsm: JetStreamManager, namespace: string): Promise<Busyness> {
  let pending = 0;
  let ackPending = 0;
  for (const s of streams) {
    const list = await jsm.consumers.list(streamName(namespace, s.name)).next();
    for (const c of list) {
      if (!c.config.durable_name) continue;
      pending += c.num_pending;
      ackPending += c.num_ack_pending;
    }
  }
  const unsent = await outboxUnsent(pool);
  const final = FINAL_CONTRACT_STATUSES.map((s) => `'${s}'`).join(',');
  const contracts = await one<{ n: number }>(
    pool,
    `select count(*)::int as n from action_executor.contracts where status not in (${final})`,
  );
  const verifications = await one<{ n: number }>(
    pool,
    `select count(*)::int as n from verifier.verifications where status = 'pending'`,
  );
  return {
    consumer_pending: pending,
    consumer_ack_pending: ackPending,
    outbox_unsent: Object.values(unsent).reduce((a, b) => a + b, 0),
    contracts_open: contracts.n,
    verifications_pending: verifications.n,
  };
}

/** Pending outbox rows per service schema. */
export async function outboxUnsent(pool: pg.Pool): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const service of SERVICES) {
    const schema = schemaOfService(service);
    const row = await one<{ n: number }>(
      pool,
      `select count(*)::int as n from "${schema}".outbox o join "${schema}".outbox_cursor c on c.id = 1
        where (o.xid, o.id) > (c.xid, c.last_id)`,
    );
    out[schema] = row.n;
  }
  return out;
}

export interface ErrorAccounting {
  /** error.reported messages JetStream stored (each event once: the producer retries with the same msg id). */
  reported: number;
  /** Occurrences counted in trigger_mesh.captures (first ones and duplicates) plus those a routing rule dropped. */
  captured_total: number;
  distinct_captures: number;
  duplicates: number;
  dropped: number;
  /** Reported but not counted anywhere (lost), and counted more often than reported (counted twice). */
  unaccounted: number;
  overcounted: number;
  /** Single occurrences stored twice for one event id (outside storms every occurrence is stored once). */
  occurrences_stored_twice: number;
}

export async function accountErrors(pool: pg.Pool, jsm: JetStreamManager, namespace: string) {
  const stream = await jsm.streams.info(streamName(namespace, 'GRACE_REPORTS'));
  const reported = stream.state.messages;
  const captures = await one<{ n: number; total: string | null }>(
    pool,
    'select count(*)::int as n, sum(total_count)::text as total from trigger_mesh.captures',
  );
  const drops = await one<{ total: string | null }>(pool, 'select sum(count)::text as total from trigger_mesh.drops');
  const twice = await one<{ n: number }>(
    pool,
    'select (count(*) - count(distinct event_id))::int as n from trigger_mesh.occurrences',
  );
  const counted = Number(captures.total ?? 0);
  const dropped = Number(drops.total ?? 0);
  const capturedTotal = counted + dropped;
  const accounting: ErrorAccounting = {
    reported,
    captured_total: capturedTotal,
    distinct_captures: captures.n,
    duplicates: counted - captures.n,
    dropped,
    unaccounted: Math.max(0, reported - capturedTotal),
    overcounted: Math.max(0, capturedTotal - reported),
    occurrences_stored_twice: twice.n,
  };
  return accounting;
}

export interface ContractCounts {
  total: number;
  by_status: Record<string, number>;
  by_result: Record<string, number>;
  not_final: number;
  /** The first not-final contracts, with their status and lease, for a human to follow up. */
  not_final_examples: { id: string; status: string; service: string; updated_at: string; lease_until: string | null }[];
  /** Incident attempts that got more than one contract (the sentinel asked twice for one attempt). */
  incident_attempts_with_several_contracts: number;
  ids: Set<string>;
  /** Contracts whose record says the action ran (started executing). */
  started: Set<string>;
}

export async function countContracts(pool: pg.Pool): Promise<ContractCounts> {
  const final = FINAL_CONTRACT_STATUSES.map((s) => `'${s}'`).join(',');
  const statuses = await pool.query<{ status: string; n: number }>(
    'select status, count(*)::int as n from action_executor.contracts group by status order by status',
  );
  const results = await pool.query<{ result: string | null; n: number }>(
    'select result, count(*)::int as n from action_executor.contracts group by result order by result',
  );
  const examples = await pool.query<ContractCounts['not_final_examples'][number]>(
    `select id, status, service, updated_at::text, lease_until::text from action_executor.contracts
     where status not in (${final}) order by updated_at limit 20`,
  );
  const several = await one<{ n: number }>(
    pool,
    `select count(*)::int as n from (select incident_id, attempt from action_executor.contracts
       where incident_id is not null group by incident_id, attempt having count(*) > 1) as d`,
  );
  const all = await pool.query<{ id: string; started: boolean }>(
    'select id, started_at is not null as started from action_executor.contracts',
  );
  const byStatus = Object.fromEntries(statuses.rows.map((r) => [r.status, r.n]));
  const total = statuses.rows.reduce((a, r) => a + r.n, 0);
  const finalCount = FINAL_CONTRACT_STATUSES.reduce((a, s) => a + (byStatus[s] ?? 0), 0);
  return {
    total,
    by_status: byStatus,
    by_result: Object.fromEntries(results.rows.map((r) => [r.result ?? 'none', r.n])),
    not_final: total - finalCount,
    not_final_examples: examples.rows,
    incident_attempts_with_several_contracts: several.n,
    ids: new Set(all.rows.map((r) => r.id)),
    started: new Set(all.rows.filter((r) => r.started).map((r) => r.id)),
  };
}

export async function countIncidents(pool: pg.Pool): Promise<{ total: number; by_status: Record<string, number> }> {
  const { rows } = await pool.query<{ status: string; n: number }>(
    'select status, count(*)::int as n from sentinel.incidents group by status order by status',
  );
  return { total: rows.reduce((a, r) => a + r.n, 0), by_status: Object.fromEntries(rows.map((r) => [r.status, r.n])) };
}

export interface DeadLetterCounts {
  total: number;
  by_reason: { subject: string; reason: string; consumer: string; count: number; example: string }[];
}

/** Every dead letter in GRACE_DLQ, grouped by original subject, reason and consumer. */
export async function countDeadLetters(jsm: JetStreamManager, namespace: string): Promise<DeadLetterCounts> {
  const name = streamName(namespace, 'GRACE_DLQ');
  const info = await jsm.streams.info(name);
  const groups = new Map<string, DeadLetterCounts['by_reason'][number]>();
  for (let seq = info.state.first_seq; info.state.messages > 0 && seq <= info.state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(name, { seq }).catch(() => null);
    if (!m) continue;
    const letter = m.json<Partial<DeadLetter>>();
    const key = `${letter.subject}\u0000${letter.reason}\u0000${letter.consumer}`;
    const group = groups.get(key) ?? {
      subject: String(letter.subject),
      reason: String(letter.reason),
      consumer: String(letter.consumer ?? ''),
      count: 0,
      example: String(letter.message ?? '').slice(0, 300),
    };
    group.count++;
    groups.set(key, group);
  }
  return { total: info.state.messages, by_reason: [...groups.values()].sort((a, b) => b.count - a.count) };
}
