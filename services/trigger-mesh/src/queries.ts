// trigger-mesh.query.*: captured errors, newest first, with keyset paging.
import type { QueryReply, QueryRequest } from '@grace/contracts';
import { QueryError } from '@grace/service-kit';
import type { Kysely } from 'kysely';
import { capturedData } from './handlers/error-reported.js';
import { listCaptures, type Database } from './store.js';

function decodeCursor(cursor: string): { lastSeen: string; id: string } {
  try {
    const [lastSeen, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string];
    if (typeof lastSeen === 'string' && typeof id === 'string' && !Number.isNaN(Date.parse(lastSeen)))
      return { lastSeen, id };
  } catch {
    // fall through
  }
  throw new QueryError('invalid_request', 'cursor is not one this service gave out');
}

export function capturesQuery(db: Kysely<Database>) {
  return async (
    req: QueryRequest<'trigger-mesh.query.captures'>,
  ): Promise<QueryReply<'trigger-mesh.query.captures'>> => {
    const limit = req.limit ?? 50;
    const rows = await listCaptures(db, {
      ...req,
      limit: limit + 1,
      ...(req.cursor ? { after: decodeCursor(req.cursor) } : {}),
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
            next_cursor: Buffer.from(JSON.stringify([new Date(last.last_seen).toISOString(), last.id])).toString(
              'base64url',
            ),
          }
        : {}),
    };
  };
}
