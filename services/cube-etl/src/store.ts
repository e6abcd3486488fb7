// cube-etl's tables (Kysely types): staging (landed batches), star schema (dimensions, facts, daily rollups), ETL runs; and landing.
import { type Timestamp, type DbHandle } from '@grace/service-kit';
import type { GraceEvent } from '@grace/contracts';
import { sql, type ColumnType, type Generated, type RawBuilder, type Transaction } from 'kysely';

type NullableTimestamp = ColumnType<Date | null, Date | string | null, Date | string | null>;
/** bigint columns come back as strings from node-postgres. */
type BigInt = ColumnType<string, number | string, number | string>;
type NullableBigInt = ColumnType<string | null, number | string | null, number | string | null>;

/** One landed batch: the events a landing consumer handled together, unchanged, in one row. */
export interface StagedBatchesTable {
  id: ColumnType<string, never, never>;
  landed_at: Timestamp;
  event_count: number;
  events: ColumnType<GraceEvent[], string, string>;
  /** The keys the ETL recomputes facts by (GIN-indexed), from the events' data when landing. */
  action_ids: ColumnType<string[], never, never>;
  incident_ids: ColumnType<string[], never, never>;
  fingerprints: ColumnType<string[], never, never>;
  /** The ETL batch that transformed the row; null until then (a late commit is simply picked up next run). */
  etl_run_id: string | null;
}

/** The view of every staged event, once per event id (its first landing), for reading by hand. */
export interface StagedEventsView {
  batch_id: ColumnType<string, never, never>;
  position: ColumnType<number, never, never>;
  event_id: ColumnType<string, never, never>;
  type: ColumnType<string, never, never>;
  event_time: ColumnType<Date, never, never>;
  event: ColumnType<GraceEvent, never, never>;
  action_id: ColumnType<string | null, never, never>;
  incident_id: ColumnType<string | null, never, never>;
  fingerprint: ColumnType<string | null, never, never>;
  staged_at: ColumnType<Date, never, never>;
  etl_run_id: ColumnType<string | null, never, never>;
}

export interface DimTimeTable {
  minute: Timestamp;
  hour: Timestamp;
  day: Timestamp;
  week: Timestamp;
}

export interface DimServiceTable {
  service_key: Generated<number>;
  service: string;
  environment: string;
}

export interface DimPlaybookTable {
  playbook_key: Generated<number>;
  playbook: string;
  adapter: string;
  tier: number;
}

export interface DimSignatureTable {
  signature_key: Generated<number>;
  fingerprint: string;
  kind: string;
  category: string | null;
}

export interface DimOutcomeTable {
  outcome_key: Generated<number>;
  verdict: 'verified' | 'failed' | 'drift' | 'none';
  rolled_back: boolean;
  denied: boolean;
  expired: boolean;
}

export interface FactErrorsTable {
  signature_key: number;
  service_key: number;
  hour: Timestamp;
  occurrences: BigInt;
  storm: boolean;
}

export interface FactActionsTable {
  action_id: string;
  contract_id: string | null;
  incident_id: string | null;
  service_key: number;
  playbook_key: number;
  outcome_key: number;
  signature_key: number | null;
  fingerprint: string | null;
  minute: Timestamp;
  requested_at: NullableTimestamp;
  executed_at: NullableTimestamp;
  verified_at: NullableTimestamp;
  rolled_back_at: NullableTimestamp;
  execution_result: string | null;
  confidence: number | null;
  approval_wait_ms: NullableBigInt;
  execution_ms: NullableBigInt;
  verification_ms: NullableBigInt;
  rollback_ms: NullableBigInt;
  total_ms: NullableBigInt;
  approvals_needed: number;
  approvals_received: number;
}

export interface FactIncidentsTable {
  incident_id: string;
  service_key: number;
  signature_key: number;
  opened_minute: Timestamp;
  closed_minute: NullableTimestamp;
  status: string;
  opened_at: Timestamp;
  triaged_at: NullableTimestamp;
  closed_at: NullableTimestamp;
  time_to_triage_ms: NullableBigInt;
  time_to_resolve_ms: NullableBigInt;
  attempts: number;
  escalated: boolean;
  /** Resolved incidents: `contract` (a verified remediation) or `source` (0004_incident_resolved_by). */
  resolved_by: 'contract' | 'source' | null;
}

export interface AggActionsDailyTable {
  day: Timestamp;
  playbook_key: number;
  outcome_key: number;
  executed: BigInt;
}

export interface AggErrorsDailyTable {
  day: Timestamp;
  signature_key: number;
  occurrences: BigInt;
}

export interface EtlRunsTable {
  run_id: string;
  status: 'running' | 'succeeded' | 'failed';
  watermark_from: BigInt;
  watermark_to: BigInt;
  rows_read: number;
  rows_written: ColumnType<Record<string, number>, string, string>;
  started_at: Timestamp;
  finished_at: Timestamp;
  duration_ms: number;
  error: string | null;
}

export interface Database {
  staged_batches: StagedBatchesTable;
  staged_events: StagedEventsView;
  dim_time: DimTimeTable;
  dim_service: DimServiceTable;
  dim_playbook: DimPlaybookTable;
  dim_signature: DimSignatureTable;
  dim_outcome: DimOutcomeTable;
  fact_errors: FactErrorsTable;
  fact_actions: FactActionsTable;
  fact_incidents: FactIncidentsTable;
  agg_actions_daily: AggActionsDailyTable;
  agg_errors_daily: AggErrorsDailyTable;
  etl_runs: EtlRunsTable;
}

export type Db = DbHandle<Database>;

type Fragment = RawBuilder<unknown>;

/** The action an event is about: facts are recomputed per action from action.*, approval.* and contract.*. */
export const actionKey = (e: Fragment) =>
  sql<
    string | null
  >`(case when split_part(${e}->>'type', '.', 1) in ('action', 'approval', 'contract') then ${e}->'data'->>'action_id' end)`;
/** The incident an event is about: facts are recomputed per incident from incident.*. */
export const incidentKey = (e: Fragment) =>
  sql<string | null>`(case when split_part(${e}->>'type', '.', 1) = 'incident' then ${e}->'data'->>'incident_id' end)`;
/** The fingerprint an error.captured counts for. */
export const fingerprintKey = (e: Fragment) =>
  sql<string | null>`(case when ${e}->>'type' = 'error.captured' then ${e}->'data'->>'fingerprint' end)`;

const keysOf = (events: Fragment, key: (e: Fragment) => Fragment) =>
  sql`array(select distinct k from jsonb_array_elements(${events}) as e(v), lateral (select ${key(sql`e.v`)}) as x(k)
            where k is not null order by k)`;

/**
 * Land events unchanged as one row (one statement, one row written however many events), with the keys the ETL
 * recomputes facts by. The kit's inbox has already dropped redeliveries; an event landed twice all the same (a
 * re-publish after the inbox's retention) is counted once by the ETL, which reads each event id once.
 */
export async function stageEvents(trx: Transaction<Database>, events: readonly GraceEvent[], now: Date): Promise<void> {
  if (events.length === 0) return;
  const batch = sql`b.events`;
  await sql`
    insert into staged_batches (landed_at, event_count, events, action_ids, incident_ids, fingerprints)
    select ${now}, jsonb_array_length(b.events), b.events, ${keysOf(batch, actionKey)}, ${keysOf(batch, incidentKey)},
           ${keysOf(batch, fingerprintKey)}
    from (select ${JSON.stringify(events)}::jsonb as events) as b`.execute(trx);
}
