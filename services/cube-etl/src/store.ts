// cube-etl's tables (Kysely types): staging, star schema (dimensions, facts, daily rollups), ETL runs; and landing.
import type { GraceEvent } from '@grace/contracts';
import type { ColumnType, Generated, Kysely, Transaction } from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null, Date | string | null>;
/** bigint columns come back as strings from node-postgres. */
type BigInt = ColumnType<string, number | string, number | string>;
type NullableBigInt = ColumnType<string | null, number | string | null, number | string | null>;

export interface StagedEventsTable {
  seq: ColumnType<string, never, never>;
  event_id: string;
  type: string;
  event_time: Timestamp;
  event: ColumnType<GraceEvent, string, string>;
  action_id: string | null;
  incident_id: string | null;
  fingerprint: string | null;
  staged_at: Timestamp;
  etl_run_id: string | null;
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
  staged_events: StagedEventsTable;
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

export type Db = Kysely<Database> | Transaction<Database>;

/** Land events unchanged, once each (the event id is unique), with the keys the ETL recomputes facts by. */
export async function stageEvents(trx: Transaction<Database>, events: readonly GraceEvent[], now: Date): Promise<void> {
  if (events.length === 0) return;
  const text = (value: unknown) => (typeof value === 'string' ? value : null);
  await trx
    .insertInto('staged_events')
    .values(
      events.map((event) => {
        const data = event.data as Record<string, unknown>;
        return {
          event_id: event.id,
          type: event.type,
          event_time: event.time ?? now,
          event: JSON.stringify(event),
          // Facts are recomputed per action from action.*, approval.* and contract.*, per incident from incident.*.
          action_id: /^(action|approval|contract)\./.test(event.type) ? text(data.action_id) : null,
          incident_id: event.type.startsWith('incident.') ? text(data.incident_id) : null,
          fingerprint: event.type === 'error.captured' ? text(data.fingerprint) : null,
          staged_at: now,
        };
      }),
    )
    .onConflict((oc) => oc.column('event_id').doNothing())
    .execute();
}
