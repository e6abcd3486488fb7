// `grace cube <query>`: the cube's analytical queries over the range [now - since, now).
import { Argument, Option, type Command } from 'commander';
import { globalOptions, withGrace } from '../context.js';
import { printJson, printObjects } from '../output.js';
import { duration } from '../parse.js';

const CUBE_QUERIES = ['success_rate', 'mttr', 'error_trends', 'rollback_drift'] as const;
type CubeQuery = (typeof CUBE_QUERIES)[number];
const BUCKETS = ['minute', 'hour', 'day', 'week'] as const;
const WEEK_MS = 7 * 86_400_000;

interface CubeOptions {
  since: number;
  bucket: (typeof BUCKETS)[number];
}

export function registerCube(program: Command): void {
  program
    .command('cube')
    .description("the cube's analytics: success_rate, mttr, error_trends or rollback_drift")
    .addArgument(new Argument('<query>', 'which analysis').choices(CUBE_QUERIES))
    .addOption(
      new Option('--since <duration>', 'how far back, e.g. 30m, 12h, 7d, 2w')
        .argParser(duration)
        .default(WEEK_MS, '7d'),
    )
    .addOption(new Option('--bucket <bucket>', 'time bucket').choices(BUCKETS).default('day'))
    .action(async (query: CubeQuery, options: CubeOptions, command: Command) => {
      const to = new Date();
      const body = {
        from: new Date(to.getTime() - options.since).toISOString(),
        to: to.toISOString(),
        bucket: options.bucket,
      };
      const reply = await withGrace(command, (grace) => grace.query(`cube.query.${query}`, body));
      if (globalOptions(command).json) return printJson(reply);
      printObjects(reply.rows as Record<string, unknown>[]);
    });
}
