// Who is calling: JWT bearer tokens checked with an allow-listed algorithm, issuer, audience, maximum age and a
// small clock tolerance; roles from the `roles` claim. Also issues HS256 tokens for development (`grace token`).
import jwt, { type Algorithm, type JwtPayload } from 'jsonwebtoken';

export const ROLES = ['viewer', 'operator', 'approver', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  id: string;
  name?: string;
  roles: Role[];
}

export interface VerifierOptions {
  /** A key for the token's algorithm: the HS256 secret, or a PEM public key; or a JWKS lookup by key id. */
  key: string | ((kid: string | undefined) => Promise<string>);
  algorithms: Algorithm[];
  issuer: string;
  audience: string;
  maxAgeSeconds: number;
  clockToleranceSeconds: number;
}

export class AuthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuthError';
  }
}

/** Verify a token; AuthError says why it is refused (never echoing the token). */
export async function verifyToken(token: string, options: VerifierOptions): Promise<Principal> {
  const decoded = jwt.decode(token, { complete: true });
  if (!decoded || typeof decoded === 'string') throw new AuthError('the token is not a JWT');
  const alg = decoded.header.alg;
  // Checked here too so "none" or an unexpected algorithm gets a clear reason before any key lookup.
  if (!(options.algorithms as string[]).includes(alg))
    throw new AuthError(`tokens signed with ${alg} are not accepted (accepted: ${options.algorithms.join(', ')})`);
  const key = typeof options.key === 'string' ? options.key : await options.key(decoded.header.kid);
  let payload: JwtPayload;
  try {
    payload = jwt.verify(token, key, {
      algorithms: options.algorithms,
      issuer: options.issuer,
      audience: options.audience,
      maxAge: options.maxAgeSeconds,
      clockTolerance: options.clockToleranceSeconds,
      complete: false,
    }) as JwtPayload;
  } catch (err) {
    throw new AuthError(`the token is not valid: ${(err as Error).message}`);
  }
  const sub = payload.sub;
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > 128) throw new AuthError('the token has no subject');
  const claimed = Array.isArray(payload.roles) ? (payload.roles as unknown[]) : [];
  const roles = ROLES.filter((role) => claimed.includes(role));
  if (roles.length === 0) throw new AuthError(`the token grants none of the roles ${ROLES.join(', ')}`);
  const name = typeof payload.name === 'string' ? payload.name.slice(0, 128) : undefined;
  return { id: sub, roles, ...(name ? { name } : {}) };
}

/** An HS256 token for development and tests. */
export function issueToken(options: {
  secret: string;
  subject: string;
  roles: Role[];
  name?: string;
  issuer?: string;
  audience?: string;
  expiresInSeconds?: number;
}): string {
  return jwt.sign({ roles: options.roles, ...(options.name ? { name: options.name } : {}) }, options.secret, {
    algorithm: 'HS256',
    subject: options.subject,
    issuer: options.issuer ?? 'grace',
    audience: options.audience ?? 'grace',
    expiresIn: options.expiresInSeconds ?? 3_600,
  });
}

export const hasRole = (principal: Principal, allowed: readonly Role[]) =>
  principal.roles.some((role) => allowed.includes(role));
