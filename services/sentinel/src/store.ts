// sentinel tables and every query the sentinel runs on them.
import type { EventData, QueryRequest } from '@grace/contracts';
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

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type Json<T> = ColumnType<T, string, string>;

export type IncidentStatus = EventData<'incident.updated'>['previous_status'];
export type AttemptOutcome = 'pending' | 'verified' | 'failed' | 'drift' | 'rolled_back' | 'denied';

export interface IncidentsTable {
  id: Generated<string>;
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
}

export interface Candidate {
  playbook: string;
  score?: number;
  excluded?: string;
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
  transitions: {
    id: Generated<string>;
    incident_id: string;
    status: IncidentStatus;
    previous_status: IncidentStatus | null;
    reason: string;
    at: Timestamp;
  };
  attempts: {
    incident_id: string;
    attempt: number;
    playbook: string;
    action_id: string;
    service: string;
    environment: string;
    reason: string;
    candidates: Json<Candidate[]>;
    decided_at: Timestamp;
    outcome: Generated<AttemptOutcome>;
    outcome_reason: string | null;
    confidence: number | null;
    /** Set when the verdict was drift or failed and the executor is restoring the snapshot. */
    awaiting_rollback_since: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
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
export type AttemptRow = Selectable<Database['attempts']>;
type Db = Kysely<Database> | Transaction<Database>;

/** Statistics of a playbook across all signatures are kept under this signature. */
export const OVERALL = '*';
const CLOSED: IncidentStatus[] = ['resolved', 'escalated'];

/** Open a new incident, or nothing when one is already open for the fingerprint and environment. */
export async function openIncident(db: Db, row: Insertable<IncidentsTable>): Promise<IncidentRow | undefined> {
  return db
    .insertInto('incidents')
    .values(row)
    .onConflict((oc) => oc.columns(['fingerprint', 'environment']).where('status', 'not in', CLOSED).doNothing())
    .returningAll()
    .executeTakeFirst();
}

export async function lockOpenIncident(db: Db, fingerprint: string, environment: string) {
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

/** The incident of a fingerprint escalated since `since`, if any (a human owns it now). */
export async function lockRecentEscalation(db: Db, fingerprint: string, environment: string, since: Date) {
  return db
    .selectFrom('incidents')
    .selectAll()
    .where('fingerprint', '=', fingerprint)
    .where('environment', '=', environment)
    .where('status', '=', 'escalated')
    .where('closed_at', '>=', since)
    .orderBy('closed_at', 'desc')
    .limit(1)
    .forUpdate()
    .executeTakeFirst();
}

export async function lockIncident(db: Db, id: string) {
  return db.selectFrom('incidents').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
}

export async function updateIncident(db: Db, id: string, patch: Updateable<IncidentsTable>): Promise<IncidentRow> {
  return db.updateTable('incidents').set(patch).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
}

export async function addTransitions(
  db: Db,
  rows: {
    incident_id: string;
    status: IncidentStatus;
    previous_status: IncidentStatus | null;
    reason: string;
    at: Date;
  }[],
) {
  if (rows.length > 0) await db.insertInto('transitions').values(rows).execute();
}

export async function addAttempt(db: Db, row: Insertable<Database['attempts']>) {
  await db.insertInto('attempts').values(row).execute();
}

export async function lockAttemptByAction(db: Db, actionId: string) {
  return db.selectFrom('attempts').selectAll().where('action_id', '=', actionId).forUpdate().executeTakeFirst();
}

export async function settleAttempt(
  db: Db,
  actionId: string,
  outcome: AttemptOutcome,
  reason: string,
  confidence?: number,
): Promise<void> {
  await db
    .updateTable('attempts')
    .set({ outcome, outcome_reason: reason, confidence: confidence ?? null })
    .where('action_id', '=', actionId)
    .execute();
}

/** The verdict is in but the executor is still restoring the snapshot: note it, the attempt stays pending. */
export async function markAwaitingRollback(db: Db, actionId: string, reason: string, now: Date): Promise<void> {
  await db
    .updateTable('attempts')
    .set({ outcome_reason: reason, awaiting_rollback_since: now })
    .where('action_id', '=', actionId)
    .execute();
}

/** Attempts whose rollback the executor has not confirmed since before `before`. */
export async function overdueRollbacks(db: Db, before: Date, limit = 100): Promise<string[]> {
  const rows = await db
    .selectFrom('attempts')
    .select('action_id')
    .where('outcome', '=', 'pending')
    .where('awaiting_rollback_since', '<', before)
    .orderBy('awaiting_rollback_since')
    .limit(limit)
    .execute();
  return rows.map((r) => r.action_id);
}

export async function attemptsOf(db: Db, incidentId: string): Promise<AttemptRow[]> {
  return db.selectFrom('attempts').selectAll().where('incident_id', '=', incidentId).orderBy('attempt').execute();
}

export async function transitionsOf(db: Db, incidentId: string) {
  return db.selectFrom('transitions').selectAll().where('incident_id', '=', incidentId).orderBy('id').execute();
}

/** When each playbook was last chosen for a target (service and environment), since `since`. */
export async function lastUses(db: Db, service: string, environment: string, since: Date): Promise<Map<string, Date>> {
  const rows = await db
    .selectFrom('attempts')
    .select(['playbook', (eb) => eb.fn.max('decided_at').as('last')])
    .where('service', '=', service)
    .where('environment', '=', environment)
    .where('decided_at', '>=', since)
    .groupBy('playbook')
    .execute();
  return new Map(rows.map((r) => [r.playbook, new Date(r.last as unknown as string)]));
}

export async function statsFor(db: Db, signature: string, playbooks: string[]) {
  if (playbooks.length === 0) return new Map<string, { alpha: number; beta: number }>();
  const rows = await db
    .selectFrom('playbook_stats')
    .select(['playbook', 'alpha', 'beta'])
    .where('signature', '=', signature)
    .where('playbook', 'in', playbooks)
    .execute();
  return new Map(rows.map((r) => [r.playbook, { alpha: r.alpha, beta: r.beta }]));
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
): Promise<IncidentRow[]> {
  let q = db.selectFrom('incidents').selectAll();
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

/** The mute in force for a fingerprint or its signature that lasts longest, if any. */
export async function activeMute(trx: Transaction<Database>, fingerprint: string, signature: string, now: Date) {
  return trx
    .selectFrom('mutes')
    .selectAll()
    .where((eb) => eb.or([eb('fingerprint', '=', fingerprint), eb('signature', '=', signature)]))
    .where('until', '>', now)
    .orderBy('until', 'desc')
    .limit(1)
    .executeTakeFirst();
}
