// The alerts of each Alertmanager group as trigger-mesh last heard of them: one row per alert firing (alert
// fingerprint + startsAt) in a group, firing or resolved. A re-notification of a firing alert updates its row
// and reports nothing; only an alert that starts firing is reported. The members of an incident are the rows of
// its fingerprint and environment. (alert_resolutions, from 0001, is no longer written: resolutions are here.)
import { sql, type Kysely, type Migration } from 'kysely';

export const alertMembers: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('alert_members')
      .addColumn('producer', 'text', (c) => c.notNull())
      // sha256 of the groupKey: the key's part (a groupKey may be long); the groupKey itself is kept beside it.
      .addColumn('group_hash', 'text', (c) => c.notNull())
      .addColumn('group_key', 'text', (c) => c.notNull())
      .addColumn('alert_fingerprint', 'text', (c) => c.notNull())
      .addColumn('starts_at', 'timestamptz', (c) => c.notNull())
      // The fingerprint of the group's captures and incident, as trigger-mesh captures it.
      .addColumn('fingerprint', 'text', (c) => c.notNull())
      .addColumn('environment', 'text', (c) => c.notNull())
      .addColumn('service', 'text', (c) => c.notNull())
      .addColumn('alertname', 'text', (c) => c.notNull())
      .addColumn('labels', 'jsonb', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('firing', 'resolved')`))
      // How often it started firing (a resolved alert that fires again with the same startsAt counts again).
      .addColumn('firings', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('notifications', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('first_notified_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .addColumn('last_notified_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .addColumn('ends_at', 'timestamptz')
      .addColumn('resolved_at', 'timestamptz')
      .addPrimaryKeyConstraint('alert_members_pkey', ['producer', 'group_hash', 'alert_fingerprint', 'starts_at'])
      .execute();
    await db.schema
      .createIndex('alert_members_incident')
      .on('alert_members')
      .columns(['fingerprint', 'environment', 'status'])
      .execute();
  },
};
