// Every call to the gateway's REST API goes through api(): bearer token, 30 s timeout, readable errors.
import type { ApiErrorBody } from './types';

export const API_BASE = '/api/v1';
export const API_TIMEOUT_MS = 30_000;
const TOKEN_KEY = 'grace.console.token';

/** A failed call, with a message meant for a human. `status` is 0 when no HTTP answer arrived. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
  ) {
    super(message);
  }
}

// ---- the token: kept for the browser tab only (sessionStorage), never in localStorage or a cookie ----

export function loadToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function saveToken(token: string): void {
  try {
    sessionStorage.setItem(TOKEN_KEY, token);
  } catch {
    // Storage may be disabled; the token then lives in memory only (App state).
  }
}

export function clearToken(): void {
  try {
    sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // nothing stored
  }
}

let currentToken: string | null = loadToken();
let unauthorizedHandler: ((message: string) => void) | null = null;

export function setApiToken(token: string | null): void {
  currentToken = token;
}

/** Called when the gateway answers 401: the app forgets the token and shows the login screen. */
export function onUnauthorized(handler: ((message: string) => void) | null): void {
  unauthorizedHandler = handler;
}

export interface ApiOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  body?: unknown;
  /** Query string parameters; undefined and empty values are left out. */
  query?: Record<string, string | number | boolean | undefined>;
  /** The caller's cancellation (e.g. a component unmounting). */
  signal?: AbortSignal;
  /** What the call does, for a 403's message: "Your role cannot <action>." */
  action?: string;
  timeoutMs?: number;
}

/** The call that checks a freshly pasted token (GET /me on sign-in) says "did not accept", not "no longer valid". */
export const SIGN_IN_ACTION = 'sign in';
function currentlySigningIn(action: string | undefined): boolean {
  return action === SIGN_IN_ACTION;
}

/** True for a call the caller itself cancelled: nothing to report. */
export function isAbort(error: unknown): boolean {
  return error instanceof DOMException && error.name === 'AbortError';
}

/** A readable message for anything thrown. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  if (typeof error === 'string') return error;
  return 'Unexpected error';
}

function buildUrl(path: string, query: ApiOptions['query']): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value === undefined || value === '') continue;
    params.set(key, String(value));
  }
  const qs = params.toString();
  return `${API_BASE}${path}${qs ? `?${qs}` : ''}`;
}

async function readErrorBody(response: Response): Promise<Partial<ApiErrorBody> | null> {
  try {
    const text = await response.text();
    if (!text) return null;
    const parsed: unknown = JSON.parse(text);
    return parsed && typeof parsed === 'object' ? (parsed as Partial<ApiErrorBody>) : null;
  } catch {
    return null;
  }
}

function describeServerError(body: Partial<ApiErrorBody> | null, response: Response): string {
  const base =
    typeof body?.message === 'string' && body.message
      ? body.message
      : `The gateway answered ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
  const details = Array.isArray(body?.details)
    ? body.details
        .slice(0, 5)
        .map((d) => `${d.path || '(body)'}: ${d.message}`)
        .join('; ')
    : '';
  return details ? `${base} (${details})` : base;
}

/**
 * Calls `${API_BASE}${path}` with the bearer token and answers the parsed JSON body (undefined for an empty one).
 * Throws ApiError with a readable message; a call the caller aborted rethrows the AbortError (see isAbort).
 */
export async function api<T>(path: string, options: ApiOptions = {}): Promise<T> {
  const { method = 'GET', body, query, signal, action, timeoutMs = API_TIMEOUT_MS } = options;
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  const forwardAbort = () => controller.abort();
  if (signal?.aborted) controller.abort();
  signal?.addEventListener('abort', forwardAbort, { once: true });

  const headers: Record<string, string> = { Accept: 'application/json' };
  if (currentToken) headers.Authorization = `Bearer ${currentToken}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';

  try {
    let response: Response;
    try {
      response = await fetch(buildUrl(path, query), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: controller.signal,
        credentials: 'same-origin',
        cache: 'no-store',
      });
    } catch (error) {
      if (timedOut) {
        throw new ApiError(`The gateway did not answer within ${Math.round(timeoutMs / 1000)} s`, 0, 'timeout');
      }
      if (isAbort(error)) throw error;
      throw new ApiError('Network error: the gateway cannot be reached (check your connection)', 0, 'network');
    }

    if (response.status === 401) {
      const errorBody = await readErrorBody(response);
      const why = errorBody?.message ? ` (${errorBody.message})` : '';
      const message = currentlySigningIn(action)
        ? `The gateway did not accept this token${why}`
        : `Your session is no longer valid${why}; sign in again`;
      unauthorizedHandler?.(message);
      throw new ApiError(message, 401, errorBody?.error ?? 'unauthorized');
    }
    if (response.status === 403) {
      const errorBody = await readErrorBody(response);
      const what = action ?? `${method === 'GET' ? 'view' : 'change'} ${path}`;
      const why = errorBody?.message ? ` (${errorBody.message})` : '';
      throw new ApiError(`Your role cannot ${what}${why}`, 403, errorBody?.error ?? 'forbidden');
    }
    if (!response.ok) {
      const errorBody = await readErrorBody(response);
      throw new ApiError(describeServerError(errorBody, response), response.status, errorBody?.error ?? 'http_error');
    }

    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      if (timedOut) {
        throw new ApiError(`The gateway did not answer within ${Math.round(timeoutMs / 1000)} s`, 0, 'timeout');
      }
      if (isAbort(error)) throw error;
      throw new ApiError('Network error while reading the answer', 0, 'network');
    }
    if (!text) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError('The gateway answered with something that is not JSON', response.status, 'invalid_json');
    }
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', forwardAbort);
  }
}
