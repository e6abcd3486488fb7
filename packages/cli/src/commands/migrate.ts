// `grace migrate`: bring the services' Postgres schemas to their latest migrations, one service after the other,
// through each service's own `migrate` entry point (the one the Kubernetes migrate Jobs run).
import { mainOf, REPO_ROOT, SERVICES, type ServiceName } from '@grace/harness/system';
import { spawn } from 'node:child_process';
import { Option, type Command } from 'commander';
import { CliError, ExitCode, globalOptions } from '../context.js';
import { printJson, printTable } from '../output.js';

interface Migrated {
  service: ServiceName;
  schema: string;
  applied: string[];
}

/** Run `<service> migrate` and read what it applied from its log line. */
function migrateOne(service: ServiceName, env: NodeJS.ProcessEnv): Promise<Migrated> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', mainOf(service), 'migrate'], {
      cwd: `${REPO_ROOT}services/${service}`,
      env: { ...process.env, ...env, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      const line = out
        .split('\n')
        .map((l) => {
          try {
            return JSON.parse(l) as { schema?: string; applied?: string[] };
          } catch {
            return undefined;
          }
        })
        .find((l) => l?.schema && Array.isArray(l.applied));
      if (code === 0 && line) return resolve({ service, schema: line.schema!, applied: line.applied! });
      const reason = (err.trim() || out.trim()).split('\n').slice(-3).join('\n');
      const unreachable = /ECONNREFUSED|ENOTFOUND|timeout|does not exist|password authentication/i.test(reason);
      reject(
        new CliError(
          unreachable ? ExitCode.unreachable : ExitCode.somethingWrong,
          `${service}: migration failed (exit ${code}): ${reason}` +
            (unreachable ? '\n  is PostgreSQL running, and does DATABASE_URL (or --database-url) point at it?' : ''),
        ),
      );
    });
  });
}

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description("create each service's schema and apply its migrations (forward only; safe to repeat)")
    .addOption(
      new Option('--database-url <url>', 'the PostgreSQL to migrate')
        .env('DATABASE_URL')
        .default('postgres://postgres@127.0.0.1:5432/postgres'),
    )
    .option('--service <names>', `comma-separated, among ${SERVICES.join(', ')} (default: all)`)
    .action(async (options: { databaseUrl: string; service?: string }, command: Command) => {
      const wanted = options.service ? options.service.split(',').map((s) => s.trim()) : [...SERVICES];
      const unknown = wanted.filter((s) => !(SERVICES as readonly string[]).includes(s));
      if (unknown.length)
        throw new CliError(ExitCode.usage, `unknown service ${unknown.join(', ')}; one of ${SERVICES.join(', ')}`);
      // Each service owns its schema, so they migrate side by side.
      const done = await Promise.all(
        (wanted as ServiceName[]).map((service) => migrateOne(service, { DATABASE_URL: options.databaseUrl })),
      );
      if (globalOptions(command).json) return printJson(done);
      printTable(
        ['service', 'schema', 'applied'],
        done.map((m) => [m.service, m.schema, m.applied.length ? m.applied.join(', ') : 'up to date']),
      );
    });
}
