// Operator-owned files (routes, playbooks, policies) hot-reloaded: a bad edit keeps the last good version.
import type { Kysely } from 'kysely';
import { createHash } from 'node:crypto';
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import { errorMessage } from './errors.js';
import type { Logger } from './logger.js';
import type { KitTables } from './outbox.js';

export interface WatchedFile<T> {
  /** The last version that parsed. */
  current(): T;
  /** sha256 of the text of the current version. */
  checksum(): string;
  /** Read the file now; true when a new version was loaded. */
  reload(): Promise<boolean>;
  stop(): void;
}

export interface WatchFileOptions<T> {
  path: string;
  /** What the file is, for logs and errors ("routing rules"). */
  what: string;
  /** Throws with a readable message when the text is not acceptable. */
  parse: (text: string) => T;
  /** Runs after each successful load (e.g. record the version); a failure here is logged, not fatal. */
  onLoad?: (value: T, text: string, checksum: string) => Promise<void> | void;
  /** Called when a changed file is rejected, with the reason. */
  onReject?: (reason: string) => void;
  log: Logger;
  intervalMs: number;
}

/**
 * Load `path` (throwing if the first version is unreadable or invalid: a service does not start on a broken
 * file), then poll it; a changed file that parses replaces the current version, one that does not is logged
 * and ignored. Polling stats the path, so it also sees a Kubernetes ConfigMap's symlink swap.
 */
export async function watchConfigFile<T>(opts: WatchFileOptions<T>): Promise<WatchedFile<T>> {
  const read = () => readFileSync(opts.path, 'utf8');
  const hash = (text: string) => createHash('sha256').update(text).digest('hex');
  let text: string;
  try {
    text = read();
  } catch (err) {
    throw new Error(`cannot read ${opts.what} at ${opts.path}: ${errorMessage(err)}`, { cause: err });
  }
  let value: T;
  try {
    value = opts.parse(text);
  } catch (err) {
    throw new Error(`${opts.what} at ${opts.path} are not valid: ${errorMessage(err)}`, { cause: err });
  }
  let checksum = hash(text);
  await opts.onLoad?.(value, text, checksum);
  opts.log.info({ file: opts.path, checksum }, `${opts.what} loaded`);

  let reloading: Promise<boolean> | undefined;
  const reload = async (): Promise<boolean> => {
    let next: string;
    try {
      next = read();
    } catch (err) {
      const reason = `cannot read ${opts.path}: ${errorMessage(err)}`;
      opts.log.error({ file: opts.path, reason }, `${opts.what} unreadable; keeping the last good version`);
      opts.onReject?.(reason);
      return false;
    }
    const nextChecksum = hash(next);
    if (nextChecksum === checksum) return false;
    let parsed: T;
    try {
      parsed = opts.parse(next);
    } catch (err) {
      const reason = errorMessage(err);
      opts.log.error({ file: opts.path, reason }, `${opts.what} rejected; keeping the last good version`);
      opts.onReject?.(reason);
      // Remember the rejected text so it is reported once, not on every poll.
      checksum = nextChecksum;
      return false;
    }
    value = parsed;
    checksum = nextChecksum;
    try {
      await opts.onLoad?.(parsed, next, nextChecksum);
    } catch (err) {
      opts.log.warn({ file: opts.path, err: errorMessage(err) }, `${opts.what} loaded, but recording it failed`);
    }
    opts.log.info({ file: opts.path, checksum }, `${opts.what} reloaded`);
    return true;
  };
  const onChange = () => {
    reloading ??= reload().finally(() => (reloading = undefined));
  };
  watchFile(opts.path, { interval: opts.intervalMs, persistent: false }, onChange);
  return {
    current: () => value,
    checksum: () => checksum,
    reload: () => (reloading ??= reload().finally(() => (reloading = undefined))),
    stop: () => unwatchFile(opts.path, onChange),
  };
}

/**
 * Keep a loaded version of an operator file in the service's `file_versions` table (once per content);
 * returns its version number, which only grows.
 */
export async function recordFileVersion<DB>(
  db: Kysely<DB>,
  file: string,
  checksum: string,
  source: string,
  path: string,
): Promise<number> {
  const kit = db as unknown as Kysely<KitTables>;
  await kit
    .insertInto('file_versions')
    .values({ file, checksum, source, path })
    .onConflict((oc) => oc.columns(['file', 'checksum']).doNothing())
    .execute();
  const row = await kit
    .selectFrom('file_versions')
    .select('version')
    .where('file', '=', file)
    .where('checksum', '=', checksum)
    .executeTakeFirstOrThrow();
  return row.version;
}

export interface VersionedFile<T> extends WatchedFile<T> {
  /** `v<N>-<first 12 hex of the checksum>` of the current version, as recorded in `file_versions`. */
  version(): string;
}

/**
 * An operator file that is watched and whose every loaded version is kept in `file_versions`, so each decision
 * can name the version it was taken under (`version()`).
 */
export async function watchVersionedFile<DB, T>(
  db: Kysely<DB>,
  opts: Omit<WatchFileOptions<T>, 'onLoad'>,
): Promise<VersionedFile<T>> {
  let version = 'unrecorded';
  const watched = await watchConfigFile<T>({
    ...opts,
    onLoad: async (_value, text, checksum) => {
      version = `v${await recordFileVersion(db, opts.what, checksum, text, opts.path)}-${checksum.slice(0, 12)}`;
    },
  });
  return { ...watched, version: () => version };
}
