// `grace crash-test`: kill -9 each service in turn under load, restart NATS and Postgres, then check that nothing
// was lost, stuck, done twice or left unsent. Prints one JSON report; exits 1 naming each invariant that broke.
import { runCrashTest } from '@grace/harness';
import type { Command } from 'commander';
import { ExitCode } from '../context.js';
import { printJson } from '../output.js';
import { positiveInteger } from '../parse.js';

interface CrashTestCommandOptions {
  rate: number;
  secondsBetweenKills: number;
  targets: number;
  quietTimeout: number;
  keep: boolean;
}

export function registerCrashTest(program: Command): void {
  program
    .command('crash-test')
    .description(
      'start Grace on its own NATS and PostgreSQL, kill -9 each service in turn under load, restart NATS and ' +
        'Postgres, and print counts of lost errors, unfinished contracts, double executions and unsent events',
    )
    .option('--rate <n>', 'errors reported per second', positiveInteger, 20)
    .option('--seconds-between-kills <s>', 'load before, between and after the faults', positiveInteger, 8)
    .option('--targets <n>', 'target services that get remediated', positiveInteger, 8)
    .option('--quiet-timeout <s>', 'longest wait for the system to settle after the load', positiveInteger, 180)
    .option('--keep', 'keep the work directory (NATS store, Postgres data, service logs)', false)
    .action(async (options: CrashTestCommandOptions) => {
      const report = await runCrashTest({
        rate: options.rate,
        secondsBetweenKills: options.secondsBetweenKills,
        targets: options.targets,
        quietTimeoutSeconds: options.quietTimeout,
        keep: options.keep,
        log: (line) => process.stderr.write(`crash-test: ${line}\n`),
      });
      printJson(report);
      if (!report.ok) process.stderr.write(`crash-test: invariants violated: ${report.violated.join(', ')}\n`);
      process.exitCode = report.ok ? ExitCode.ok : ExitCode.somethingWrong;
    });
}
