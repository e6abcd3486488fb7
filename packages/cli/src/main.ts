#!/usr/bin/env -S node --conditions=source --import tsx
// The grace command: parse the command line, run one command, exit with a code that means something.
import { Command, CommanderError, Option } from 'commander';
import { registerApprovals } from './commands/approvals.js';
import { registerAudit } from './commands/audit.js';
import { registerBench } from './commands/bench.js';
import { registerCrashTest } from './commands/crash-test.js';
import { registerCube } from './commands/cube.js';
import { registerDlq } from './commands/dlq.js';
import { registerMigrate } from './commands/migrate.js';
import { registerPublishError } from './commands/publish-error.js';
import { registerSentinel } from './commands/sentinel.js';
import { registerToken } from './commands/token.js';
import { registerUp } from './commands/up.js';
import { ExitCode } from './context.js';
import { printError } from './output.js';
import { positiveInteger } from './parse.js';

// Help and --version are fine; every other commander failure is a usage error.
function exitCodeOf(err: CommanderError): number {
  return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? ExitCode.ok : ExitCode.usage;
}

export function buildProgram(): Command {
  const program = new Command('grace')
    .description("Grace's operator tool: talks to Grace over NATS (request-reply and JetStream)")
    .exitOverride((err) => {
      throw err;
    })
    .addOption(
      new Option('--nats <url>', 'NATS server URL(s), comma-separated')
        .env('NATS_URL')
        .default('nats://127.0.0.1:4222'),
    )
    .addOption(
      new Option('--namespace <ns>', "the deployment's subject/stream prefix").env('GRACE_NAMESPACE').default(''),
    )
    .option('--json', 'machine-readable output', false)
    .option('--timeout <ms>', 'how long to wait for an answer', positiveInteger, 5_000)
    .showHelpAfterError('(run with --help for usage)');
  registerPublishError(program);
  registerSentinel(program);
  registerApprovals(program);
  registerCube(program);
  registerDlq(program);
  registerAudit(program);
  registerToken(program);
  registerMigrate(program);
  registerUp(program);
  registerCrashTest(program);
  registerBench(program);
  return program;
}

async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.ok;
  } catch (err) {
    if (err instanceof CommanderError) return exitCodeOf(err);
    return printError(err);
  }
}

process.exitCode = await main(process.argv);
