// What every view shares: the signed-in user, the live stream, the executor's status and the last error.
import { createContext, useCallback, useContext, useEffect, useRef, useState } from 'react';
import { errorMessage, isAbort } from './api';
import type { StreamClient, StreamState } from './stream';
import type { ExecutorStatus, Me, Role, StreamEvent } from './types';

export interface Session {
  me: Me;
  stream: StreamClient;
  executor: ExecutorStatus | null;
  setExecutor: (status: ExecutorStatus) => void;
  refreshExecutor: (quiet?: boolean) => Promise<void>;
  report: (error: unknown) => void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside a signed-in session');
  return session;
}

export function hasRole(me: Me, ...roles: Role[]): boolean {
  return me.roles.some((role) => roles.includes(role));
}

/** Calls `handler(subject, data, event)` for every stream event whose subject starts with one of `prefixes`. */
export function useStreamEvents(
  prefixes: readonly string[],
  handler: (subject: string, data: Record<string, unknown>, event: StreamEvent) => void,
): void {
  const { stream } = useSession();
  const handlerRef = useRef(handler);
  handlerRef.current = handler;
  const key = prefixes.join('|');
  useEffect(() => {
    const wanted = key.split('|');
    return stream.subscribe((message) => {
      if (message.type !== 'event') return;
      if (!wanted.some((prefix) => message.subject.startsWith(prefix))) return;
      const event = message.event as StreamEvent;
      const data = event && typeof event.data === 'object' && event.data !== null ? event.data : {};
      handlerRef.current(message.subject, data as Record<string, unknown>, event);
    });
  }, [stream, key]);
}

export function useStreamState(): StreamState {
  const { stream } = useSession();
  const [state, setState] = useState<StreamState>(stream.getState());
  useEffect(() => stream.onState(setState), [stream]);
  return state;
}

export interface Loaded<T> {
  data: T | undefined;
  error: string | null;
  loading: boolean;
  reload: () => void;
}

/**
 * Loads data when `key` changes (and on reload()), cancelling the previous load; errors are reported to the
 * app's last-error banner and kept for the view. A null key loads nothing.
 */
export function useLoad<T>(key: string | null, load: (signal: AbortSignal) => Promise<T>): Loaded<T> {
  const { report } = useSession();
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [nonce, setNonce] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const lastKey = useRef<string | null>(null);

  useEffect(() => {
    if (key === null) {
      setData(undefined);
      setError(null);
      setLoading(false);
      return;
    }
    if (lastKey.current !== key) setData(undefined);
    lastKey.current = key;
    const controller = new AbortController();
    setLoading(true);
    loadRef.current(controller.signal).then(
      (value) => {
        if (controller.signal.aborted) return;
        setData(value);
        setError(null);
        setLoading(false);
      },
      (err: unknown) => {
        if (controller.signal.aborted || isAbort(err)) return;
        setError(errorMessage(err));
        setLoading(false);
        report(err);
      },
    );
    return () => controller.abort();
  }, [key, nonce, report]);

  const reload = useCallback(() => setNonce((n) => n + 1), []);
  return { data, error, loading, reload };
}

/** The current time, refreshed every `everyMs`, for relative times ("in 4 min"). */
export function useNow(everyMs = 30_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}
