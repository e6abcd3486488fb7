// Work that runs last in a transaction the kit opened, once, just before its commit: items gathered under a key
// by every unit of the transaction (the handlers of a batch, the batches and steps of a group commit) and written
// by one statement at the end, e.g. the executor's audit append, whose chain lock is then held for that statement
// and the commit only, not for the rest of the transaction.
import type { Kysely, Transaction } from 'kysely';

type Last = Map<string, { items: unknown[]; flush: (items: unknown[]) => Promise<void> }>;

/** The transactions the kit has open, each with what runs last in it. */
const open = new WeakMap<object, Last>();

/**
 * Open a transaction on `db`, run `body` in it, then whatever was gathered for its end (`lastInTransaction`), in
 * the order the keys were first used, and commit. A rollback drops what was gathered with the transaction.
 */
export function kitTransaction<DB, T>(db: Kysely<DB>, body: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
  return db.transaction().execute(async (trx) => {
    const last: Last = new Map();
    open.set(trx, last);
    try {
      const result = await body(trx);
      for (const { items, flush } of last.values()) await flush(items);
      return result;
    } finally {
      open.delete(trx);
    }
  });
}

/**
 * Gather `items` for the end of `trx` under `key`: the first use of a key in a transaction names its `flush`,
 * which runs once with everything gathered under that key, after the rest of the transaction and before its
 * commit. Throws outside a transaction the kit opened (runtime.transaction, a consumer's), where nothing would
 * run it.
 */
export function lastInTransaction<T>(
  trx: object,
  key: string,
  items: readonly T[],
  flush: (items: T[]) => Promise<void>,
): void {
  if (items.length === 0) return;
  const last = open.get(trx);
  if (!last)
    throw new Error(`"${key}" is written last in a transaction the service kit opened, and this one is not one`);
  const gathered = last.get(key);
  if (gathered) gathered.items.push(...items);
  else last.set(key, { items: [...items], flush: flush as (items: unknown[]) => Promise<void> });
}
