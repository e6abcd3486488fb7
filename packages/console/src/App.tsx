// The console: the login screen, or the header, tabs and the current view for a signed-in user.
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import {
  SIGN_IN_ACTION,
  api,
  clearToken,
  errorMessage,
  isAbort,
  loadToken,
  onUnauthorized,
  saveToken,
  setApiToken,
} from './api';
import { Admin } from './components/Admin';
import { Analytics } from './components/Analytics';
import { Approvals } from './components/Approvals';
import { Chat, type ChatState } from './components/Chat';
import { ContractDetail } from './components/ContractDetail';
import { ErrorBoundary } from './components/ErrorBoundary';
import { Header } from './components/Header';
import { Incidents } from './components/Incidents';
import { Login } from './components/Login';
import { SessionContext, type Session } from './context';
import { TAB_LABELS, TABS, href, useRoute, type Route } from './route';
import { StreamClient } from './stream';
import type { ExecutorStatus, Me } from './types';

const EXECUTOR_POLL_MS = 30_000;

function LastError({ message, onDismiss }: { message: string | null; onDismiss: () => void }) {
  if (!message) return null;
  return (
    <div className="last-error" role="alert">
      <span data-testid="last-error">{message}</span>
      <button type="button" className="link" onClick={onDismiss} aria-label="Dismiss the error">
        Dismiss
      </button>
    </div>
  );
}

export function App() {
  const [token, setToken] = useState<string | null>(() => loadToken());
  const [me, setMe] = useState<Me | null>(null);
  const [lastError, setLastError] = useState<string | null>(null);

  const signOut = useCallback((message: string | null) => {
    clearToken();
    setApiToken(null);
    setToken(null);
    setMe(null);
    setLastError(message);
  }, []);

  useEffect(() => {
    onUnauthorized((message) => signOut(message));
    return () => onUnauthorized(null);
  }, [signOut]);

  // Who the token belongs to: GET /me on sign-in and on reload with a stored token.
  useEffect(() => {
    if (!token) return;
    setApiToken(token);
    const controller = new AbortController();
    api<Me>('/me', { signal: controller.signal, action: SIGN_IN_ACTION }).then(
      (who) => {
        if (controller.signal.aborted) return;
        setMe(who);
        setLastError(null);
      },
      (error: unknown) => {
        if (controller.signal.aborted || isAbort(error)) return;
        signOut(errorMessage(error));
      },
    );
    return () => controller.abort();
  }, [token, signOut]);

  const login = (value: string) => {
    saveToken(value);
    setApiToken(value);
    setLastError(null);
    setToken(value);
  };

  const dismiss = () => setLastError(null);

  if (!token || !me) {
    return (
      <>
        <LastError message={lastError} onDismiss={dismiss} />
        <Login onLogin={login} busy={Boolean(token) && !me} />
      </>
    );
  }
  return (
    <SignedIn
      token={token}
      me={me}
      lastError={lastError}
      setLastError={setLastError}
      onLogout={() => signOut(null)}
      onStreamUnauthorized={(message) => signOut(message)}
    />
  );
}

interface SignedInProps {
  token: string;
  me: Me;
  lastError: string | null;
  setLastError: (message: string | null) => void;
  onLogout: () => void;
  onStreamUnauthorized: (message: string) => void;
}

function SignedIn({ token, me, lastError, setLastError, onLogout, onStreamUnauthorized }: SignedInProps) {
  const route = useRoute();
  const [executor, setExecutor] = useState<ExecutorStatus | null>(null);
  const [chat, setChat] = useState<ChatState>({ messages: [] });

  const report = useCallback(
    (error: unknown) => {
      if (isAbort(error)) return;
      setLastError(errorMessage(error));
    },
    [setLastError],
  );

  // One stream per signed-in token; stopped on logout.
  const unauthorizedRef = useRef(onStreamUnauthorized);
  unauthorizedRef.current = onStreamUnauthorized;
  const stream = useMemo(() => new StreamClient(token, (message) => unauthorizedRef.current(message)), [token]);
  useEffect(() => {
    stream.start();
    return () => stream.stop();
  }, [stream]);

  const refreshExecutor = useCallback(
    async (quiet = false) => {
      try {
        setExecutor(await api<ExecutorStatus>('/executor', { action: "read the executor's status" }));
      } catch (error) {
        // The header polls quietly: a viewer the gateway does not let read the status just sees no badge.
        if (!quiet) report(error);
      }
    },
    [report],
  );

  useEffect(() => {
    void refreshExecutor(true);
    const timer = setInterval(() => void refreshExecutor(true), EXECUTOR_POLL_MS);
    return () => clearInterval(timer);
  }, [refreshExecutor]);

  const session: Session = useMemo(
    () => ({ me, stream, executor, setExecutor, refreshExecutor, report }),
    [me, stream, executor, refreshExecutor, report],
  );

  return (
    <SessionContext.Provider value={session}>
      <div className="app">
        <Header onLogout={onLogout} />
        <nav className="tabs" aria-label="Views">
          {TABS.map((tab) => (
            <a
              key={tab}
              href={href(tab)}
              className={route.tab === tab ? 'tab active' : 'tab'}
              aria-current={route.tab === tab ? 'page' : undefined}
              data-testid={`tab-${tab}`}
            >
              {TAB_LABELS[tab]}
            </a>
          ))}
        </nav>
        <LastError message={lastError} onDismiss={() => setLastError(null)} />
        <main className="content">
          <ErrorBoundary key={route.tab} label={TAB_LABELS[route.tab]}>
            <View route={route} chat={chat} setChat={setChat} />
          </ErrorBoundary>
        </main>
      </div>
    </SessionContext.Provider>
  );
}

function View({
  route,
  chat,
  setChat,
}: {
  route: Route;
  chat: ChatState;
  setChat: (update: (state: ChatState) => ChatState) => void;
}) {
  switch (route.tab) {
    case 'incidents':
      return <Incidents selectedId={route.id} />;
    case 'approvals':
      return <Approvals />;
    case 'contracts':
      return <ContractDetail id={route.id} />;
    case 'chat':
      return <Chat state={chat} setState={setChat} />;
    case 'analytics':
      return <Analytics />;
    case 'admin':
      return <Admin />;
  }
}
