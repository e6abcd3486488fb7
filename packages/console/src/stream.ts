// The live stream: one WebSocket to /api/v1/stream, reconnected with backoff, fanned out to subscribers.
import type { WsClientMessage, WsServerMessage } from './types';

export type StreamState = 'connecting' | 'open' | 'closed';
type Listener = (message: WsServerMessage) => void;
type StateListener = (state: StreamState) => void;

export const STREAM_PROTOCOL = 'grace.v1';
const MIN_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 30_000;
const PING_EVERY_MS = 25_000;
/** A connection that stayed open this long resets the backoff. */
const STABLE_AFTER_MS = 10_000;
/** Close code the gateway may use to say the token is not (or no longer) accepted: back to the login screen. */
const CLOSE_UNAUTHORIZED = 4401;
/** Close code for a token that is valid but may not read the stream: no point reconnecting. */
const CLOSE_FORBIDDEN = 4403;

function streamUrl(): string {
  const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${window.location.host}/api/v1/stream`;
}

export function parseServerMessage(raw: unknown): WsServerMessage | null {
  if (typeof raw !== 'string') return null;
  try {
    const parsed: unknown = JSON.parse(raw);
    if (!parsed || typeof parsed !== 'object') return null;
    const type = (parsed as { type?: unknown }).type;
    return typeof type === 'string' ? (parsed as WsServerMessage) : null;
  } catch {
    return null;
  }
}

/**
 * The browser cannot set headers on a WebSocket, so the token travels as a subprotocol: ['grace.v1', 'bearer.<jwt>'].
 * The gateway must answer with 'grace.v1' (the browser fails the handshake otherwise).
 */
export class StreamClient {
  private socket: WebSocket | null = null;
  private listeners = new Set<Listener>();
  private stateListeners = new Set<StateListener>();
  private state: StreamState = 'closed';
  private attempts = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private openedAt = 0;
  private stopped = true;

  constructor(
    private readonly token: string,
    private readonly onUnauthorized: (message: string) => void,
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.pingTimer);
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.onopen = socket.onclose = socket.onerror = socket.onmessage = null;
      if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING) socket.close(1000);
    }
    this.setState('closed');
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onState(listener: StateListener): () => void {
    this.stateListeners.add(listener);
    listener(this.state);
    return () => this.stateListeners.delete(listener);
  }

  getState(): StreamState {
    return this.state;
  }

  /** Sends a message when the stream is open; answers false otherwise. */
  send(message: WsClientMessage): boolean {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  private setState(state: StreamState): void {
    if (this.state === state) return;
    this.state = state;
    for (const listener of this.stateListeners) listener(state);
  }

  private connect(): void {
    if (this.stopped) return;
    this.setState('connecting');
    let socket: WebSocket;
    try {
      socket = new WebSocket(streamUrl(), [STREAM_PROTOCOL, `bearer.${this.token}`]);
    } catch {
      // A token with characters a subprotocol cannot carry: no stream, the REST API still answers.
      this.setState('closed');
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      this.openedAt = Date.now();
      this.setState('open');
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => this.send({ type: 'ping' }), PING_EVERY_MS);
    };
    socket.onmessage = (event: MessageEvent) => {
      const message = parseServerMessage(event.data);
      if (!message) return;
      for (const listener of this.listeners) {
        try {
          listener(message);
        } catch {
          // one subscriber's failure must not starve the others
        }
      }
    };
    socket.onerror = () => {
      // onclose follows and schedules the reconnect
    };
    socket.onclose = (event: CloseEvent) => {
      clearInterval(this.pingTimer);
      if (this.socket === socket) this.socket = null;
      this.setState('closed');
      if (this.stopped) return;
      if (event.code === CLOSE_UNAUTHORIZED) {
        this.stopped = true;
        this.onUnauthorized(event.reason || 'The live stream refused the token; sign in again');
        return;
      }
      if (event.code === CLOSE_FORBIDDEN) {
        this.stopped = true;
        return;
      }
      if (this.openedAt && Date.now() - this.openedAt >= STABLE_AFTER_MS) this.attempts = 0;
      this.openedAt = 0;
      this.scheduleReconnect();
    };
  }

  private scheduleReconnect(): void {
    const exp = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** this.attempts);
    this.attempts += 1;
    // Full jitter on the upper half, so many consoles do not reconnect in step after a gateway restart.
    const delay = exp / 2 + Math.random() * (exp / 2);
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }
}
