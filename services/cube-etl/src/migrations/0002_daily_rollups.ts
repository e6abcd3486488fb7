// cube-etl daily rollups: executed actions per (day, playbook, outcome) and error occurrences per (day, signature),
// kept exact by the ETL (each touched day recomputed from the facts) so that day-aligned queries read them.
import type { Kysely, Migration } from 'kysely';

export const dailyRollups: Migration = {
  async up(db: Kysely<unknown>) {
    // Only actions that count as executed (verdict <> 'none', execution_result distinct from 'dry_run'); no service,
    // so a query filtered by service or environment reads the facts.
    await db.schema
      .createTable('agg_actions_daily')
      .addColumn('day', 'timestamptz', (c) => c.notNull())
      .addColumn('playbook_key', 'integer', (c) => c.notNull().references('dim_playbook.playbook_key'))
      .addColumn('outcome_key', 'integer', (c) => c.notNull().references('dim_outcome.outcome_key'))
      .addColumn('executed', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('agg_actions_daily_pkey', ['day', 'playbook_key', 'outcome_key'])
      .execute();
    // Summed over services.
    await db.schema
      .createTable('agg_errors_daily')
      .addColumn('day', 'timestamptz', (c) => c.notNull())
      .addColumn('signature_key', 'integer', (c) => c.notNull().references('dim_signature.signature_key'))
      .addColumn('occurrences', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('agg_errors_daily_pkey', ['day', 'signature_key'])
      .execute();
  },
};
