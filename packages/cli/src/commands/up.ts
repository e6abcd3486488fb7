// `grace up`: run the whole of Grace on this machine (the seven services and a demo target) until Ctrl-C.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { resolve } from 'node:path';
import { globalOptions } from '../context.js';
import { DETACHED_ENV, runDetached } from '../system/up/detach.js';
import { up } from '../system/up/run.js';
import { DEFAULT_PORT_BASE, defaultDataDir } from '../system/up/settings.js';

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535 - 6)
    throw new InvalidArgumentError('must be a port between 0 and 65529 (0: any free ports)');
  return n;
}

interface UpCommandOptions {
  demo: boolean;
  otel?: boolean;
  dataDir?: string;
  portBase: number;
}

export function registerUp(program: Command): void {
  program
    .command('up')
    .description(
      'run Grace here: find or start NATS and PostgreSQL, start the seven services and a demo target, show their logs; Ctrl-C stops all',
    )
    .option('--no-demo', 'no demo target, and the services keep their shipped settings')
    .option(
      '--otel',
      'traces: start Jaeger (in memory; the jaeger binary on PATH or from scripts/tools.sh) and send every service its spans',
    )
    .addOption(
      new Option(
        '--data-dir <dir>',
        'where a started nats-server and PostgreSQL keep their data (default: .grace/ in the repository; as root, ' +
          'when the postgres user cannot reach it: /var/tmp/grace-<repository path>)',
      ).env('GRACE_DATA_DIR'),
    )
    .addOption(
      new Option('--port-base <port>', "the console's port; the services take the next six (0: any free ports)")
        .env('GRACE_PORT_BASE')
        .argParser(port)
        .default(DEFAULT_PORT_BASE),
    )
    .action(async (options: UpCommandOptions, command: Command) => {
      // A signal to our process group (Ctrl-C) must not reach the children: supervise from a session of our own.
      if (!process.env[DETACHED_ENV]) process.exit(await runDetached());
      const global = globalOptions(command);
      const natsSource = command.parent?.getOptionValueSource('nats');
      const natsGiven = natsSource === 'cli' || natsSource === 'env';
      const code = await up({
        demo: options.demo,
        otel: options.otel === true,
        dataDir: resolve(options.dataDir ?? defaultDataDir()),
        portBase: options.portBase,
        namespace: global.namespace,
        ...(natsGiven ? { natsUrl: global.nats } : {}),
        env: process.env,
      });
      // Exit now: nothing of the run may keep the process (or its exit code) waiting.
      process.exit(code);
    });
}
