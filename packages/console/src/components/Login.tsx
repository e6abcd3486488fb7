// The login screen: paste a JWT; it is kept in sessionStorage for this tab only.
import { useState, type FormEvent } from 'react';

interface Props {
  onLogin: (token: string) => void;
  busy: boolean;
}

/** Accepts a raw JWT or a pasted "Bearer <jwt>" header value. */
export function normalizeToken(input: string): string {
  return input
    .trim()
    .replace(/^bearer\s+/i, '')
    .trim();
}

export function Login({ onLogin, busy }: Props) {
  const [value, setValue] = useState('');
  const token = normalizeToken(value);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (token) onLogin(token);
  };

  return (
    <main className="login">
      <form className="panel login-form" onSubmit={submit} data-testid="login-form">
        <h1>Grace console</h1>
        <p className="muted">Paste your access token (a JWT). It stays in this browser tab only.</p>
        <label htmlFor="token">Access token</label>
        <input
          id="token"
          data-testid="token-input"
          type="password"
          autoComplete="off"
          spellCheck={false}
          placeholder="eyJhbGciOi…"
          value={value}
          onChange={(event) => setValue(event.target.value)}
          disabled={busy}
          autoFocus
        />
        <button type="submit" data-testid="login-button" disabled={busy || !token}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
