// action-executor schema: appending to the audit chain in one round trip. The function takes the chain's lock,
// then (a new snapshot: it sees the previous holder's commit) reads the last entry and chains the new ones onto
// it. Each hash is hashEntry's: the SHA-256 of the entry's canonical JSON, which the caller passes as the text
// before `prev_hash`'s value (prefix) and after `seq`'s (suffix), the two fields only the chain's end knows.
import { sql, type Kysely, type Migration } from 'kysely';

export const appendAuditFunction: Migration = {
  async up(db: Kysely<unknown>) {
    await sql`
      create or replace function append_audit(
        p_at timestamptz, p_prefixes text[], p_suffixes text[], p_steps text[], p_actors text[],
        p_contract_ids uuid[], p_action_ids text[], p_details jsonb[])
      returns void language plpgsql volatile as $$
      begin
        perform pg_advisory_xact_lock(hashtextextended('audit' || ':' || current_schema(), 0));
        with recursive
          head as (select seq, hash from audit_entries order by seq desc limit 1),
          chain(n, seq, hash, prev) as (
            select 0::bigint, coalesce((select seq from head), 0)::bigint,
                   coalesce((select hash from head), repeat('0', 64)), null::text
            union all
            select c.n + 1, c.seq + 1,
                   encode(sha256(convert_to(p_prefixes[c.n + 1] || c.hash || '","seq":' || (c.seq + 1)::text
                                            || p_suffixes[c.n + 1], 'UTF8')), 'hex'),
                   c.hash
            from chain c where c.n < cardinality(p_prefixes))
        insert into audit_entries (seq, at, step, actor, contract_id, action_id, detail, prev_hash, hash)
        select c.seq, p_at, p_steps[c.n], p_actors[c.n], p_contract_ids[c.n], p_action_ids[c.n], p_details[c.n],
               c.prev, c.hash
        from chain c where c.n > 0;
      end $$`.execute(db);
  },
};
