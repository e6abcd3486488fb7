// `grace incidents`, `grace incident <id>` and `grace playbooks`: the sentinel's view of incidents and playbooks.
import type { QueryReply, QueryRequest } from '@grace/contracts';
import type { Command } from 'commander';
import { globalOptions, withGrace } from '../context.js';
import { printJson, printTable } from '../output.js';
import { positiveInteger } from '../parse.js';

export function registerSentinel(program: Command): void {
  program
    .command('incidents')
    .description('list incidents, newest first')
    .option('--open', 'only open incidents (neither resolved nor escalated)')
    .option('--service <service>', 'only incidents of this service')
    .option('--limit <n>', 'at most this many', positiveInteger)
    .action(async (options: { open?: boolean; service?: string; limit?: number }, command: Command) => {
      const body: QueryRequest<'sentinel.query.incidents'> = {
        ...(options.open ? { open: true } : {}),
        ...(options.service ? { service: options.service } : {}),
        ...(options.limit ? { limit: options.limit } : {}),
      };
      const reply = await withGrace(command, (grace) => grace.query('sentinel.query.incidents', body));
      if (globalOptions(command).json) return printJson(reply);
      printTable(
        ['id', 'status', 'service/env', 'kind', 'attempts', 'opened'],
        reply.items.map((i) => [
          i.incident_id,
          i.status,
          `${i.service}/${i.environment}`,
          i.kind,
          i.attempts,
          i.opened_at,
        ]),
      );
      if (reply.next_cursor) process.stdout.write('(more: raise --limit)\n');
    });

  program
    .command('incident')
    .description('one incident with its timeline and decision trail')
    .argument('<id>', 'the incident id')
    .action(async (id: string, _options: unknown, command: Command) => {
      const reply = await withGrace(command, (grace) => grace.query('sentinel.query.incident', { incident_id: id }));
      if (globalOptions(command).json) return printJson(reply);
      printIncident(reply);
    });

  program
    .command('playbooks')
    .description('the playbook catalog with the statistics the sentinel chooses by')
    .action(async (_options: unknown, command: Command) => {
      const reply = await withGrace(command, (grace) => grace.query('sentinel.query.playbooks', {}));
      if (globalOptions(command).json) return printJson(reply);
      process.stdout.write(`catalog version ${reply.catalog_version}\n`);
      printTable(
        ['playbook', 'adapter', 'action', 'tier', 'executions', 'successes', 'rollbacks'],
        reply.playbooks.map((p) => {
          const overall = p.statistics.find((s) => s.signature === undefined);
          return [p.name, p.adapter, p.action, p.tier, overall?.executions, overall?.successes, overall?.rollbacks];
        }),
      );
    });
}

function printIncident({ incident: i, timeline, trail }: QueryReply<'sentinel.query.incident'>): void {
  process.stdout.write(
    [
      `incident   ${i.incident_id}`,
      `status     ${i.status}: ${i.reason}`,
      `service    ${i.service}/${i.environment}`,
      `error      ${i.kind} (${i.severity}), ${i.occurrences} occurrence(s)`,
      `signature  ${i.signature}`,
      `attempts   ${i.attempts}${i.playbook ? `, last playbook ${i.playbook}` : ''}`,
      `opened     ${i.opened_at}`,
      '',
      'timeline',
    ].join('\n') + '\n',
  );
  printTable(
    ['at', 'from', 'to', 'reason'],
    timeline.map((t) => [t.at, t.previous_status, t.status, t.reason]),
  );
  process.stdout.write('\ntrail\n');
  printTable(
    ['attempt', 'playbook', 'outcome', 'decided', 'reason'],
    trail.map((d) => [d.attempt, d.playbook, d.outcome, d.decided_at, d.outcome_reason ?? d.reason]),
  );
}
