// Test helper: writes dimension and fact rows of the star schema directly, by natural keys, for hand-made cubes.
import { sql, type Kysely } from 'kysely';
import type { Database, DimOutcomeTable } from '../src/store.js';

type Verdict = DimOutcomeTable['verdict'];

export interface StarAction {
  id: string;
  service: string;
  environment?: string;
  playbook: string;
  adapter?: string;
  tier?: number;
  verdict: Verdict;
  rolledBack?: boolean;
  denied?: boolean;
  /** null when the executor never reported (denied, expired, or a verdict without a result). */
  result: 'succeeded' | 'failed' | 'timed_out' | 'dry_run' | null;
  minute: string;
}

export interface StarIncident {
  id: string;
  service: string;
  environment?: string;
  fingerprint?: string;
  opened: string;
  /** null while open. */
  closed: string | null;
  status: 'open' | 'resolved' | 'escalated';
  timeToResolveMs: number | null;
  /** Resolved incidents: by a verified contract unless said. */
  resolvedBy?: 'contract' | 'source';
}

export interface StarErrors {
  fingerprint: string;
  kind?: string;
  category?: string | null;
  service: string;
  environment?: string;
  hour: string;
  occurrences: number;
}

export function star(db: Kysely<Database>) {
  /** The dim_time row of a minute, truncated in UTC as the ETL does. */
  async function minute(at: string): Promise<Date> {
    const row = await db
      .insertInto('dim_time')
      .values({
        minute: at,
        hour: sql`date_trunc('hour', ${at}::timestamptz, 'UTC')`,
        day: sql`date_trunc('day', ${at}::timestamptz, 'UTC')`,
        week: sql`date_trunc('week', ${at}::timestamptz, 'UTC')`,
      })
      .onConflict((oc) => oc.column('minute').doUpdateSet({ minute: (eb) => eb.ref('excluded.minute') }))
      .returning('minute')
      .executeTakeFirstOrThrow();
    return row.minute;
  }

  async function service(name: string, environment = 'production'): Promise<number> {
    const row = await db
      .insertInto('dim_service')
      .values({ service: name, environment })
      .onConflict((oc) => oc.constraint('dim_service_natural').doUpdateSet({ service: name }))
      .returning('service_key')
      .executeTakeFirstOrThrow();
    return row.service_key;
  }

  async function playbook(name: string, adapter: string, tier: number): Promise<number> {
    const row = await db
      .insertInto('dim_playbook')
      .values({ playbook: name, adapter, tier })
      .onConflict((oc) => oc.constraint('dim_playbook_natural').doUpdateSet({ playbook: name }))
      .returning('playbook_key')
      .executeTakeFirstOrThrow();
    return row.playbook_key;
  }

  /** An existing signature keeps its kind and category. */
  async function signature(fingerprint: string, kind = 'ConnectionRefused', category: string | null = null) {
    const row = await db
      .insertInto('dim_signature')
      .values({ fingerprint, kind, category })
      .onConflict((oc) => oc.column('fingerprint').doUpdateSet({ fingerprint }))
      .returning('signature_key')
      .executeTakeFirstOrThrow();
    return row.signature_key;
  }

  async function outcome(verdict: Verdict, rolledBack: boolean, denied: boolean): Promise<number> {
    const row = await db
      .insertInto('dim_outcome')
      .values({ verdict, rolled_back: rolledBack, denied, expired: false })
      .onConflict((oc) => oc.constraint('dim_outcome_natural').doUpdateSet({ verdict }))
      .returning('outcome_key')
      .executeTakeFirstOrThrow();
    return row.outcome_key;
  }

  return {
    minute,
    service,
    playbook,
    signature,
    outcome,

    async action(a: StarAction): Promise<void> {
      const at = await minute(a.minute);
      await db
        .insertInto('fact_actions')
        .values({
          action_id: a.id,
          service_key: await service(a.service, a.environment),
          playbook_key: await playbook(a.playbook, a.adapter ?? 'kubernetes', a.tier ?? 1),
          outcome_key: await outcome(a.verdict, a.rolledBack ?? false, a.denied ?? false),
          minute: at,
          requested_at: at,
          executed_at: a.result === null ? null : at,
          execution_result: a.result,
          approvals_needed: 0,
          approvals_received: 0,
        })
        .execute();
    },

    async incident(i: StarIncident): Promise<void> {
      await db
        .insertInto('fact_incidents')
        .values({
          incident_id: i.id,
          service_key: await service(i.service, i.environment),
          signature_key: await signature(i.fingerprint ?? 'fp-incident'),
          opened_minute: await minute(i.opened),
          closed_minute: i.closed === null ? null : await minute(i.closed),
          status: i.status,
          opened_at: i.opened,
          closed_at: i.closed,
          time_to_resolve_ms: i.timeToResolveMs,
          attempts: 1,
          escalated: i.status === 'escalated',
          resolved_by: i.status === 'resolved' ? (i.resolvedBy ?? 'contract') : null,
        })
        .execute();
    },

    async errors(e: StarErrors): Promise<void> {
      await db
        .insertInto('fact_errors')
        .values({
          signature_key: await signature(e.fingerprint, e.kind, e.category ?? null),
          service_key: await service(e.service, e.environment),
          hour: await minute(e.hour),
          occurrences: e.occurrences,
          storm: false,
        })
        .execute();
    },
  };
}
