// `grace publish-error`: report an error to Grace as a producer would (error.reported on JetStream).
import { ContractViolationError, createEvent, type EventData } from '@grace/contracts';
import type { Command } from 'commander';
import { CliError, ExitCode, globalOptions, withGrace } from '../context.js';
import { printJson } from '../output.js';

interface PublishErrorOptions {
  service: string;
  environment: string;
  kind: string;
  message: string;
  severity: string;
}

export function registerPublishError(program: Command): void {
  program
    .command('publish-error')
    .description('publish an error.reported event, as a producer would, and print its event id')
    .requiredOption('--service <service>', 'the service that failed')
    .requiredOption('--environment <environment>', 'its environment, e.g. production')
    .requiredOption('--kind <kind>', 'error type or class, e.g. ConnectionRefused')
    .requiredOption('--message <message>', 'what went wrong')
    .option('--severity <severity>', 'debug, info, warning, error or critical', 'error')
    .action(async (options: PublishErrorOptions, command: Command) => {
      const event = reportedEvent(options);
      const stored = await withGrace(command, (grace) =>
        grace.publish('error.reported', JSON.stringify(event), event.id),
      );
      if (globalOptions(command).json) printJson({ id: event.id, ...stored });
      else process.stdout.write(`${event.id}\n`);
    });
}

function reportedEvent(options: PublishErrorOptions) {
  const data = {
    service: options.service,
    environment: options.environment,
    kind: options.kind,
    message: options.message,
    severity: options.severity,
    occurred_at: new Date().toISOString(),
    origin: 'cli',
  } as EventData<'error.reported'>;
  try {
    return createEvent('error.reported', data, { source: 'grace/cli' });
  } catch (err) {
    if (err instanceof ContractViolationError)
      throw new CliError(ExitCode.invalidRequest, 'the error breaks the error.reported contract', [...err.errors]);
    throw err;
  }
}
