// `grace bench`: the whole-system benchmark (seven services as processes, open-loop load, a bare relay
// baseline); prints one JSON document on stdout, progress on stderr. A benchmark, not a test: it asserts nothing.
import { runBench, type BenchOptions } from '@grace/harness';
import { SERVICES, type ProcessName } from '@grace/harness/system';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { CliError, ExitCode, globalOptions } from '../context.js';
import { printJson } from '../output.js';
import { positiveInteger } from '../parse.js';

interface BenchCommandOptions {
  ingestRate: number;
  remediationRate: number;
  lowRate: number;
  seconds: number;
  distinct: number;
  drainTimeout: number;
  databaseUrl: string;
  keep: boolean;
  from: 'source' | 'dist';
  set: string[];
}

function ratio(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError('must be a number from 0 to 1');
  return n;
}

const collect = (value: string, previous: string[]) => [...previous, value];

/** `sentinel:CONSUMER_CONCURRENCY=16` or `all:DB_POOL_MAX=2` -> settings per process. */
function parseSettings(entries: string[]): BenchOptions['settings'] {
  const settings: BenchOptions['settings'] = {};
  for (const entry of entries) {
    const match = /^([a-z-]+):([A-Z][A-Z0-9_]*)=(.*)$/.exec(entry);
    const name = match?.[1] as ProcessName | 'all' | undefined;
    if (!match || !name || (name !== 'all' && !(SERVICES as readonly string[]).includes(name)))
      throw new CliError(
        ExitCode.usage,
        `--set ${entry}: expected <service>:<VARIABLE>=<value> with a service of ${SERVICES.join(', ')} or all`,
      );
    settings[name] = { ...settings[name], [match[2]!]: match[3]! };
  }
  return settings;
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description(
      'run the seven services under open-loop load (ingest, then remediation) beside a bare 7-hop NATS relay; prints JSON',
    )
    .option('--ingest-rate <n>', 'reported errors/s of the ingest load', positiveInteger, 1_000)
    .option(
      '--remediation-rate <n>',
      'errors/s of the remediation load (each one to a verified contract)',
      positiveInteger,
      150,
    )
    .option(
      '--low-rate <n>',
      'errors/s of the short extra remediation load (its p99 at a low rate)',
      positiveInteger,
      20,
    )
    .option('--seconds <n>', 'length of each load', positiveInteger, 10)
    .option(
      '--distinct <ratio>',
      'share of the ingest load with new fingerprints (the rest repeat 20 errors)',
      ratio,
      0.5,
    )
    .option(
      '--drain-timeout <s>',
      'how long to wait for deliveries and for the system to drain after a load',
      positiveInteger,
      120,
    )
    .option(
      '--database-url <url>',
      'a Postgres server; the bench creates (and drops) its own database there',
      process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    )
    .addOption(
      new Option('--from <how>', 'run the services compiled (built first, as deployed) or from source with tsx')
        .choices(['dist', 'source'])
        .default('dist'),
    )
    .option('--keep', 'keep the database and the streams afterwards', false)
    .option('--set <service:VAR=value>', 'extra environment for a service, or all (repeatable)', collect, [])
    .action(async (options: BenchCommandOptions, command: Command) => {
      const report = await runBench({
        natsUrl: globalOptions(command).nats,
        databaseUrl: options.databaseUrl,
        ingestRate: options.ingestRate,
        remediationRate: options.remediationRate,
        lowRate: options.lowRate,
        seconds: options.seconds,
        distinctRatio: options.distinct,
        drainTimeoutMs: options.drainTimeout * 1_000,
        keep: options.keep,
        from: options.from,
        settings: parseSettings(options.set),
        progress: (line) => process.stderr.write(`grace bench: ${line}\n`),
      });
      printJson(report);
      // Missed targets are figures, not failures; a service that crashed is one.
      if (report.service_exits.length > 0) process.exitCode = ExitCode.somethingWrong;
    });
}
