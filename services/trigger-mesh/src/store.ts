// trigger_mesh tables and every query trigger-mesh runs on them.
import type { EventData } from '@grace/contracts';
import { lockInTransaction } from '@grace/service-kit';
import {
  sql,
  type ColumnType,
  type Generated,
  type Insertable,
  type Kysely,
  type Selectable,
  type Transaction,
} from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type BigCount = ColumnType<string, number | string, number | string>;

export interface CapturesTable {
  id: Generated<string>;
  fingerprint: string;
  environment: string;
  service: string;
  kind: string;
  message: string;
  severity: EventData<'error.reported'>['severity'];
  category: string | null;
  stack: string | null;
  attributes: ColumnType<Record<string, unknown> | null, string | null, string | null>;
  route: string | null;
  muted_until: Timestamp | null;
  security_flags: string[];
  first_seen: Timestamp;
  last_seen: Timestamp;
  total_count: BigCount;
  window_started_at: Timestamp;
  window_count: number;
  storm: boolean;
  emitted_count: number;
  announcements: number;
  last_emitted_at: Timestamp | null;
  last_emit_event_id: string | null;
  last_event_id: string;
  last_correlation_id: string;
}

export interface Database {
  captures: CapturesTable;
  occurrences: {
    id: Generated<string>;
    capture_id: string;
    event_id: string;
    occurred_at: Timestamp;
    received_at: Generated<Date>;
    message: string;
    attributes: ColumnType<Record<string, unknown> | null, string | null, string | null>;
    origin: string | null;
  };
  drops: {
    rule: string;
    service: string;
    environment: string;
    count: BigCount;
    first_dropped_at: Timestamp;
    last_dropped_at: Timestamp;
  };
  rule_versions: {
    version: Generated<number>;
    checksum: string;
    source: string;
    path: string;
    loaded_at: Generated<Date>;
  };
  producers: {
    name: string;
    kind: 'bearer' | 'hmac' | 'sentry';
    credential_sha256: string;
    updated_at: Generated<Date>;
  };
  alert_members: AlertMembersTable;
  alert_resolutions: {
    id: Generated<string>;
    fingerprint: string;
    alertname: string;
    labels: ColumnType<Record<string, string>, string, string>;
    starts_at: Timestamp | null;
    ends_at: Timestamp | null;
    producer: string;
    received_at: Generated<Date>;
  };
}

/** One alert (fingerprint + startsAt) of an Alertmanager group, as its last notification said (0003_alert_members). */
export interface AlertMembersTable {
  producer: string;
  group_hash: string;
  group_key: string;
  alert_fingerprint: string;
  starts_at: Timestamp;
  fingerprint: string;
  environment: string;
  service: string;
  alertname: string;
  labels: ColumnType<Record<string, string>, string, string>;
  status: 'firing' | 'resolved';
  firings: number;
  notifications: number;
  first_notified_at: Generated<Date>;
  last_notified_at: Timestamp;
  ends_at: Timestamp | null;
  resolved_at: Timestamp | null;
}

export type Capture = Selectable<CapturesTable>;
type Db = Kysely<Database> | Transaction<Database>;

/** The occurrences of one fingerprint in one environment within a batch, counted in one row update. */
export interface OccurrenceGroup {
  fingerprint: string;
  environment: string;
  /** Occurrences in the group. */
  count: number;
  /** The last occurrence's event: its id marks an announcement, its text becomes the capture's. */
  lastEventId: string;
  lastCorrelationId: string;
  service: string;
  kind: string;
  message: string;
  severity: CapturesTable['severity'];
  category: string | null;
  stack: string | null;
  attributes: Record<string, unknown> | null;
  route: string | null;
  mutedUntil: Date | null;
  securityFlags: string[];
  firstOccurredAt: Date;
  lastOccurredAt: Date;
  /** Any occurrence of the group arrived over a rate limit. */
  storm: boolean;
}

export interface Windowing {
  windowMs: number;
  emitIntervalMs: number;
}

/**
 * Count groups of occurrences into their captures in one statement (rows in key order, so concurrent
 * batches lock them in one order). The statement also decides, per capture, whether it is announced now:
 * the first of a window, or the first after the emit interval, never during a storm (the sweeper announces
 * storms at the interval). `last_emit_event_id` = the group's last event id says "announce it".
 */
export async function countOccurrences(
  db: Db,
  groups: readonly OccurrenceGroup[],
  now: Date,
  w: Windowing,
): Promise<{ capture: Capture; announce: boolean }[]> {
  if (groups.length === 0) return [];
  const sorted = [...groups].sort((a, b) =>
    a.fingerprint === b.fingerprint
      ? a.environment.localeCompare(b.environment)
      : a.fingerprint < b.fingerprint
        ? -1
        : 1,
  );
  const expired = sql<boolean>`captures.window_started_at <= ${now}::timestamptz - make_interval(secs => ${w.windowMs / 1000})`;
  const intervalOver = sql<boolean>`(captures.last_emitted_at is null or captures.last_emitted_at <= ${now}::timestamptz - make_interval(secs => ${w.emitIntervalMs / 1000}))`;
  const announce = sql<boolean>`(not excluded.storm and (${expired} or ${intervalOver}))`;
  const windowCount = sql<number>`case when ${expired} then excluded.window_count else captures.window_count + excluded.window_count end`;
  const rows: Insertable<CapturesTable>[] = sorted.map((g) => ({
    fingerprint: g.fingerprint,
    environment: g.environment,
    service: g.service,
    kind: g.kind,
    message: g.message,
    severity: g.severity,
    category: g.category,
    stack: g.stack,
    attributes: g.attributes ? JSON.stringify(g.attributes) : null,
    route: g.route,
    muted_until: g.mutedUntil,
    security_flags: g.securityFlags,
    first_seen: g.firstOccurredAt,
    last_seen: g.lastOccurredAt,
    total_count: g.count,
    window_started_at: now,
    window_count: g.count,
    storm: g.storm,
    emitted_count: g.storm ? 0 : g.count,
    announcements: g.storm ? 0 : 1,
    last_emitted_at: g.storm ? null : now,
    last_emit_event_id: g.storm ? null : g.lastEventId,
    last_event_id: g.lastEventId,
    last_correlation_id: g.lastCorrelationId,
  }));
  const captures = await db
    .insertInto('captures')
    .values(rows)
    .onConflict((oc) =>
      oc.columns(['fingerprint', 'environment']).doUpdateSet({
        service: (eb) => eb.ref('excluded.service'),
        kind: (eb) => eb.ref('excluded.kind'),
        message: (eb) => eb.ref('excluded.message'),
        severity: (eb) => eb.ref('excluded.severity'),
        category: sql`coalesce(excluded.category, captures.category)`,
        stack: sql`coalesce(excluded.stack, captures.stack)`,
        attributes: (eb) => eb.ref('excluded.attributes'),
        route: (eb) => eb.ref('excluded.route'),
        muted_until: sql`greatest(excluded.muted_until, captures.muted_until)`,
        security_flags: sql`array(select distinct unnest(captures.security_flags || excluded.security_flags))`,
        first_seen: sql`least(captures.first_seen, excluded.first_seen)`,
        last_seen: sql`greatest(captures.last_seen, excluded.last_seen)`,
        total_count: sql`captures.total_count + excluded.total_count`,
        window_started_at: sql`case when ${expired} then ${now}::timestamptz else captures.window_started_at end`,
        window_count: windowCount,
        storm: sql`case when ${expired} then excluded.storm else captures.storm or excluded.storm end`,
        emitted_count: sql`case when ${announce} then ${windowCount} when ${expired} then 0 else captures.emitted_count end`,
        announcements: sql`case when ${announce} and ${expired} then 1 when ${announce} then captures.announcements + 1 when ${expired} then 0 else captures.announcements end`,
        last_emitted_at: sql`case when ${announce} then ${now}::timestamptz else captures.last_emitted_at end`,
        last_emit_event_id: sql`case when ${announce} then excluded.last_event_id else captures.last_emit_event_id end`,
        last_event_id: (eb) => eb.ref('excluded.last_event_id'),
        last_correlation_id: (eb) => eb.ref('excluded.last_correlation_id'),
      }),
    )
    .returningAll()
    .execute();
  return captures.map((capture) => ({ capture, announce: capture.last_emit_event_id === capture.last_event_id }));
}

export interface OccurrenceRow {
  captureId: string;
  eventId: string;
  occurredAt: Date;
  message: string;
  attributes: Record<string, unknown> | null;
  origin: string | null;
}

export async function insertOccurrences(db: Db, occurrences: readonly OccurrenceRow[]): Promise<void> {
  if (occurrences.length === 0) return;
  await db
    .insertInto('occurrences')
    .values(
      occurrences.map((o) => ({
        capture_id: o.captureId,
        event_id: o.eventId,
        occurred_at: o.occurredAt,
        message: o.message,
        attributes: o.attributes ? JSON.stringify(o.attributes) : null,
        origin: o.origin,
      })),
    )
    .execute();
}

export interface DropGroup {
  rule: string;
  service: string;
  environment: string;
  count: number;
}

/** Count events dropped as noise, per rule, service and environment (rows in key order). */
export async function countDrops(db: Db, groups: readonly DropGroup[], now: Date): Promise<void> {
  if (groups.length === 0) return;
  const key = (g: DropGroup) => `${g.rule}\u0000${g.service}\u0000${g.environment}`;
  const sorted = [...groups].sort((a, b) => (key(a) < key(b) ? -1 : 1));
  await db
    .insertInto('drops')
    .values(sorted.map((g) => ({ ...g, first_dropped_at: now, last_dropped_at: now })))
    .onConflict((oc) =>
      oc.columns(['rule', 'service', 'environment']).doUpdateSet({
        count: sql`drops.count + excluded.count`,
        last_dropped_at: sql`greatest(drops.last_dropped_at, excluded.last_dropped_at)`,
      }),
    )
    .execute();
}

/** Captures whose counts were not announced and whose interval is over (claimed, so replicas share them). */
export async function claimUnannounced(db: Transaction<Database>, now: Date, emitIntervalMs: number, limit: number) {
  return db
    .selectFrom('captures')
    .selectAll()
    .where(sql<boolean>`window_count > emitted_count`)
    .where((eb) =>
      eb.or([
        eb('last_emitted_at', 'is', null),
        eb('last_emitted_at', '<=', sql<Date>`${now}::timestamptz - make_interval(secs => ${emitIntervalMs / 1000})`),
      ]),
    )
    .orderBy('last_seen')
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .execute();
}

export async function markAnnounced(db: Transaction<Database>, capture: Capture, now: Date, eventId: string) {
  await db
    .updateTable('captures')
    .set({
      emitted_count: capture.window_count,
      announcements: capture.announcements + 1,
      last_emitted_at: now,
      last_emit_event_id: eventId,
    })
    .where('id', '=', capture.id)
    .execute();
}

export async function pruneOccurrences(db: Db, retentionHours: number): Promise<number> {
  const result = await db
    .deleteFrom('occurrences')
    .where('received_at', '<', sql<Date>`now() - make_interval(hours => ${retentionHours})`)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/**
 * Alertmanager alerts not notified for `retentionHours`: resolved ones are done, and a firing one Alertmanager no
 * longer sends (silenced, inhibited, or its Alertmanager replaced) no longer holds its group open. Alertmanager
 * re-sends a firing alert every repeat_interval (4 h by default), so one still firing is kept.
 */
export async function pruneAlertMembers(db: Db, retentionHours: number): Promise<number> {
  const result = await db
    .deleteFrom('alert_members')
    .where('last_notified_at', '<', sql<Date>`now() - make_interval(hours => ${retentionHours})`)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

export async function syncProducers(
  db: Kysely<Database>,
  producers: { name: string; kind: 'bearer' | 'hmac' | 'sentry'; credentialSha256: string }[],
) {
  await db.transaction().execute(async (trx) => {
    await trx
      .deleteFrom('producers')
      .where('name', 'not in', ['', ...producers.map((p) => p.name)])
      .execute();
    for (const p of producers) {
      await trx
        .insertInto('producers')
        .values({ name: p.name, kind: p.kind, credential_sha256: p.credentialSha256 })
        .onConflict((oc) =>
          oc
            .column('name')
            .doUpdateSet({ kind: p.kind, credential_sha256: p.credentialSha256, updated_at: sql`now()` }),
        )
        .execute();
    }
  });
}

/** What trigger-mesh knows of one alert of a group: its status and how often it fired and was notified. */
export interface KnownAlert {
  status: 'firing' | 'resolved';
  firings: number;
  notifications: number;
}

/** `alert fingerprint` + NUL + `startsAt` (ISO): one alert firing. */
export const alertKey = (alertFingerprint: string, startsAt: string) => `${alertFingerprint}\u0000${startsAt}`;

/**
 * Take the lock of an alert group (its notifications are handled one at a time, across replicas) and read the
 * alerts of the group named by `keys`, by alertKey.
 */
export async function lockAlertGroup(
  trx: Transaction<Database>,
  producer: string,
  groupHash: string,
  keys: readonly { alertFingerprint: string; startsAt: string }[],
): Promise<Map<string, KnownAlert>> {
  await lockInTransaction(trx, `alert-group:${producer}:${groupHash}`);
  const known = new Map<string, KnownAlert>();
  if (keys.length === 0) return known;
  const rows = await trx
    .selectFrom('alert_members')
    .select(['alert_fingerprint', 'starts_at', 'status', 'firings', 'notifications'])
    .where('producer', '=', producer)
    .where('group_hash', '=', groupHash)
    .where(
      sql<boolean>`(alert_fingerprint, starts_at) in (select * from unnest(${keys.map((k) => k.alertFingerprint)}::text[], ${keys.map((k) => k.startsAt)}::timestamptz[]))`,
    )
    .execute();
  for (const r of rows)
    known.set(alertKey(r.alert_fingerprint, new Date(r.starts_at).toISOString()), {
      status: r.status,
      firings: r.firings,
      notifications: r.notifications,
    });
  return known;
}

export type AlertMember = Insertable<AlertMembersTable>;

/** Write the alerts of a notification as they are now (the caller holds the group's lock and read them). */
export async function saveAlertMembers(trx: Transaction<Database>, members: readonly AlertMember[]): Promise<void> {
  // 17 columns a row: 2,000 rows keep a statement under Postgres's 65,535 parameters.
  for (let i = 0; i < members.length; i += 2_000) {
    await trx
      .insertInto('alert_members')
      .values(members.slice(i, i + 2_000))
      .onConflict((oc) =>
        oc.columns(['producer', 'group_hash', 'alert_fingerprint', 'starts_at']).doUpdateSet({
          fingerprint: (eb) => eb.ref('excluded.fingerprint'),
          environment: (eb) => eb.ref('excluded.environment'),
          service: (eb) => eb.ref('excluded.service'),
          alertname: (eb) => eb.ref('excluded.alertname'),
          labels: (eb) => eb.ref('excluded.labels'),
          status: (eb) => eb.ref('excluded.status'),
          firings: (eb) => eb.ref('excluded.firings'),
          notifications: (eb) => eb.ref('excluded.notifications'),
          last_notified_at: (eb) => eb.ref('excluded.last_notified_at'),
          ends_at: (eb) => eb.ref('excluded.ends_at'),
          resolved_at: (eb) => eb.ref('excluded.resolved_at'),
        }),
      )
      .execute();
  }
}

/** Per environment, the alerts of a group trigger-mesh knows of and those of them firing. */
export async function alertGroupCounts(
  trx: Transaction<Database>,
  producer: string,
  groupHash: string,
): Promise<Map<string, { members: number; firing: number }>> {
  const rows = await trx
    .selectFrom('alert_members')
    .select((eb) => [
      'environment',
      eb.fn.countAll<string>().as('members'),
      sql<string>`count(*) filter (where status = 'firing')`.as('firing'),
    ])
    .where('producer', '=', producer)
    .where('group_hash', '=', groupHash)
    .groupBy('environment')
    .execute();
  return new Map(rows.map((r) => [r.environment, { members: Number(r.members), firing: Number(r.firing) }]));
}

export interface CaptureFilter {
  service?: string;
  environment?: string;
  fingerprint?: string;
  kind?: string;
  severity?: string;
  storm?: boolean;
  from?: string;
  to?: string;
  /** Keyset cursor: (last_seen, id) of the last item of the previous page. */
  after?: { lastSeen: string; id: string };
  limit: number;
}

export async function listCaptures(db: Db, f: CaptureFilter): Promise<Capture[]> {
  let q = db.selectFrom('captures').selectAll();
  if (f.service) q = q.where('service', '=', f.service);
  if (f.environment) q = q.where('environment', '=', f.environment);
  if (f.fingerprint) q = q.where('fingerprint', '=', f.fingerprint);
  if (f.kind) q = q.where('kind', '=', f.kind);
  if (f.severity) q = q.where('severity', '=', f.severity as CapturesTable['severity']);
  if (f.storm !== undefined) q = q.where('storm', '=', f.storm);
  if (f.from) q = q.where('last_seen', '>=', new Date(f.from));
  if (f.to) q = q.where('last_seen', '<', new Date(f.to));
  if (f.after) {
    const { lastSeen, id } = f.after;
    q = q.where(sql<boolean>`(last_seen, id) < (${lastSeen}::timestamptz, ${id}::uuid)`);
  }
  return q.orderBy('last_seen', 'desc').orderBy('id', 'desc').limit(f.limit).execute();
}
