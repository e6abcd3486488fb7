// `grace audit verify`: re-hash the executor's audit chain and say whether any row was altered.
import type { Command } from 'commander';
import { ExitCode, globalOptions, withGrace } from '../context.js';
import { printJson } from '../output.js';

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description("the action executor's tamper-evident audit chain");
  audit
    .command('verify')
    .description('verify the whole chain; exits 1 when it is broken')
    .action(async (_options: unknown, command: Command) => {
      const reply = await withGrace(command, (grace) =>
        grace.query('executor.query.audit', { verify: true, limit: 1 }),
      );
      const verification = reply.verification;
      if (globalOptions(command).json) printJson(verification ?? null);
      if (!verification) {
        process.stderr.write('grace: the executor did not verify the chain; is it an older version?\n');
        process.exitCode = ExitCode.somethingWrong;
        return;
      }
      if (verification.ok) {
        if (!globalOptions(command).json)
          process.stdout.write(`audit chain intact: ${verification.checked} entries checked\n`);
        return;
      }
      process.stderr.write(
        `grace: audit chain broken at seq ${verification.first_broken_seq ?? '?'}: ${verification.reason ?? 'no reason given'}` +
          ` (${verification.checked} entries checked); treat the entries from there on as untrusted and investigate\n`,
      );
      process.exitCode = ExitCode.somethingWrong;
    });
}
