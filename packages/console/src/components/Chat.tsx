// Chat with Grace: the conversation (kept while the tab is switched), replies rendered as plain text.
import { useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import { api } from '../api';
import { hasRole, useSession } from '../context';
import { formatJson, formatTime } from '../format';
import type { ChatReply, ChatRequest } from '../types';

export const CHAT_MAX_CHARS = 2_000;

export interface ChatMessage {
  id: string;
  author: 'user' | 'grace';
  text: string;
  at: string;
  intent?: string;
  source?: string;
  data?: Record<string, unknown>;
  failed?: boolean;
}

export interface ChatState {
  conversationId?: string;
  messages: ChatMessage[];
}

let localIds = 0;

export function Chat({
  state,
  setState,
}: {
  state: ChatState;
  setState: (update: (state: ChatState) => ChatState) => void;
}) {
  const { me, report } = useSession();
  const [draft, setDraft] = useState('');
  const [sending, setSending] = useState(false);
  const transcript = useRef<HTMLOListElement>(null);
  const canChat = hasRole(me, 'operator', 'admin');

  useEffect(() => {
    const list = transcript.current;
    if (list) list.scrollTop = list.scrollHeight;
  }, [state.messages.length]);

  const send = async () => {
    const message = draft.trim();
    if (!message || sending) return;
    const id = `local-${++localIds}`;
    setState((s) => ({
      ...s,
      messages: [...s.messages, { id, author: 'user', text: message, at: new Date().toISOString() }],
    }));
    setDraft('');
    setSending(true);
    try {
      const body: ChatRequest = state.conversationId ? { message, conversation_id: state.conversationId } : { message };
      const reply = await api<ChatReply>('/chat', { method: 'POST', body, action: 'chat with Grace' });
      setState((s) => ({
        conversationId: reply.conversation_id,
        messages: [
          ...s.messages,
          {
            id: reply.message_id,
            author: 'grace',
            text: reply.text,
            at: reply.at,
            intent: reply.intent,
            source: reply.source,
            data: reply.data,
          },
        ],
      }));
    } catch (error) {
      setState((s) => ({ ...s, messages: s.messages.map((m) => (m.id === id ? { ...m, failed: true } : m)) }));
      setDraft((current) => current || message);
      report(error);
    } finally {
      setSending(false);
    }
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    void send();
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      void send();
    }
  };

  return (
    <section className="panel chat" data-testid="chat">
      <div className="panel-head">
        <h2>Chat</h2>
        <button
          type="button"
          className="secondary"
          onClick={() => setState(() => ({ messages: [] }))}
          disabled={state.messages.length === 0 || sending}
        >
          New conversation
        </button>
      </div>
      {!canChat && <p className="muted">Chat needs the operator or admin role.</p>}
      <ol className="transcript" ref={transcript} data-testid="chat-transcript" aria-live="polite">
        {state.messages.length === 0 && (
          <li className="muted">Ask Grace, e.g. “status”, “list incidents” or “help”.</li>
        )}
        {state.messages.map((message) => (
          <li
            key={message.id}
            className={`message message-${message.author}${message.failed ? ' failed' : ''}`}
            data-testid="chat-message"
            data-author={message.author}
          >
            <div className="message-meta">
              {message.author === 'user' ? 'You' : 'Grace'} · {formatTime(message.at)}
              {message.intent && ` · ${message.intent}`}
              {message.source && message.source !== 'engine' && ` · ${message.source}`}
              {message.failed && ' · not sent'}
            </div>
            <div className="message-text">{message.text}</div>
            {message.data && Object.keys(message.data).length > 0 && (
              <details>
                <summary>Data</summary>
                <pre className="json">{formatJson(message.data)}</pre>
              </details>
            )}
          </li>
        ))}
        {sending && <li className="muted">Grace is thinking…</li>}
      </ol>
      <form className="chat-form" onSubmit={submit}>
        <textarea
          data-testid="chat-input"
          value={draft}
          maxLength={CHAT_MAX_CHARS}
          rows={3}
          placeholder="Message Grace (Enter to send, Shift+Enter for a new line)"
          onChange={(event) => setDraft(event.target.value)}
          onKeyDown={onKeyDown}
          aria-label="Message"
        />
        <button type="submit" data-testid="chat-send" disabled={sending || !draft.trim()}>
          {sending ? 'Sending…' : 'Send'}
        </button>
      </form>
    </section>
  );
}
