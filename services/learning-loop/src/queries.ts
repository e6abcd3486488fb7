// learning.query.*: statistics (filtered, paged), outcome records (newest first, paged), best and worst playbooks.
import type { QueryReply, QueryRequest } from '@grace/contracts';
import { decodeCursor, encodeCursor, QueryError } from '@grace/service-kit';
import type { Kysely } from 'kysely';
import { rankPlaybooks, toStatistics } from './domain/statistics.js';
import { listOutcomes, listStatistics, OVERALL, stateOf, type Database, type StatisticsRow } from './store.js';

export const statisticsOf = (row: StatisticsRow) =>
  toStatistics({ signature: row.signature || null, playbook: row.playbook }, stateOf(row), row.updated_at);

export function statsQuery(db: Kysely<Database>) {
  return async (req: QueryRequest<'learning.query.stats'>): Promise<QueryReply<'learning.query.stats'>> => {
    const limit = req.limit ?? 50;
    const rows = await listStatistics(db, {
      ...(req.playbook ? { playbook: req.playbook } : {}),
      ...(req.signature ? { signature: req.signature } : {}),
      ...(req.cursor ? { after: decodeCursor(req.cursor, 2) as [string, string] } : {}),
      limit: limit + 1,
    });
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map(statisticsOf),
      ...(rows.length > limit && last ? { next_cursor: encodeCursor([last.playbook, last.signature]) } : {}),
    };
  };
}

export function outcomesQuery(db: Kysely<Database>) {
  return async (req: QueryRequest<'learning.query.outcomes'>): Promise<QueryReply<'learning.query.outcomes'>> => {
    const limit = req.limit ?? 50;
    const { cursor, limit: _limit, ...filter } = req;
    let before: [string, string] | undefined;
    if (cursor) {
      before = decodeCursor(cursor, 2) as [string, string];
      if (Number.isNaN(Date.parse(before[0])))
        throw new QueryError('invalid_request', 'cursor is not one this service gave out');
    }
    const rows = await listOutcomes(db, { ...filter, ...(before ? { before } : {}), limit: limit + 1 });
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map((o) => ({
        action_id: o.action_id,
        ...(o.contract_id ? { contract_id: o.contract_id } : {}),
        ...(o.incident_id ? { incident_id: o.incident_id } : {}),
        playbook: o.playbook,
        ...(o.signature ? { signature: o.signature } : {}),
        service: o.service,
        environment: o.environment,
        adapter: o.adapter as 'nats',
        action: o.action,
        tier: o.tier,
        ...(o.verdict ? { verdict: o.verdict } : {}),
        ...(o.confidence !== null ? { confidence: o.confidence } : {}),
        denied: o.denied,
        rolled_back: o.rolled_back,
        ...(o.execution_ms !== null ? { execution_ms: o.execution_ms } : {}),
        ...(o.time_to_verify_ms !== null ? { time_to_verify_ms: o.time_to_verify_ms } : {}),
        recorded_at: o.recorded_at.toISOString(),
      })),
      ...(rows.length > limit && last
        ? { next_cursor: encodeCursor([last.recorded_at.toISOString(), last.action_id]) }
        : {}),
    };
  };
}

export function topQuery(db: Kysely<Database>) {
  return async (req: QueryRequest<'learning.query.top'>): Promise<QueryReply<'learning.query.top'>> => {
    const rows = await listStatistics(db, { signature: req.signature ?? OVERALL, limit: 10_000 });
    const eligible = rows.map(statisticsOf).filter((s) => s.executions >= (req.min_executions ?? 0));
    return { items: rankPlaybooks(eligible, req.order, req.limit ?? 10) };
  };
}
