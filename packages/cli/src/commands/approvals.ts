// `grace approve` and `grace reject`: an operator's vote on an approval (approval.vote.cast on JetStream).
import { ContractViolationError, createEvent } from '@grace/contracts';
import type { Command } from 'commander';
import { randomUUID } from 'node:crypto';
import { CliError, ExitCode, globalOptions, withGrace } from '../context.js';
import { printJson } from '../output.js';

// Real users vote through the chat gateway, which takes their roles from their token. This operator tool
// votes as the approver named by --as, so it is for operators who already hold NATS credentials.
export function registerApprovals(program: Command): void {
  for (const decision of ['approve', 'reject'] as const) {
    program
      .command(decision)
      .description(`${decision} a pending approval as an approver (operator tool; users vote through the gateway)`)
      .argument('<approval-id>', 'the approval to vote on')
      .requiredOption('--as <user>', 'the voter id (the requester of the action never counts)')
      .option('--comment <comment>', 'why')
      .action(async (approvalId: string, options: { as: string; comment?: string }, command: Command) => {
        const event = voteEvent(approvalId, decision, options);
        const stored = await withGrace(command, (grace) =>
          grace.publish('approval.vote.cast', JSON.stringify(event), event.data.vote_id),
        );
        if (globalOptions(command).json) printJson({ vote_id: event.data.vote_id, event_id: event.id, ...stored });
        else process.stdout.write(`${decision} vote ${event.data.vote_id} cast on ${approvalId} as ${options.as}\n`);
      });
  }
}

function voteEvent(approvalId: string, decision: 'approve' | 'reject', options: { as: string; comment?: string }) {
  try {
    return createEvent(
      'approval.vote.cast',
      {
        vote_id: randomUUID(),
        approval_id: approvalId,
        voter_id: options.as,
        voter_roles: ['approver'],
        decision,
        ...(options.comment ? { comment: options.comment } : {}),
        cast_at: new Date().toISOString(),
      },
      { source: 'grace/cli' },
    );
  } catch (err) {
    if (err instanceof ContractViolationError)
      throw new CliError(ExitCode.invalidRequest, 'the vote breaks the approval.vote.cast contract', [...err.errors]);
    throw err;
  }
}
