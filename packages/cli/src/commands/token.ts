// `grace token`: sign a development JWT (HS256 with JWT_SECRET) for the chat gateway.
import { InvalidArgumentError, type Command } from 'commander';
import jwt from 'jsonwebtoken';
import { CliError, ExitCode, globalOptions } from '../context.js';
import { printJson } from '../output.js';

const ROLES = ['viewer', 'operator', 'approver', 'admin'];

function roles(value: string): string[] {
  const list = value.split(',').map((r) => r.trim());
  const unknown = list.filter((r) => !ROLES.includes(r));
  if (unknown.length > 0 || list.length === 0)
    throw new InvalidArgumentError(`unknown role ${unknown.join(', ')}; roles are ${ROLES.join(', ')}`);
  return [...new Set(list)];
}

function hours(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 24 * 30) throw new InvalidArgumentError('must be hours between 0 and 720');
  return n;
}

export function registerToken(program: Command): void {
  program
    .command('token')
    .description('sign a development token for the gateway (HS256 with JWT_SECRET; iss and aud "grace")')
    .requiredOption('--user <user>', 'the subject (user id)')
    .requiredOption('--role <roles>', `comma-separated roles: ${ROLES.join(', ')}`, roles)
    .option('--hours <hours>', 'how long the token is valid', hours, 8)
    .action((options: { user: string; role: string[]; hours: number }, command: Command) => {
      const secret = process.env.JWT_SECRET;
      if (!secret)
        throw new CliError(ExitCode.usage, 'JWT_SECRET is not set; export the secret the chat gateway verifies with');
      const token = jwt.sign({ roles: options.role }, secret, {
        algorithm: 'HS256',
        subject: options.user,
        issuer: 'grace',
        audience: 'grace',
        expiresIn: Math.round(options.hours * 3600),
      });
      if (globalOptions(command).json) printJson({ token, user: options.user, roles: options.role });
      else process.stdout.write(`${token}\n`);
    });
}
