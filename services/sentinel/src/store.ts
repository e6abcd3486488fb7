// sentinel tables and every query the sentinel runs on them.
import type { EventData, QueryRequest } from '@grace/contracts';
import { advisoryLock, advisoryLockId, type DbHandle, type Timestamp } from '@grace/service-kit';
import {
  sql,
  type ColumnType,
  type Generated,
  type Insertable,
  type Kysely,
  type Selectable,
  type Transaction,
  type Updateable,
} from 'kysely';

type Json<T> = ColumnType<T, string, string>;

export type IncidentStatus = EventData<'incident.updated'>['previous_status'];
export type AttemptOutcome = 'pending' | 'verified' | 'failed' | 'drift' | 'rolled_back' | 'denied';

/** One entry of an incident's timeline: a transition and why. */
export interface TimelineEntry {
  status: IncidentStatus;
  previous_status: IncidentStatus | null;
  reason: string;
  at: string;
}

export interface Candidate {
  playbook: string;
  score?: number;
  excluded?: string;
}

/** One attempt of the decision trail: the candidates with their draws or why they were left out, the choice, the outcome. */
export interface AttemptEntry {
  attempt: number;
  playbook: string;
  action_id: string;
  reason: string;
  candidates: Candidate[];
  decided_at: string;
  outcome: AttemptOutcome;
  outcome_reason: string | null;
  confidence: number | null;
}

/**
 * An incident with its timeline and its decision trail in the one row, so that each change to it is one UPDATE.
 * Only the last attempt can be pending (the next one starts once it is settled): `action_id` is its action, and
 * `awaiting_rollback_since` is set while its verdict waits for the executor's rollback.
 */
export interface IncidentsTable {
  id: string;
  fingerprint: string;
  environment: string;
  signature: string;
  service: string;
  kind: string;
  message: string;
  severity: EventData<'error.captured'>['severity'];
  category: string;
  blast_radius: 'low' | 'medium' | 'high';
  attributes: Json<Record<string, unknown> | null> | null;
  route: string | null;
  status: IncidentStatus;
  reason: string;
  attempts: number;
  occurrences: number;
  capture_id: string;
  playbook: string | null;
  action_id: string | null;
  muted_until: Timestamp | null;
  opened_at: Timestamp;
  triaged_at: Timestamp | null;
  changed_at: Timestamp;
  closed_at: Timestamp | null;
  /** Every transition, oldest first. */
  timeline: Json<TimelineEntry[]>;
  /** Every attempt, in order. */
  trail: Json<AttemptEntry[]>;
  awaiting_rollback_since: Timestamp | null;
}

export interface Database {
  incidents: IncidentsTable;
  mutes: {
    id: Generated<string>;
    fingerprint: string | null;
    signature: string | null;
    until: Timestamp;
    by: string;
    reason: string;
    created_at: Timestamp;
  };
  playbook_stats: {
    signature: string;
    playbook: string;
    alpha: number;
    beta: number;
    stats: Json<EventData<'playbook.stats.updated'>>;
    updated_at: Timestamp;
  };
  catalog_versions: {
    version: Generated<number>;
    checksum: string;
    source: string;
    path: string;
    loaded_at: Generated<Date>;
  };
}

export type IncidentRow = Selectable<IncidentsTable>;

/** What the incident events and the incident list say about an incident (no timeline, no trail). */
const SUMMARY = [
  'id',
  'fingerprint',
  'environment',
  'signature',
  'service',
  'kind',
  'severity',
  'category',
  'blast_radius',
  'status',
  'reason',
  'attempts',
  'occurrences',
  'playbook',
  'action_id',
  'muted_until',
  'opened_at',
  'triaged_at',
  'changed_at',
] as const;
export type IncidentSummary = Pick<IncidentRow, (typeof SUMMARY)[number]>;
type Db = DbHandle<Database>;

/** Statistics of a playbook across all signatures are kept under this signature. */
export const OVERALL = '*';
const CLOSED: IncidentStatus[] = ['resolved', 'escalated'];

/** An incident's columns as the driver takes them (its JSON as text). */
function encoded(row: Partial<IncidentRow>): Updateable<IncidentsTable> {
  const { attributes, timeline, trail, ...rest } = row;
  return {
    ...rest,
    ...(attributes !== undefined ? { attributes: attributes === null ? null : JSON.stringify(attributes) } : {}),
    ...(timeline !== undefined ? { timeline: JSON.stringify(timeline) } : {}),
    ...(trail !== undefined ? { trail: JSON.stringify(trail) } : {}),
  };
}

/** Open a new incident; false, and nothing written, when one is already open for the fingerprint and environment. */
export async function openIncident(db: Db, row: IncidentRow): Promise<boolean> {
  const inserted = await db
    .insertInto('incidents')
    .values(encoded(row) as Insertable<IncidentsTable>)
    .onConflict((oc) =>
      // The arbiter is the partial unique index of open incidents: its predicate must be literal to match it
      // (a parameter would not, once the statement is prepared).
      oc
        .columns(['fingerprint', 'environment'])
        .where(sql<boolean>`status not in (${sql.join(CLOSED.map((status) => sql.lit(status)))})`)
        .doNothing(),
    )
    .returning('id')
    .executeTakeFirst();
  return inserted !== undefined;
}

export async function lockOpenIncident(db: Transaction<Database>, fingerprint: string, environment: string) {
  return db
    .selectFrom('incidents')
    .selectAll()
    .where('fingerprint', '=', fingerprint)
    .where('environment', '=', environment)
    .where('status', 'not in', CLOSED)
    .forUpdate()
    .executeTakeFirst();
}

export async function getIncident(db: Db, id: string) {
  return db.selectFrom('incidents').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The lock key of a fingerprint's captures (one at a time, across replicas). */
const fingerprintKey = (capture: { fingerprint: string; environment: string }) =>
  `incident:${capture.environment}:${capture.fingerprint}`;

/**
 * In one statement, what triaging a capture needs: the fingerprint's lock (lockFingerprint's), then, under it, the
 * incidents the capture meets, locked: its open incident; its latest escalation closed since `since` (a human owns
 * that one: more of the same is counted on it); and an incident resolved at or after the capture's last occurrence (a
 * late count of errors that incident already covered, e.g. the firing alerts of a group its source has since
 * resolved: counted on it, not a new incident). And the operator's mute of the fingerprint or its signature
 * running at `now`, if any (sentinel.control.mute). The function `lock_triage` (migration 0006) takes the lock
 * before it reads the incidents, so the read sees what the lock's last holder committed.
 */
export async function lockTriage(
  trx: Transaction<Database>,
  capture: { fingerprint: string; environment: string; signature: string },
  now: Date,
  since: Date,
  lastSeen: Date,
) {
  const { rows } = await sql<{ mute: { until: string; by: string; reason: string } | null; id: string | null }>`
    select t.mute, i.*
      from (select (select json_build_object('until', m.until, 'by', m.by, 'reason', m.reason)
                      from mutes m
                     where (m.fingerprint = ${capture.fingerprint} or m.signature = ${capture.signature})
                       and m.until > ${now}
                     order by m.until desc limit 1) as mute) as t
      left join lateral lock_triage(${advisoryLockId(fingerprintKey(capture))}, ${capture.fingerprint},
        ${capture.environment}, ${CLOSED}::text[], ${since}, ${lastSeen}) as i on true`.execute(trx);
  // Without a match the lateral join gives one row of nulls (the mute still in it); each row's mute is not its own.
  const incidents = rows
    .filter((row) => row.id !== null)
    .map(({ mute: _mute, ...row }) => row) as unknown as IncidentRow[];
  const mute = rows[0]?.mute;
  const latest = (status: IncidentRow['status']) =>
    incidents.filter((row) => row.status === status).sort((a, b) => Number(b.closed_at) - Number(a.closed_at))[0];
  return {
    mute: mute ? { ...mute, until: new Date(mute.until) } : undefined,
    open: incidents.find((row) => !CLOSED.includes(row.status)),
    escalated: latest('escalated'),
    covering: latest('resolved'),
  };
}

/** The incident whose current (last) attempt requested this action, if any. */
export async function lockIncidentByAction(db: Transaction<Database>, actionId: string) {
  return db.selectFrom('incidents').selectAll().where('action_id', '=', actionId).forUpdate().executeTakeFirst();
}

/** Write what changed, in one statement (no read-back: the caller holds the row, locked). */
export async function updateIncident(db: Db, id: string, patch: Partial<IncidentRow>): Promise<void> {
  await db.updateTable('incidents').set(encoded(patch)).where('id', '=', id).execute();
}

/** The actions of current attempts that have waited for the executor's rollback since before `before`. */
export async function overdueRollbacks(db: Db, before: Date, limit = 100): Promise<string[]> {
  const rows = await db
    .selectFrom('incidents')
    .select('action_id')
    .where('awaiting_rollback_since', '<', before)
    .orderBy('awaiting_rollback_since')
    .limit(limit)
    .execute();
  return rows.flatMap((r) => (r.action_id ? [r.action_id] : []));
}

/**
 * When each playbook was last chosen for a target (service and environment), since `since`: from the trails of
 * the target's incidents that were open then (one closed before `since` decided nothing after it).
 */
/**
 * What choosing a playbook reads, in one statement: when each playbook last ran on the target since `since` (for
 * cooldowns, from the incidents' trails), and the learned statistics of the candidates for the signature.
 */
export async function choiceFacts(
  db: Db,
  target: { service: string; environment: string; since: Date },
  signature: string,
  playbooks: readonly string[],
): Promise<{ uses: Map<string, Date>; stats: Map<string, { alpha: number; beta: number }> }> {
  const { rows } = await sql<{
    uses: Record<string, string> | null;
    stats: Record<string, { alpha: number; beta: number }> | null;
  }>`
    select
      (select json_object_agg(u.playbook, u.last) from (
         select a.playbook, max(a.decided_at) as last
         from incidents i
         cross join lateral jsonb_to_recordset(i.trail) as a(playbook text, decided_at timestamptz)
         where i.service = ${target.service} and i.environment = ${target.environment}
           and (i.closed_at is null or i.closed_at >= ${target.since})
           and a.decided_at >= ${target.since}
         group by a.playbook) u) as uses,
      (select json_object_agg(s.playbook, json_build_object('alpha', s.alpha, 'beta', s.beta))
       from playbook_stats s
       where s.signature = ${signature} and s.playbook = any(${[...playbooks]}::text[])) as stats`.execute(db);
  const row = rows[0];
  return {
    uses: new Map(Object.entries(row?.uses ?? {}).map(([playbook, last]) => [playbook, new Date(last)])),
    stats: new Map(Object.entries(row?.stats ?? {})),
  };
}

/** Keep the newest statistics of a key (events may arrive out of order or twice). */
export async function upsertStats(db: Db, stats: EventData<'playbook.stats.updated'>): Promise<void> {
  await db
    .insertInto('playbook_stats')
    .values({
      signature: stats.signature ?? OVERALL,
      playbook: stats.playbook,
      alpha: stats.alpha,
      beta: stats.beta,
      stats: JSON.stringify(stats),
      updated_at: stats.updated_at,
    })
    .onConflict((oc) =>
      oc
        .columns(['signature', 'playbook'])
        .doUpdateSet({
          alpha: (eb) => eb.ref('excluded.alpha'),
          beta: (eb) => eb.ref('excluded.beta'),
          stats: (eb) => eb.ref('excluded.stats'),
          updated_at: (eb) => eb.ref('excluded.updated_at'),
        })
        .where('playbook_stats.updated_at', '<', (eb) => eb.ref('excluded.updated_at')),
    )
    .execute();
}

export async function statsOf(db: Db, filter: { playbook?: string; signature?: string }) {
  let q = db.selectFrom('playbook_stats').select(['playbook', 'stats']);
  if (filter.playbook) q = q.where('playbook', '=', filter.playbook);
  if (filter.signature) q = q.where('signature', 'in', [filter.signature, OVERALL]);
  return q.orderBy('playbook').orderBy('signature').execute();
}

export async function listIncidents(
  db: Db,
  f: Omit<QueryRequest<'sentinel.query.incidents'>, 'cursor' | 'limit'> & {
    limit: number;
    after?: { openedAt: string; id: string };
  },
): Promise<IncidentSummary[]> {
  let q = db.selectFrom('incidents').select(SUMMARY);
  if (f.status) q = q.where('status', 'in', f.status);
  if (f.open === true) q = q.where('status', 'not in', CLOSED);
  if (f.open === false) q = q.where('status', 'in', CLOSED);
  if (f.service) q = q.where('service', '=', f.service);
  if (f.environment) q = q.where('environment', '=', f.environment);
  if (f.fingerprint) q = q.where('fingerprint', '=', f.fingerprint);
  if (f.severity) q = q.where('severity', '=', f.severity);
  if (f.from) q = q.where('opened_at', '>=', new Date(f.from));
  if (f.to) q = q.where('opened_at', '<', new Date(f.to));
  if (f.after) q = q.where(sql<boolean>`(opened_at, id) < (${f.after.openedAt}::timestamptz, ${f.after.id}::uuid)`);
  return q.orderBy('opened_at', 'desc').orderBy('id', 'desc').limit(f.limit).execute();
}

export async function addMute(
  db: Kysely<Database>,
  mute: { fingerprint: string | null; signature: string | null; until: Date; by: string; reason: string },
) {
  return db
    .insertInto('mutes')
    .values({ ...mute, created_at: new Date() })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Take the lock of a fingerprint's captures (one at a time, across replicas): lockTriage's lock, alone. */
export async function lockFingerprint(
  trx: Transaction<Database>,
  capture: { fingerprint: string; environment: string },
): Promise<void> {
  await sql`select ${advisoryLock(fingerprintKey(capture))}`.execute(trx);
}

/** The open incident of a fingerprint and environment, else its latest closed one, locked; undefined if none. */
export async function lockIncidentOfSource(db: Transaction<Database>, fingerprint: string, environment: string) {
  return db
    .selectFrom('incidents')
    .selectAll()
    .where('fingerprint', '=', fingerprint)
    .where('environment', '=', environment)
    .orderBy(sql`status not in (${sql.join(CLOSED.map((status) => sql.lit(status)))})`, 'desc')
    .orderBy('opened_at', 'desc')
    .limit(1)
    .forUpdate()
    .executeTakeFirst();
}
