// `grace dlq list` and `grace dlq replay <seq>`: read the dead letters and send a dead event round again.
import { validateDeadLetter, type DeadLetter } from '@grace/contracts';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { Command } from 'commander';
import { randomUUID } from 'node:crypto';
import { CliError, ExitCode, globalOptions, withGrace, type Grace } from '../context.js';
import { printJson, printTable } from '../output.js';
import { positiveInteger } from '../parse.js';

interface StoredLetter {
  seq: number;
  letter: DeadLetter;
}

export function registerDlq(program: Command): void {
  const dlq = program.command('dlq').description('dead letters: events a consumer gave up on');

  dlq
    .command('list')
    .description('dead letters, newest first')
    .option('--limit <n>', 'at most this many', positiveInteger, 20)
    .action(async (options: { limit: number }, command: Command) => {
      const letters = await withGrace(command, (grace) => newestLetters(grace, options.limit));
      if (globalOptions(command).json) return printJson(letters);
      printTable(
        ['seq', 'failed', 'subject', 'reason', 'consumer', 'message'],
        letters.map(({ seq, letter }) => [
          seq,
          letter.failed_at,
          letter.subject,
          letter.reason,
          letter.consumer,
          letter.message.slice(0, 80),
        ]),
      );
    });

  dlq
    .command('replay')
    .description('republish the event of a dead letter to its subject, with a new message id')
    .argument('<seq>', 'the dead letter sequence (from dlq list)', positiveInteger)
    .action(async (seq: number, _options: unknown, command: Command) => {
      const stored = await withGrace(command, async (grace) => {
        const { letter } = await readLetter(grace, await grace.jetstreamManager(), seq);
        if (letter.event === undefined)
          throw new CliError(
            ExitCode.invalidRequest,
            `dead letter ${seq} holds no JSON event (reason ${letter.reason}); there is nothing to replay`,
          );
        return {
          subject: letter.subject,
          ...(await grace.publish(letter.subject, JSON.stringify(letter.event), randomUUID())),
        };
      });
      if (globalOptions(command).json) return printJson(stored);
      process.stdout.write(`replayed dead letter ${seq} to ${stored.subject} (${stored.stream} seq ${stored.seq})\n`);
    });
}

function dlqStream(grace: Grace): string {
  return grace.naming.stream('GRACE_DLQ');
}

async function newestLetters(grace: Grace, limit: number): Promise<StoredLetter[]> {
  const jsm = await grace.jetstreamManager();
  const info = await streamInfo(grace, jsm);
  const out: StoredLetter[] = [];
  for (let seq = info.state.last_seq; seq >= info.state.first_seq && seq > 0 && out.length < limit; seq--) {
    const letter = await readLetter(grace, jsm, seq).catch((err: unknown) => {
      if (err instanceof CliError && err.exitCode === ExitCode.notFound) return undefined; // deleted or purged
      throw err;
    });
    if (letter) out.push(letter);
  }
  return out;
}

async function streamInfo(grace: Grace, jsm: JetStreamManager) {
  try {
    return await jsm.streams.info(dlqStream(grace));
  } catch (err) {
    throw new CliError(
      ExitCode.unreachable,
      `stream ${dlqStream(grace)} is not there (${(err as Error).message}); start a Grace service to provision it, or check --namespace`,
    );
  }
}

async function readLetter(grace: Grace, jsm: JetStreamManager, seq: number): Promise<StoredLetter> {
  await streamInfo(grace, jsm);
  const message = await jsm.streams.getMessage(dlqStream(grace), { seq }).catch(() => null);
  if (!message) throw new CliError(ExitCode.notFound, `no dead letter at seq ${seq} in ${dlqStream(grace)}`);
  let parsed: unknown;
  try {
    parsed = message.json();
  } catch {
    throw new CliError(ExitCode.somethingWrong, `dead letter ${seq} is not JSON`);
  }
  const letter = validateDeadLetter(parsed);
  if (!letter.ok) throw new CliError(ExitCode.somethingWrong, `dead letter ${seq} is not a dead letter`, letter.errors);
  return { seq, letter: letter.value };
}
