// Issue a development token (HS256 with JWT_SECRET): `pnpm --filter @grace/chat-gateway token <user> <roles> [hours]`.
import { issueToken, ROLES, type Role } from './domain/auth.js';

const [subject, rolesArg, hoursArg] = process.argv.slice(2);
const secret = process.env.JWT_SECRET;
const roles = (rolesArg ?? '').split(',').filter(Boolean);
const unknown = roles.filter((role) => !(ROLES as readonly string[]).includes(role));
if (!subject || roles.length === 0 || unknown.length > 0 || !secret || secret.length < 32) {
  process.stderr.write(
    `usage: JWT_SECRET=<at least 32 characters> token <user> <${ROLES.join('|')},...> [hours]` +
      (unknown.length ? `\nunknown roles: ${unknown.join(', ')}` : '') +
      (!secret || secret.length < 32
        ? "\nJWT_SECRET must be set to the gateway's secret (at least 32 characters)"
        : '') +
      '\n',
  );
  process.exit(2);
}
const hours = Number(hoursArg ?? 8);
process.stdout.write(
  `${issueToken({ secret, subject, roles: roles as Role[], expiresInSeconds: Math.round(hours * 3600) })}\n`,
);
