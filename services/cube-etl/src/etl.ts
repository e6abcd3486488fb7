// The batch ETL: landed batches not yet transformed -> the star schema, one transaction per ETL batch, each
// recorded in etl_runs. Facts are recomputed whole for every action, incident and fingerprint a batch touches,
// from all their staged events, so a late or out-of-order event changes the numbers on the next run, a replay
// gives the same cube, and a batch that fails (or a process killed mid-batch) changes nothing. The daily rollups
// of every day a batch touched (before or after) are then recomputed from the facts, in the same transaction.
import { lockInTransaction } from '@grace/service-kit';
import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import { actionKey, fingerprintKey, incidentKey, type Database, type Db } from './store.js';

export interface EtlRun {
  run_id: string;
  status: 'succeeded' | 'failed';
  watermark_from: number;
  watermark_to: number;
  rows_read: number;
  rows_written: Record<string, number>;
  started_at: string;
  finished_at: string;
  duration_ms: number;
  error?: string;
}

type Trx = Transaction<Database>;

const EMPTY_WRITES = () => ({
  dim_time: 0,
  dim_service: 0,
  dim_playbook: 0,
  dim_signature: 0,
  dim_outcome: 0,
  fact_errors: 0,
  fact_actions: 0,
  fact_incidents: 0,
  agg_actions_daily: 0,
  agg_errors_daily: 0,
});
type Writes = ReturnType<typeof EMPTY_WRITES>;

const affected = (result: { numAffectedRows?: bigint }) => Number(result.numAffectedRows ?? 0n);

/**
 * Every staged event whose key (`key` of the event) is one of `keys`, each event id once (its first landing, so an
 * event landed twice counts once): the landed batches that hold one (by the batch's GIN-indexed keys), unnested.
 */
function stagedBy(
  column: 'action_ids' | 'incident_ids' | 'fingerprints',
  key: (e: RawBuilder<unknown>) => RawBuilder<string | null>,
  keys: string[],
) {
  const e = sql`e.v`;
  return sql`
    select distinct on (e.v->>'id') ${key(e)} as key, e.v->>'type' as type, e.v->'data' as d
    from staged_batches b cross join lateral jsonb_array_elements(b.events) as e(v)
    where ${sql.ref(`b.${column}`)} && ${keys}::text[] and ${key(e)} = any(${keys}::text[])
    order by e.v->>'id', b.id`;
}

/** Minutes, hours, days, weeks (UTC) of every time the facts of this batch refer to. */
async function addTimes(trx: Trx, times: ReturnType<typeof sql>) {
  return affected(
    await sql`
      insert into dim_time (minute, hour, day, week)
      select distinct m, date_trunc('hour', m, 'UTC'), date_trunc('day', m, 'UTC'), date_trunc('week', m, 'UTC')
      from (${times}) t(m) where m is not null
      on conflict (minute) do nothing`.execute(trx),
  );
}

/** Adds the UTC days (epoch ms) of the times a query gives (its one column) to `days`. */
async function addDays(trx: Trx, days: Set<number>, times: ReturnType<typeof sql>) {
  const { rows } = await sql<{ day: Date }>`
    select distinct date_trunc('day', m, 'UTC') as day from (${times}) t(m) where m is not null`.execute(trx);
  for (const { day } of rows) days.add(day.getTime());
}

/** Occurrences per fingerprint, service and hour: each capture adds its count less the previous one of its window. */
async function recomputeErrors(trx: Trx, fingerprints: string[], written: Writes, touchedDays: Set<number>) {
  if (fingerprints.length === 0) return;
  await sql`
    create temp table etl_errors on commit drop as
    with captures as (
      select distinct on (fingerprint, d->>'service', d->>'environment', d->>'first_seen', (d->>'count')::int)
             fingerprint, d->>'service' as service, d->>'environment' as environment, d->>'kind' as kind,
             d->>'category' as category, (d->>'first_seen')::timestamptz as first_seen,
             (d->>'last_seen')::timestamptz as last_seen, (d->>'count')::int as count, (d->>'storm')::boolean as storm
      from (select key as fingerprint, d from (${stagedBy('fingerprints', fingerprintKey, fingerprints)}) s) raw
      order by fingerprint, d->>'service', d->>'environment', d->>'first_seen', (d->>'count')::int, d->>'last_seen'),
    added as (
      select *, count - coalesce(lag(count) over (
               partition by fingerprint, service, environment, first_seen order by count), 0) as added
      from captures)
    select fingerprint, service, environment, max(kind) as kind, max(category) as category,
           date_trunc('hour', last_seen, 'UTC') as hour, sum(added)::bigint as occurrences, bool_or(storm) as storm
    from added group by fingerprint, service, environment, date_trunc('hour', last_seen, 'UTC')`.execute(trx);
  written.dim_signature += affected(
    await sql`insert into dim_signature (fingerprint, kind, category)
              select distinct on (fingerprint) fingerprint, kind, category from etl_errors
              on conflict (fingerprint) do nothing`.execute(trx),
  );
  written.dim_service += affected(
    await sql`insert into dim_service (service, environment) select distinct service, environment from etl_errors
              on conflict (service, environment) do nothing`.execute(trx),
  );
  written.dim_time += await addTimes(trx, sql`select hour from etl_errors`);
  // The days the fingerprints counted in before, as well as now: a day they leave must be recomputed too.
  await addDays(
    trx,
    touchedDays,
    sql`select f.hour from fact_errors f join dim_signature s on s.signature_key = f.signature_key
        where s.fingerprint = any(${fingerprints})`,
  );
  await addDays(trx, touchedDays, sql`select hour from etl_errors`);
  await sql`delete from fact_errors f using dim_signature s
            where f.signature_key = s.signature_key and s.fingerprint = any(${fingerprints})`.execute(trx);
  written.fact_errors += affected(
    await sql`
      insert into fact_errors (signature_key, service_key, hour, occurrences, storm)
      select s.signature_key, v.service_key, e.hour, e.occurrences, e.storm
      from etl_errors e
      join dim_signature s on s.fingerprint = e.fingerprint
      join dim_service v on v.service = e.service and v.environment = e.environment
      where e.occurrences > 0`.execute(trx),
  );
}

/** One row per action from all its action.*, approval.* and contract.* events. */
async function recomputeActions(trx: Trx, actionIds: string[], written: Writes, touchedDays: Set<number>) {
  if (actionIds.length === 0) return;
  await sql`
    create temp table etl_actions on commit drop as
    with ev as (select key as action_id, type, d from (${stagedBy('action_ids', actionKey, actionIds)}) s),
    agg as (
      select action_id,
        max(d->>'contract_id') as contract_id,
        max(d->>'incident_id') as incident_id,
        max(d->>'fingerprint') as fingerprint,
        max(coalesce(d->>'playbook', d->'plan'->>'playbook')) as playbook,
        max(coalesce(d->>'adapter', d->'plan'->>'adapter')) as adapter,
        -- The executor may raise the tier: the highest one reported is the one it ran at.
        max(coalesce(d->>'tier', d->'plan'->>'tier')::int) as tier,
        max(coalesce(d->'target'->>'service', d->'plan'->'target'->>'service')) as service,
        max(coalesce(d->'target'->>'environment', d->'plan'->'target'->>'environment')) as environment,
        min((d->>'requested_at')::timestamptz) filter (where type = 'action.requested') as requested_at,
        min((d->>'requested_at')::timestamptz) filter (where type = 'approval.requested') as approval_requested_at,
        max((d->'quorum'->>'required')::int) filter (where type = 'approval.requested') as approvals_needed,
        max((d->>'granted_at')::timestamptz) filter (where type = 'approval.granted') as granted_at,
        max(jsonb_array_length(jsonb_path_query_array(d->'votes', '$[*] ? (@.counted == true && @.decision == "approve")')))
          filter (where type in ('approval.granted', 'approval.rejected', 'approval.expired')) as approvals_received,
        min((d->>'started_at')::timestamptz) filter (where type = 'action.executed') as started_at,
        max((d->>'finished_at')::timestamptz) filter (where type = 'action.executed') as executed_at,
        -- What the executor reported; the verdict repeats it, so a verdict landing first already says it.
        coalesce(max(d->>'result') filter (where type = 'action.executed'),
                 max(d->>'execution_result') filter (where type = 'contract.verified')) as execution_result,
        max((d->>'duration_ms')::bigint) filter (where type = 'action.executed') as execution_ms,
        (array_agg(d->>'verdict' order by (d->>'verified_at')::timestamptz desc)
          filter (where type = 'contract.verified'))[1] as verdict,
        (array_agg((d->>'confidence')::float8 order by (d->>'verified_at')::timestamptz desc)
          filter (where type = 'contract.verified'))[1] as confidence,
        (array_agg((d->>'time_to_verify_ms')::bigint order by (d->>'verified_at')::timestamptz desc)
          filter (where type = 'contract.verified'))[1] as verification_ms,
        max((d->>'verified_at')::timestamptz) filter (where type = 'contract.verified') as verified_at,
        bool_or(type = 'contract.rolled_back') as rolled_back,
        max((d->>'rolled_back_at')::timestamptz) filter (where type = 'contract.rolled_back') as rolled_back_at,
        max((d->>'duration_ms')::bigint) filter (where type = 'contract.rolled_back') as rollback_ms,
        bool_or(type = 'action.denied') as denied,
        bool_or(type = 'approval.expired') as expired,
        min((d->>'denied_at')::timestamptz) filter (where type = 'action.denied') as denied_at
      from ev group by action_id)
    select *,
      date_trunc('minute', coalesce(executed_at, requested_at, approval_requested_at, denied_at, verified_at)) as minute,
      coalesce(verdict, 'none') as outcome_verdict
    from agg
    -- An action whose plan has not landed yet (only a vote event, say) waits for the event that brings it.
    where playbook is not null and adapter is not null and tier is not null and service is not null
      and environment is not null
      and coalesce(executed_at, requested_at, approval_requested_at, denied_at, verified_at) is not null`.execute(trx);
  written.dim_service += affected(
    await sql`insert into dim_service (service, environment) select distinct service, environment from etl_actions
              on conflict (service, environment) do nothing`.execute(trx),
  );
  written.dim_playbook += affected(
    await sql`insert into dim_playbook (playbook, adapter, tier) select distinct playbook, adapter, tier from etl_actions
              on conflict (playbook, adapter, tier) do nothing`.execute(trx),
  );
  written.dim_outcome += affected(
    await sql`insert into dim_outcome (verdict, rolled_back, denied, expired)
              select distinct outcome_verdict, rolled_back, denied, expired from etl_actions
              on conflict (verdict, rolled_back, denied, expired) do nothing`.execute(trx),
  );
  written.dim_time += await addTimes(trx, sql`select minute from etl_actions`);
  // Read before the upsert: a late event can move an action to another day, which then loses it.
  await addDays(trx, touchedDays, sql`select minute from fact_actions where action_id = any(${actionIds})`);
  await addDays(trx, touchedDays, sql`select minute from etl_actions`);
  written.fact_actions += affected(
    await sql`
      insert into fact_actions (action_id, contract_id, incident_id, service_key, playbook_key, outcome_key,
        signature_key, fingerprint, minute, requested_at, executed_at, verified_at, rolled_back_at, execution_result,
        confidence, approval_wait_ms, execution_ms, verification_ms, rollback_ms, total_ms, approvals_needed,
        approvals_received)
      select a.action_id, a.contract_id, a.incident_id, v.service_key, p.playbook_key, o.outcome_key,
        s.signature_key, a.fingerprint, a.minute, a.requested_at, a.executed_at, a.verified_at, a.rolled_back_at,
        a.execution_result, a.confidence,
        (extract(epoch from a.granted_at - a.approval_requested_at) * 1000)::bigint,
        a.execution_ms, a.verification_ms, a.rollback_ms,
        (extract(epoch from coalesce(a.rolled_back_at, a.verified_at, a.executed_at) - a.requested_at) * 1000)::bigint,
        coalesce(a.approvals_needed, 0), coalesce(a.approvals_received, 0)
      from etl_actions a
      join dim_service v on v.service = a.service and v.environment = a.environment
      join dim_playbook p on p.playbook = a.playbook and p.adapter = a.adapter and p.tier = a.tier
      join dim_outcome o on o.verdict = a.outcome_verdict and o.rolled_back = a.rolled_back and o.denied = a.denied
        and o.expired = a.expired
      left join dim_signature s on s.fingerprint = a.fingerprint
      on conflict (action_id) do update set
        contract_id = excluded.contract_id, incident_id = excluded.incident_id, service_key = excluded.service_key,
        playbook_key = excluded.playbook_key, outcome_key = excluded.outcome_key,
        signature_key = excluded.signature_key, fingerprint = excluded.fingerprint, minute = excluded.minute,
        requested_at = excluded.requested_at, executed_at = excluded.executed_at,
        verified_at = excluded.verified_at, rolled_back_at = excluded.rolled_back_at,
        execution_result = excluded.execution_result, confidence = excluded.confidence,
        approval_wait_ms = excluded.approval_wait_ms, execution_ms = excluded.execution_ms,
        verification_ms = excluded.verification_ms, rollback_ms = excluded.rollback_ms,
        total_ms = excluded.total_ms, approvals_needed = excluded.approvals_needed,
        approvals_received = excluded.approvals_received`.execute(trx),
  );
}

/** One row per incident: its latest state, when it was triaged and closed, its attempts. */
async function recomputeIncidents(trx: Trx, incidentIds: string[], written: Writes) {
  if (incidentIds.length === 0) return;
  await sql`
    create temp table etl_incidents on commit drop as
    with ev as (
      select key as incident_id, type, d, (d->>'changed_at')::timestamptz as changed_at
      from (${stagedBy('incident_ids', incidentKey, incidentIds)}) s),
    latest as (
      -- A terminal event wins over any update that carries the same or a later time.
      select distinct on (incident_id) incident_id, d
      from ev order by incident_id, type in ('incident.resolved', 'incident.escalated') desc, changed_at desc),
    agg as (
      select incident_id,
        min((d->>'opened_at')::timestamptz) as opened_at,
        min((d->>'triaged_at')::timestamptz) as triaged_at,
        -- The last terminal event: an escalated incident its source resolved later closed then.
        max(changed_at) filter (where type in ('incident.resolved', 'incident.escalated')) as closed_at,
        max((d->>'attempts')::int) as attempts,
        bool_or(type = 'incident.escalated') as escalated
      from ev group by incident_id)
    select a.*, l.d->>'status' as status, l.d->>'service' as service, l.d->>'environment' as environment,
      case when l.d->>'status' = 'resolved' then coalesce(l.d->>'resolved_by', 'contract') end as resolved_by,
      l.d->>'fingerprint' as fingerprint, l.d->>'kind' as kind, l.d->>'category' as category,
      date_trunc('minute', a.opened_at) as opened_minute, date_trunc('minute', a.closed_at) as closed_minute
    from agg a join latest l using (incident_id)`.execute(trx);
  written.dim_service += affected(
    await sql`insert into dim_service (service, environment) select distinct service, environment from etl_incidents
              on conflict (service, environment) do nothing`.execute(trx),
  );
  written.dim_signature += affected(
    await sql`insert into dim_signature (fingerprint, kind, category)
              select distinct on (fingerprint) fingerprint, kind, category from etl_incidents
              on conflict (fingerprint) do nothing`.execute(trx),
  );
  written.dim_time += await addTimes(
    trx,
    sql`select opened_minute from etl_incidents union select closed_minute from etl_incidents`,
  );
  written.fact_incidents += affected(
    await sql`
      insert into fact_incidents (incident_id, service_key, signature_key, opened_minute, closed_minute, status,
        opened_at, triaged_at, closed_at, time_to_triage_ms, time_to_resolve_ms, attempts, escalated, resolved_by)
      select i.incident_id, v.service_key, s.signature_key, i.opened_minute, i.closed_minute, i.status, i.opened_at,
        i.triaged_at, i.closed_at, (extract(epoch from i.triaged_at - i.opened_at) * 1000)::bigint,
        case when i.status = 'resolved' then (extract(epoch from i.closed_at - i.opened_at) * 1000)::bigint end,
        i.attempts, i.escalated, i.resolved_by
      from etl_incidents i
      join dim_service v on v.service = i.service and v.environment = i.environment
      join dim_signature s on s.fingerprint = i.fingerprint
      on conflict (incident_id) do update set
        service_key = excluded.service_key, signature_key = excluded.signature_key,
        opened_minute = excluded.opened_minute, closed_minute = excluded.closed_minute, status = excluded.status,
        opened_at = excluded.opened_at, triaged_at = excluded.triaged_at, closed_at = excluded.closed_at,
        time_to_triage_ms = excluded.time_to_triage_ms, time_to_resolve_ms = excluded.time_to_resolve_ms,
        attempts = excluded.attempts, escalated = excluded.escalated, resolved_by = excluded.resolved_by`.execute(trx),
  );
}

const isoDays = (days: Iterable<number>) => [...days].map((day) => new Date(day).toISOString());

/**
 * Recompute the daily rollups of these UTC days whole from the facts (delete, then insert the days' sums): exact
 * and idempotent whatever moved into or out of a day. A UTC day is 24 hours whatever the session's time zone.
 */
export async function refreshRollups(
  db: Db,
  days: { actions: Iterable<number>; errors: Iterable<number> },
): Promise<{ agg_actions_daily: number; agg_errors_daily: number }> {
  const actionDays = isoDays(days.actions);
  const errorDays = isoDays(days.errors);
  let actionRows = 0;
  let errorRows = 0;
  if (actionDays.length > 0) {
    await sql`delete from agg_actions_daily where day = any(${actionDays}::timestamptz[])`.execute(db);
    actionRows = affected(
      await sql`
        insert into agg_actions_daily (day, playbook_key, outcome_key, executed)
        select d.day, a.playbook_key, a.outcome_key, count(*)
        from unnest(${actionDays}::timestamptz[]) d(day)
        join fact_actions a on a.minute >= d.day and a.minute < d.day + interval '24 hours'
        join dim_outcome o on o.outcome_key = a.outcome_key
        where o.verdict <> 'none' and a.execution_result is distinct from 'dry_run'
        group by d.day, a.playbook_key, a.outcome_key`.execute(db),
    );
  }
  if (errorDays.length > 0) {
    await sql`delete from agg_errors_daily where day = any(${errorDays}::timestamptz[])`.execute(db);
    errorRows = affected(
      await sql`
        insert into agg_errors_daily (day, signature_key, occurrences)
        select d.day, e.signature_key, sum(e.occurrences)
        from unnest(${errorDays}::timestamptz[]) d(day)
        join fact_errors e on e.hour >= d.day and e.hour < d.day + interval '24 hours'
        group by d.day, e.signature_key`.execute(db),
    );
  }
  return { agg_actions_daily: actionRows, agg_errors_daily: errorRows };
}

/** The rollups of every day the facts refer to, recomputed from the facts (for cubes not built by the ETL). */
export async function rebuildRollups(db: Kysely<Database>): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await lockInTransaction(trx, 'etl-batch');
    const { rows } = await sql<{ day: Date }>`select distinct day from dim_time`.execute(trx);
    const days = rows.map((r) => r.day.getTime());
    await sql`truncate agg_actions_daily, agg_errors_daily`.execute(trx);
    await refreshRollups(trx, { actions: days, errors: days });
  });
}

/** Transform one batch of staged events; undefined when none is waiting. */
export async function runBatch(db: Kysely<Database>, batchSize: number): Promise<EtlRun | undefined> {
  const runId = randomUUID();
  const started = new Date();
  const written = EMPTY_WRITES();
  let watermark = { from: 0, to: 0, rows: 0 };
  try {
    const done = await db.transaction().execute(async (trx) => {
      // One batch at a time across replicas.
      await lockInTransaction(trx, 'etl-batch');
      // Whole landed batches, oldest first, up to batchSize events (at least one batch, however large).
      const pending = await trx
        .selectFrom('staged_batches')
        .select(['id', 'event_count', 'action_ids', 'incident_ids', 'fingerprints'])
        .where('etl_run_id', 'is', null)
        .orderBy('id')
        .limit(batchSize)
        .forUpdate()
        .execute();
      const batch: typeof pending = [];
      let events = 0;
      for (const landed of pending) {
        if (batch.length > 0 && events + landed.event_count > batchSize) break;
        batch.push(landed);
        events += landed.event_count;
      }
      if (batch.length === 0) return false;
      watermark = { from: Number(batch[0]!.id) - 1, to: Number(batch[batch.length - 1]!.id), rows: events };
      const distinct = (values: string[][]) => [...new Set(values.flat())];
      const touchedDays = { actions: new Set<number>(), errors: new Set<number>() };
      await recomputeErrors(trx, distinct(batch.map((b) => b.fingerprints)), written, touchedDays.errors);
      // Incidents before actions: they bring the signatures (kind, category) actions link to.
      await recomputeIncidents(trx, distinct(batch.map((b) => b.incident_ids)), written);
      await recomputeActions(trx, distinct(batch.map((b) => b.action_ids)), written, touchedDays.actions);
      // Actions that came before their signature's first error or incident get it now.
      written.fact_actions += affected(
        await sql`update fact_actions f set signature_key = s.signature_key from dim_signature s
                  where f.signature_key is null and f.fingerprint = s.fingerprint`.execute(trx),
      );
      const rollups = await refreshRollups(trx, touchedDays);
      written.agg_actions_daily += rollups.agg_actions_daily;
      written.agg_errors_daily += rollups.agg_errors_daily;
      // One row per landed batch, not per event.
      await sql`update staged_batches set etl_run_id = ${runId}
                where id = any(${batch.map((b) => b.id)}::bigint[])`.execute(trx);
      const finished = new Date();
      await trx
        .insertInto('etl_runs')
        .values({
          run_id: runId,
          status: 'succeeded',
          watermark_from: watermark.from,
          watermark_to: watermark.to,
          rows_read: watermark.rows,
          rows_written: JSON.stringify(written),
          started_at: started,
          finished_at: finished,
          duration_ms: finished.getTime() - started.getTime(),
        })
        .execute();
      return true;
    });
    if (!done) return undefined;
    return summary(runId, 'succeeded', watermark, written, started);
  } catch (err) {
    // The batch rolled back: nothing changed; the failure is recorded and the next run tries again.
    const error = (err as Error).message.slice(0, 4096);
    const finished = new Date();
    await db
      .insertInto('etl_runs')
      .values({
        run_id: runId,
        status: 'failed',
        watermark_from: watermark.from,
        watermark_to: watermark.to,
        rows_read: watermark.rows,
        rows_written: JSON.stringify(EMPTY_WRITES()),
        started_at: started,
        finished_at: finished,
        duration_ms: finished.getTime() - started.getTime(),
        error,
      })
      .execute();
    return { ...summary(runId, 'failed', watermark, EMPTY_WRITES(), started), error };
  }
}

function summary(
  runId: string,
  status: EtlRun['status'],
  watermark: { from: number; to: number; rows: number },
  written: Record<string, number>,
  started: Date,
): EtlRun {
  const finished = new Date();
  return {
    run_id: runId,
    status,
    watermark_from: watermark.from,
    watermark_to: watermark.to,
    rows_read: watermark.rows,
    rows_written: written,
    started_at: started.toISOString(),
    finished_at: finished.toISOString(),
    duration_ms: finished.getTime() - started.getTime(),
  };
}

/** Run batches until nothing is waiting (or one fails); the runs together as one summary. */
export async function runEtl(db: Kysely<Database>, batchSize: number): Promise<EtlRun> {
  const started = new Date();
  const runs: EtlRun[] = [];
  for (;;) {
    const run = await runBatch(db, batchSize);
    if (!run) break;
    runs.push(run);
    if (run.status === 'failed') break;
  }
  if (runs.length === 0) {
    const last = await db
      .selectFrom('etl_runs')
      .select('watermark_to')
      .orderBy('finished_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    const at = Number(last?.watermark_to ?? 0);
    return summary(randomUUID(), 'succeeded', { from: at, to: at, rows: 0 }, EMPTY_WRITES(), started);
  }
  const written = EMPTY_WRITES() as Record<string, number>;
  for (const run of runs)
    for (const [table, n] of Object.entries(run.rows_written)) written[table] = (written[table] ?? 0) + n;
  const last = runs[runs.length - 1]!;
  return {
    ...summary(
      last.run_id,
      last.status,
      { from: runs[0]!.watermark_from, to: last.watermark_to, rows: 0 },
      written,
      started,
    ),
    rows_read: runs.reduce((n, r) => n + r.rows_read, 0),
    ...(last.error ? { error: last.error } : {}),
  };
}

/** A replay: empty the star schema and mark every landed batch as not transformed; the next run rebuilds it all. */
export async function resetCube(db: Kysely<Database>): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await lockInTransaction(trx, 'etl-batch');
    await sql`truncate agg_actions_daily, agg_errors_daily, fact_errors, fact_actions, fact_incidents, dim_time,
              dim_service, dim_playbook, dim_signature, dim_outcome`.execute(trx);
    await sql`update staged_batches set etl_run_id = null where etl_run_id is not null`.execute(trx);
  });
}
