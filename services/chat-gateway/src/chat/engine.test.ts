// Tests of the chat engine over fake tools: role refusals, tool errors, explanations, lists and cube answers.
import { describe, expect, it } from '@jest/globals';
import type { QueryReply } from '@grace/contracts';
import { permitted, respond } from './engine.js';
import { understand } from './intents.js';
import { ToolError, type ChatTools, type ChatUser } from './tools.js';

const NOW = new Date('2024-06-13T15:20:00.000Z');
const viewer: ChatUser = { id: 'vera', roles: ['viewer'] };
const operator: ChatUser = { id: 'otto', roles: ['operator'] };
const approver: ChatUser = { id: 'ava', roles: ['approver'] };
const admin: ChatUser = { id: 'ada', roles: ['admin'] };
const nobody: ChatUser = { id: 'nobody', roles: [] };

type Incident = QueryReply<'sentinel.query.incidents'>['items'][number];

const incident: Incident = {
  incident_id: 'inc-1',
  fingerprint: '0123456789abcdef0123456789abcdef',
  signature: 'database:connectionrefused',
  service: 'checkout',
  environment: 'production',
  kind: 'ConnectionRefused',
  severity: 'critical',
  category: 'database',
  blast_radius: 'high',
  status: 'escalated',
  reason: 'out of candidates after 2 attempts',
  attempts: 2,
  occurrences: 1234,
  opened_at: '2024-06-13T14:00:00.000Z',
  changed_at: '2024-06-13T14:30:00.000Z',
};

const detail: QueryReply<'sentinel.query.incident'> = {
  incident,
  timeline: [
    { status: 'detected', reason: 'first occurrence', at: '2024-06-13T14:00:00.000Z' },
    { status: 'escalated', previous_status: 'verifying', reason: 'out of candidates', at: '2024-06-13T14:30:00.000Z' },
  ],
  trail: [
    {
      attempt: 1,
      playbook: 'restart_service',
      action_id: 'act-1',
      reason: 'highest Thompson draw among 3 candidates',
      candidates: [
        { playbook: 'restart_service', score: 0.8234 },
        { playbook: 'reconnect_database', score: 0.4102 },
        { playbook: 'clear_cache', excluded: 'cooldown' },
      ],
      decided_at: '2024-06-13T14:01:00.000Z',
      outcome: 'failed',
      outcome_reason: 'pods never became ready',
      confidence: 0.93,
    },
    {
      attempt: 2,
      playbook: 'reconnect_database',
      action_id: 'act-2',
      reason: 'restart_service failed on this incident',
      candidates: [
        { playbook: 'restart_service', excluded: 'failed on this incident' },
        { playbook: 'reconnect_database', score: 0.61 },
      ],
      decided_at: '2024-06-13T14:10:00.000Z',
      outcome: 'rolled_back',
    },
  ],
};

const approvals: QueryReply<'executor.query.approvals'> = {
  items: [
    {
      approval_id: 'ap-1',
      contract_id: 'c-1',
      action_id: 'act-9',
      quorum: { required: 2, role: 'approver' },
      plan: {
        playbook: 'rollback_deployment',
        adapter: 'kubernetes',
        action: 'rollout_undo',
        target: { service: 'checkout', environment: 'production' },
        params: {},
        tier: 3,
        expected_effect: { target_state: {}, error_rate_ceiling: 0 },
        checks: [],
        timeout_ms: 60_000,
      } as unknown as QueryReply<'executor.query.approvals'>['items'][number]['plan'],
      requested_by: { kind: 'service', id: 'sentinel' },
      reason: 'tier 3 in production needs two approvers',
      requested_at: '2024-06-13T15:00:00.000Z',
      expires_at: '2024-06-13T16:00:00.000Z',
      status: 'pending',
      votes: [{ voter_id: 'ava', decision: 'approve', cast_at: '2024-06-13T15:05:00.000Z', counted: true }],
    },
  ],
};

interface Call {
  tool: string;
  args: unknown[];
}

/** Plain-object tools that record their calls; `override` replaces any of them. */
function fakeTools(override: Partial<ChatTools> = {}): { tools: ChatTools; calls: Call[] } {
  const calls: Call[] = [];
  const record =
    <A extends unknown[], R>(tool: string, answer: (...args: A) => R) =>
    async (...args: A): Promise<Awaited<R>> => {
      calls.push({ tool, args });
      return await answer(...args);
    };
  const tools: ChatTools = {
    status: record('status', () => ({
      paused: false,
      held_actions: 0,
      open_contracts: 2,
      dry_run: false,
      open_incidents: 3,
      pending_approvals: 1,
    })),
    listIncidents: record('listIncidents', () => ({ items: [incident] })),
    showIncident: record('showIncident', (id: string) => {
      if (id !== 'inc-1') throw new ToolError('not_found', `no incident ${id}`);
      return detail;
    }),
    pendingApprovals: record('pendingApprovals', () => approvals),
    vote: record('vote', () => ({ vote_id: 'v-1' })),
    runPlaybook: record('runPlaybook', () => ({ action_id: 'act-77' })),
    mute: record('mute', () => ({ muted_until: '2024-06-13T17:20:00.000Z' })),
    cube: record('cube', () => ({ rows: [] })) as ChatTools['cube'],
    ...override,
  };
  return { tools, calls };
}

const ask = (message: string, user: ChatUser, tools: ChatTools) => respond(understand(message, NOW), user, tools);

describe('roles', () => {
  it.each([
    ['approve ap-1', viewer],
    ['reject ap-1 too risky', operator],
    ['run restart_service on checkout in production', viewer],
    ['run restart_service on checkout in production', approver],
    ['mute abc for 1h', approver],
    ['open incidents', nobody],
  ])('refuses %j for %j without calling a tool', async (message, user) => {
    const { tools, calls } = fakeTools();
    const reply = await ask(message, user, tools);
    expect(reply.text).toMatch(/^You need .* role/);
    expect(reply.text).toContain(user.roles.join(', ') || 'none');
    expect(reply.data).toEqual({ error: 'forbidden' });
    expect(calls).toEqual([]);
  });

  it('lets approvers and admins vote, operators and admins act, anyone with a role read', () => {
    expect(permitted(approver, 'approve') && permitted(admin, 'reject')).toBe(true);
    expect(permitted(operator, 'run_playbook') && permitted(admin, 'mute')).toBe(true);
    expect(permitted(viewer, 'cube') && permitted(approver, 'list_incidents')).toBe(true);
    expect(permitted(nobody, 'status')).toBe(false);
    expect(permitted(nobody, 'help')).toBe(true);
  });

  it('checks the role before asking for what is missing', async () => {
    const reply = await ask('approve', viewer, fakeTools().tools);
    expect(reply.text).toMatch(/approver or admin/);
  });
});

describe('actions', () => {
  it('votes with the comment and says where to follow it', async () => {
    const { tools, calls } = fakeTools();
    const reply = await ask('reject ap-1 because too risky', approver, tools);
    expect(calls).toEqual([{ tool: 'vote', args: ['ap-1', 'reject', 'too risky'] }]);
    expect(reply).toMatchObject({
      intent: 'reject',
      data: { approval_id: 'ap-1', vote_id: 'v-1', decision: 'reject' },
    });
    expect(reply.text).toContain('Your reject vote on ap-1');
  });

  it('runs a playbook for an operator', async () => {
    const { tools, calls } = fakeTools();
    const reply = await ask('run restart_service on checkout in production', operator, tools);
    expect(calls).toEqual([{ tool: 'runPlaybook', args: ['restart_service', 'checkout', 'production'] }]);
    expect(reply.text).toContain('restart_service on checkout in production (action act-77)');
  });

  it('mutes with a default reason naming the user', async () => {
    const { tools, calls } = fakeTools();
    const reply = await ask('mute db:timeout for 2h', admin, tools);
    expect(calls).toEqual([
      { tool: 'mute', args: [{ signature: 'db:timeout' }, 7_200_000, 'muted from the chat by ada'] },
    ]);
    expect(reply.text).toBe('Muted signature db:timeout for 2 h, until 2024-06-13 17:20 UTC.');
  });

  it('answers a clarification without calling a tool', async () => {
    const { tools, calls } = fakeTools();
    const reply = await ask('run restart_service on checkout', operator, tools);
    expect(reply.text).toMatch(/In which environment\?/);
    expect(calls).toEqual([]);
  });
});

describe('tool errors', () => {
  it.each([
    ['not_found', 'incident inc-404', /could not find incident inc-404/],
    ['timeout', 'open incidents', /The sentinel did not answer in time/],
    ['unavailable', 'status', /The executor is unavailable right now \(no responders\)/],
    ['invalid_request', 'error trends today', /The analytics cube rejected the request: bad range/],
    ['forbidden', 'approve ap-1', /Grace refused: requester cannot vote/],
  ] as const)('%s becomes a sentence saying what to do', async (code, message, expected) => {
    const fail = async () => {
      throw new ToolError(
        code,
        { unavailable: 'no responders', invalid_request: 'bad range' }[code as string] ?? 'requester cannot vote',
      );
    };
    const { tools } = fakeTools({
      listIncidents: fail,
      status: fail,
      cube: fail as ChatTools['cube'],
      vote: fail,
    });
    const reply = await ask(message, admin, tools);
    expect(reply.text).toMatch(expected);
    expect(reply.data).toEqual({ error: code });
  });

  it('a vote on an unknown approval points at the pending list', async () => {
    const { tools } = fakeTools({
      vote: async () => {
        throw new ToolError('not_found', 'no approval');
      },
    });
    expect((await ask('approve ap-9', approver, tools)).text).toMatch(
      /could not find a pending approval ap-9.*"approvals"/,
    );
  });

  it('an unexpected error is reported without throwing', async () => {
    const { tools } = fakeTools({
      pendingApprovals: async () => {
        throw new Error('socket hang up');
      },
    });
    const reply = await ask('approvals', viewer, tools);
    expect(reply.text).toMatch(/Something went wrong while trying to list approvals: socket hang up/);
    expect(reply.data).toEqual({ error: 'internal' });
  });
});

describe('answers', () => {
  it('explains the decision trail: playbook, why, draws and exclusions, outcome', async () => {
    const { tools, calls } = fakeTools();
    const reply = await ask('why inc-1', viewer, tools);
    expect(calls).toEqual([{ tool: 'showIncident', args: ['inc-1'] }]);
    expect(reply.intent).toBe('explain');
    expect(reply.text.split('\n')).toEqual([
      'Incident inc-1 (ConnectionRefused on checkout/production) is escalated: out of candidates after 2 attempts',
      'Grace made 2 attempts, each choosing a playbook by a draw from what it learned works for this error:',
      'Attempt 1: restart_service at 2024-06-13 14:01 UTC (action act-1)',
      '  Why: highest Thompson draw among 3 candidates',
      '  Candidates: restart_service drew 0.82 (chosen), reconnect_database drew 0.41, clear_cache excluded (cooldown)',
      '  Outcome: failed: pods never became ready (confidence 0.93)',
      'Attempt 2: reconnect_database at 2024-06-13 14:10 UTC (action act-2)',
      '  Why: restart_service failed on this incident',
      '  Candidates: restart_service excluded (failed on this incident), reconnect_database drew 0.61 (chosen)',
      '  Outcome: rolled back',
    ]);
    expect(reply.data).toEqual(detail);
  });

  it('explains an incident with no attempt yet', async () => {
    const fresh = { ...detail, incident: { ...incident, status: 'triaged' as const, attempts: 0 }, trail: [] };
    const { tools } = fakeTools({ showIncident: async () => fresh });
    expect((await ask('explain inc-1', viewer, tools)).text).toMatch(/has not attempted a remediation/);
  });

  it('shows one incident with its timeline and a pointer to the trail', async () => {
    const reply = await ask('incident inc-1', viewer, fakeTools().tools);
    expect(reply.text).toContain(
      'Status: escalated, severity critical, blast radius high, 1,234 occurrences, 2 attempts',
    );
    expect(reply.text).toContain('  2024-06-13 14:30 UTC  escalated — out of candidates');
    expect(reply.text).toContain('restart_service failed, reconnect_database rolled_back. Say "explain inc-1"');
  });

  it('lists incidents one per line with the filter passed through', async () => {
    const { tools, calls } = fakeTools();
    const reply = await ask('open incidents on checkout', viewer, tools);
    expect(calls).toEqual([{ tool: 'listIncidents', args: [{ open: true, service: 'checkout', limit: 20 }] }]);
    expect(reply.text.split('\n')).toEqual([
      '1 open incident on checkout, newest first:',
      'inc-1  critical  checkout/production  ConnectionRefused — escalated, 2 attempts, 1,234 occurrences, opened 2024-06-13 14:00 UTC',
      'Say "incident <id>" for details or "explain <id>" for why Grace acted.',
    ]);
  });

  it('keeps a long list to at most 40 lines', async () => {
    const items = Array.from({ length: 100 }, (_, i) => ({ ...incident, incident_id: `inc-${i}` }));
    const { tools } = fakeTools({ listIncidents: async () => ({ items, next_cursor: 'next' }) });
    const lines = (await ask('incidents limit 100', viewer, tools)).text.split('\n');
    expect(lines.length).toBeLessThanOrEqual(40);
    expect(lines).toContain('…and 75 more.');
    expect(lines.join('\n')).toMatch(/There are more: narrow it down/);
  });

  it('says when nothing matches', async () => {
    const { tools } = fakeTools({ listIncidents: async () => ({ items: [] }) });
    expect((await ask('open incidents in staging', viewer, tools)).text).toBe('No open incidents in staging.');
  });

  it('summarises the status and pending approvals', async () => {
    const { tools } = fakeTools();
    const status = await ask("what's going on", viewer, tools);
    expect(status.text).toMatch(/^Grace is running/);
    expect(status.text).toContain('Open incidents: 3');
    const pending = await ask('what needs approval', viewer, tools);
    expect(pending.text).toContain(
      'ap-1  rollback_deployment on checkout/production (tier 3) — 1 of 2 approver votes, expires 2024-06-13 16:00 UTC',
    );
  });

  it('says when Grace is paused', async () => {
    const { tools } = fakeTools({
      status: async () => ({
        paused: true,
        paused_by: 'ada',
        paused_at: '2024-06-13T15:00:00.000Z',
        reason: 'database migration',
        held_actions: 4,
        open_contracts: 0,
        dry_run: true,
        open_incidents: 0,
        pending_approvals: 0,
      }),
    });
    const text = (await ask('status', viewer, tools)).text;
    expect(text).toMatch(/^Grace is PAUSED by ada since 2024-06-13 15:00 UTC: database migration\./);
    expect(text).toContain('held actions: 4');
    expect(text).toContain('Dry-run mode is on');
  });

  it('help and unknown list what the engine understands, with examples', async () => {
    const help = await ask('help', nobody, fakeTools().tools);
    expect(help.text).toMatch(/^I understand:/);
    expect(help.text).toContain('run restart_service on checkout in production');
    const unknown = await ask('banana', viewer, fakeTools().tools);
    expect(unknown.text).toMatch(/^I did not understand "banana"\.\nI understand:/);
  });
});

describe('cube answers', () => {
  const cubeReturning = (reply: unknown) => fakeTools({ cube: (async () => reply) as ChatTools['cube'] });

  it('totals the success rate per group over the buckets, most executed first', async () => {
    const { tools } = cubeReturning({
      rows: [
        {
          bucket_start: '2024-06-10T00:00:00.000Z',
          group: 'clear_cache',
          executed: 10,
          verified: 9,
          success_rate: 0.9,
        },
        {
          bucket_start: '2024-06-10T00:00:00.000Z',
          group: 'restart_service',
          executed: 1000,
          verified: 800,
          success_rate: 0.8,
        },
        {
          bucket_start: '2024-06-11T00:00:00.000Z',
          group: 'restart_service',
          executed: 200,
          verified: 190,
          success_rate: 0.95,
        },
      ],
    });
    const reply = await ask('success rate this week', viewer, tools);
    expect(reply.text.split('\n')).toEqual([
      'Success rate by playbook, this week (2024-06-10 00:00 UTC to 2024-06-13 15:20 UTC):',
      'restart_service: 82.5% (990 of 1,200 verified)',
      'clear_cache: 90.0% (9 of 10 verified)',
      'Overall: 82.6% (999 of 1,210 verified)',
    ]);
    expect(reply.data).toMatchObject({ query: 'cube.query.success_rate', rows: expect.any(Array) });
  });

  it('weights the mean time to resolve by resolved incidents and keeps the slowest p90', async () => {
    const row = { service: 'checkout', environment: 'production', p50_ms: 60_000 };
    const { tools } = cubeReturning({
      rows: [
        { ...row, bucket_start: '2024-06-10T00:00:00.000Z', resolved: 3, mean_ms: 60_000, p90_ms: 120_000 },
        { ...row, bucket_start: '2024-06-11T00:00:00.000Z', resolved: 1, mean_ms: 300_000, p90_ms: 3_900_000 },
      ],
    });
    const reply = await ask('mttr for checkout last 7 days', viewer, tools);
    expect(reply.text.split('\n')[1]).toBe(
      'checkout/production: 4 incidents resolved, mean 2 min, slowest p90 1 h 5 min',
    );
  });

  it('ranks error trends with their week-over-week change', async () => {
    const { tools } = cubeReturning({
      rows: [
        {
          bucket_start: '2024-06-13T10:00:00.000Z',
          fingerprint: 'fp-a',
          kind: 'Timeout',
          occurrences: 1500,
          previous_week_occurrences: 1000,
        },
        {
          bucket_start: '2024-06-13T10:00:00.000Z',
          fingerprint: 'fp-b',
          kind: 'OOM',
          category: 'memory',
          occurrences: 3,
          previous_week_occurrences: 0,
        },
      ],
    });
    const lines = (await ask('error trends today', viewer, tools)).text.split('\n');
    expect(lines.slice(1)).toEqual([
      '1,500× Timeout [fp-a], +50.0% week over week',
      '3× OOM (memory) [fp-b], none the week before',
    ]);
  });

  it('shows rollback and drift per tier and the worst playbooks', async () => {
    const counts = {
      adapter: 'kubernetes',
      executed: 50,
      rolled_back: 5,
      drifted: 1,
      rollback_rate: 0.1,
      drift_rate: 0.02,
    };
    const { tools } = cubeReturning({
      rows: [{ bucket_start: '2024-06-01T00:00:00.000Z', tier: 2, ...counts }],
      worst_playbooks: [{ playbook: 'scale_up', tier: 2, ...counts }],
    });
    const lines = (await ask('rollback rate by tier this month', viewer, tools)).text.split('\n');
    expect(lines).toContain('Tier 2: 10.0% rolled back, 2.0% drifted, of 50 executed');
    expect(lines).toContain('  scale_up (kubernetes, tier 2): 10.0% rolled back, 2.0% drifted, of 50 executed');
  });

  it('says when the cube has no data for the range', async () => {
    const { tools } = cubeReturning({ rows: [] });
    expect((await ask('mttr for checkout today', viewer, tools)).text).toBe(
      'No data for checkout for today (2024-06-13 00:00 UTC to 2024-06-13 16:00 UTC).',
    );
  });
});
