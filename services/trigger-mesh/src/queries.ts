// trigger-mesh.query.*: captured errors, newest first, with keyset paging.
import type { QueryReply, QueryRequest } from '@grace/contracts';
import { decodeCursor, encodeCursor, QueryError } from '@grace/service-kit';
import type { Kysely } from 'kysely';
import { capturedData } from './handlers/error-reported.js';
import { listCaptures, type Database } from './store.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function afterCursor(cursor: string): { lastSeen: string; id: string } {
  const [lastSeen, id] = decodeCursor(cursor, 2) as [string, string];
  if (Number.isNaN(Date.parse(lastSeen)) || !UUID.test(id))
    throw new QueryError('invalid_request', 'cursor is not one this service gave out');
  return { lastSeen, id };
}

export function capturesQuery(db: Kysely<Database>) {
  return async (
    req: QueryRequest<'trigger-mesh.query.captures'>,
  ): Promise<QueryReply<'trigger-mesh.query.captures'>> => {
    const limit = req.limit ?? 50;
    const rows = await listCaptures(db, {
      ...req,
      limit: limit + 1,
      ...(req.cursor ? { after: afterCursor(req.cursor) } : {}),
    });
    const page = rows.slice(0, limit);
    const items = page.map((row) => {
      // eslint-disable-next-line @typescript-eslint/no-unused-vars
      const { update, reported_event_id, stack, ...item } = capturedData(row, row.last_event_id);
      return item;
    });
    const last = page[page.length - 1];
    return {
      items,
      ...(rows.length > limit && last
        ? {
            next_cursor: encodeCursor([new Date(last.last_seen).toISOString(), last.id]),
          }
        : {}),
    };
  };
}
