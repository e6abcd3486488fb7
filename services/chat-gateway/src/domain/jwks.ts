// Public keys from a JWKS endpoint by key id, for RS256/ES256 tokens: fetched with a timeout, cached, refetched
// when an unknown key id shows up (key rotation), at most once a minute.
import { createPublicKey } from 'node:crypto';
import { tracedFetch } from '@grace/service-kit';
import { AuthError } from './auth.js';

interface Jwk {
  kid?: string;
  kty: string;
  use?: string;
}

export function jwksKeys(url: string, options: { timeoutMs?: number; cacheMs?: number } = {}) {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const cacheMs = options.cacheMs ?? 600_000;
  let keys = new Map<string, string>();
  let fetchedAt = 0;
  let fetching: Promise<void> | undefined;

  async function refresh(): Promise<void> {
    const res = await tracedFetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) throw new AuthError(`the key set at ${url} answered ${res.status}`);
    const body = (await res.json()) as { keys?: Jwk[] };
    const next = new Map<string, string>();
    for (const jwk of body.keys ?? []) {
      if (jwk.use && jwk.use !== 'sig') continue;
      try {
        const pem = createPublicKey({ key: jwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
        next.set(jwk.kid ?? '', String(pem));
      } catch {
        // A key this process cannot read (another key type) is simply not offered.
      }
    }
    keys = next;
    fetchedAt = Date.now();
  }

  return async (kid: string | undefined): Promise<string> => {
    const id = kid ?? '';
    const stale = Date.now() - fetchedAt > cacheMs;
    const unknownButMayRotate = !keys.has(id) && Date.now() - fetchedAt > 60_000;
    if (stale || unknownButMayRotate) {
      fetching ??= refresh().finally(() => (fetching = undefined));
      await fetching;
    }
    const key = keys.get(id);
    if (!key) throw new AuthError(`no key ${kid ?? '(without id)'} in the key set`);
    return key;
  };
}
