// verifier.query.*: one verification (by verification, contract or action id) and the learned baselines.
import type { QueryReply, QueryRequest } from '@grace/contracts';
import { decodeCursor, encodeCursor, QueryError } from '@grace/service-kit';
import type { Kysely } from 'kysely';
import { toleranceOf } from './domain/baselines.js';
import { findVerification, listBaselines, type Database } from './store.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function verificationQuery(db: Kysely<Database>) {
  return async (
    req: QueryRequest<'verifier.query.verification'>,
  ): Promise<QueryReply<'verifier.query.verification'>> => {
    const name = req.verification_id ?? req.contract_id ?? req.action_id;
    if (req.verification_id && !UUID.test(req.verification_id))
      throw new QueryError('not_found', `no verification ${name}`);
    const row = await findVerification(db, req);
    if (!row) throw new QueryError('not_found', `no verification of ${name}`);
    if (!row.result)
      throw new QueryError('not_found', `the verification of ${name} is pending (due ${row.due_at.toISOString()})`);
    return { verification: row.result };
  };
}

export function baselinesQuery(db: Kysely<Database>) {
  return async (req: QueryRequest<'verifier.query.baselines'>): Promise<QueryReply<'verifier.query.baselines'>> => {
    const limit = req.limit ?? 50;
    const rows = await listBaselines(db, {
      ...(req.service ? { service: req.service } : {}),
      ...(req.environment ? { environment: req.environment } : {}),
      ...(req.check ? { check: req.check } : {}),
      ...(req.cursor ? { after: decodeCursor(req.cursor, 4) } : {}),
      limit: limit + 1,
    });
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map((b) => ({
        service: b.service,
        environment: b.environment,
        check: b.check,
        kind: b.kind,
        metric: b.metric,
        value: b.value,
        tolerance: toleranceOf(b, b.metric),
        samples: b.samples,
        updated_at: b.updated_at.toISOString(),
      })),
      ...(rows.length > limit && last
        ? { next_cursor: encodeCursor([last.service, last.environment, last.check, last.metric]) }
        : {}),
    };
  };
}
