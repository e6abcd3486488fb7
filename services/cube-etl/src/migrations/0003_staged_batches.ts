// cube-etl landing in batches: one row per landed batch (its events as a jsonb array, the keys the ETL looks them
// up by), instead of one row per event. The staged events move over (64 to a row, in their order, each keeping
// whether and by which run it was transformed), and `staged_events` becomes a view of every event once.
import { sql, type Kysely, type Migration } from 'kysely';

export const stagedBatches: Migration = {
  async up(db: Kysely<unknown>) {
    await sql`
      create table staged_batches (
        id bigserial primary key,
        landed_at timestamptz not null,
        event_count integer not null,
        -- The CloudEvents as they arrived, unchanged, in the order handled.
        events jsonb not null,
        -- The keys the ETL recomputes facts by, taken from the events' data when landing.
        action_ids text[] not null,
        incident_ids text[] not null,
        fingerprints text[] not null,
        -- The ETL batch that transformed the row; null until then (a late commit is simply picked up next run).
        etl_run_id uuid
      )`.execute(db);
    // A landed batch is written once and marked once: kept in the row itself (compressed, up to a page) rather
    // than in TOAST chunks, which would be rows written too.
    for (const column of ['events', 'action_ids', 'incident_ids', 'fingerprints'])
      await sql`alter table staged_batches alter column ${sql.ref(column)} set storage main`.execute(db);
    await sql`alter table staged_batches set (toast_tuple_target = 8160)`.execute(db);
    await sql`create index staged_batches_pending on staged_batches (id) where etl_run_id is null`.execute(db);
    await sql`create index staged_batches_actions on staged_batches using gin (action_ids)`.execute(db);
    await sql`create index staged_batches_incidents on staged_batches using gin (incident_ids)`.execute(db);
    await sql`create index staged_batches_fingerprints on staged_batches using gin (fingerprints)`.execute(db);

    // What landed one row per event, 64 events to a row, in landing order; a row holds events of one run only.
    await sql`
      insert into staged_batches (landed_at, event_count, events, action_ids, incident_ids, fingerprints, etl_run_id)
      select max(staged_at), count(*), jsonb_agg(event order by seq),
             coalesce(array_agg(distinct action_id) filter (where action_id is not null), '{}'),
             coalesce(array_agg(distinct incident_id) filter (where incident_id is not null), '{}'),
             coalesce(array_agg(distinct fingerprint) filter (where fingerprint is not null), '{}'),
             etl_run_id
      from (select *, (row_number() over (partition by etl_run_id order by seq) - 1) / 64 as chunk
            from staged_events) s
      group by etl_run_id, chunk
      order by min(seq)`.execute(db);
    await sql`drop table staged_events`.execute(db);

    // Every staged event once (its first landing), for reading by hand; the ETL reads the batches.
    await sql`
      create view staged_events as
      select distinct on (e.v->>'id')
             b.id as batch_id, e.n::int as position, e.v->>'id' as event_id, e.v->>'type' as type,
             coalesce((e.v->>'time')::timestamptz, b.landed_at) as event_time, e.v as event,
             case when split_part(e.v->>'type', '.', 1) in ('action', 'approval', 'contract')
                  then e.v->'data'->>'action_id' end as action_id,
             case when split_part(e.v->>'type', '.', 1) = 'incident' then e.v->'data'->>'incident_id' end as incident_id,
             case when e.v->>'type' = 'error.captured' then e.v->'data'->>'fingerprint' end as fingerprint,
             b.landed_at as staged_at, b.etl_run_id
      from staged_batches b cross join lateral jsonb_array_elements(b.events) with ordinality as e(v, n)
      order by e.v->>'id', b.id, e.n`.execute(db);
  },
};
