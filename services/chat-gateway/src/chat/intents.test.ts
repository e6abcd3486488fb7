// Tests of the intent parser: a table of everyday phrasings, time ranges at a fixed now, and clarifications.
import { describe, expect, it } from '@jest/globals';
import { MAX_MUTE_MS, readPeriod, understand, type Understood } from './intents.js';

// A Thursday afternoon: this week began on Monday 2024-06-10.
const NOW = new Date('2024-06-13T15:20:00.000Z');
const UUID = '3f1c2a9e-1111-4222-8333-444455556666';
const FP = '0123456789abcdef0123456789abcdef';

const hours = (n: number) => n * 3_600_000;

const cases: [string, Understood][] = [
  ['help', { intent: 'help', args: {} }],
  ['What can you do?', { intent: 'help', args: {} }],
  ['status', { intent: 'status', args: {} }],
  ['Hey Grace, how are things?', { intent: 'status', args: {} }],
  ["what's going on", { intent: 'status', args: {} }],
  ['What\u2019s going on right now?', { intent: 'status', args: {} }],
  ['is grace paused', { intent: 'status', args: {} }],
  ['incidents', { intent: 'list_incidents', args: {} }],
  ['open incidents', { intent: 'list_incidents', args: { open: true } }],
  ['incidents on checkout', { intent: 'list_incidents', args: { service: 'checkout' } }],
  ['show incidents in production', { intent: 'list_incidents', args: { environment: 'production' } }],
  [
    'Please show me the open incidents for checkout in staging, thanks!',
    { intent: 'list_incidents', args: { open: true, service: 'checkout', environment: 'staging' } },
  ],
  ['are there any active incidents?', { intent: 'list_incidents', args: { open: true } }],
  ['what incidents are open', { intent: 'list_incidents', args: { open: true } }],
  ['checkout incidents', { intent: 'list_incidents', args: { service: 'checkout' } }],
  ['list 5 resolved incidents', { intent: 'list_incidents', args: { open: false, limit: 5 } }],
  [
    'incidents on the payments service in the production environment',
    { intent: 'list_incidents', args: { service: 'payments', environment: 'production' } },
  ],
  ['incidents in checkout', { intent: 'list_incidents', args: { service: 'checkout' } }],
  [`show incident ${UUID}`, { intent: 'show_incident', args: { incident_id: UUID } }],
  ['incident inc-42', { intent: 'show_incident', args: { incident_id: 'inc-42' } }],
  ['tell me about incident INC_7', { intent: 'show_incident', args: { incident_id: 'INC_7' } }],
  ['why inc-42', { intent: 'explain', args: { incident_id: 'inc-42' } }],
  [`Explain ${UUID}.`, { intent: 'explain', args: { incident_id: UUID } }],
  ['explain incident abc:1', { intent: 'explain', args: { incident_id: 'abc:1' } }],
  [`why did you restart checkout for incident ${UUID}?`, { intent: 'explain', args: { incident_id: UUID } }],
  ['approve ap-1', { intent: 'approve', args: { approval_id: 'ap-1' } }],
  [
    'approve ap-1 because the change window is open',
    { intent: 'approve', args: { approval_id: 'ap-1', comment: 'the change window is open' } },
  ],
  [
    'Reject ap-2, too risky during peak',
    { intent: 'reject', args: { approval_id: 'ap-2', comment: 'too risky during peak' } },
  ],
  [`please approve ${UUID} thanks`, { intent: 'approve', args: { approval_id: UUID } }],
  ['deny ap-3', { intent: 'reject', args: { approval_id: 'ap-3' } }],
  ['what needs approval', { intent: 'pending_approvals', args: {} }],
  ['What needs my approval?', { intent: 'pending_approvals', args: {} }],
  ['approvals', { intent: 'pending_approvals', args: {} }],
  ['show pending approvals', { intent: 'pending_approvals', args: {} }],
  [
    'run restart_service on checkout in production',
    { intent: 'run_playbook', args: { playbook: 'restart_service', service: 'checkout', environment: 'production' } },
  ],
  [
    'could you run the clear_cache playbook for service cart in staging?',
    { intent: 'run_playbook', args: { playbook: 'clear_cache', service: 'cart', environment: 'staging' } },
  ],
  [
    'restart_service checkout staging',
    { intent: 'run_playbook', args: { playbook: 'restart_service', service: 'checkout', environment: 'staging' } },
  ],
  [
    `mute ${FP} for 2h because deploy in progress`,
    {
      intent: 'mute',
      args: { target: { fingerprint: FP }, duration_ms: hours(2), reason: 'deploy in progress' },
    },
  ],
  [
    'mute signature database:connection refused for 30 minutes',
    { intent: 'mute', args: { target: { signature: 'database:connection refused' }, duration_ms: 1_800_000 } },
  ],
  [
    'mute db:timeout for 1d noisy during the migration',
    {
      intent: 'mute',
      args: { target: { signature: 'db:timeout' }, duration_ms: hours(24), reason: 'noisy during the migration' },
    },
  ],
  [
    'mute p:checkout-oom for 45s',
    { intent: 'mute', args: { target: { fingerprint: 'p:checkout-oom' }, duration_ms: 45_000 } },
  ],
  ['mute abc for 7d', { intent: 'mute', args: { target: { fingerprint: 'abc' }, duration_ms: MAX_MUTE_MS } }],
  [
    'success rate of restart_service this week',
    {
      intent: 'cube',
      args: {
        query: 'cube.query.success_rate',
        request: {
          from: '2024-06-10T00:00:00.000Z',
          to: '2024-06-13T15:20:00.000Z',
          bucket: 'day',
          playbook: 'restart_service',
        },
        period: 'this week',
      },
    },
  ],
  [
    'mttr for checkout last 7 days',
    {
      intent: 'cube',
      args: {
        query: 'cube.query.mttr',
        request: {
          from: '2024-06-06T15:20:00.000Z',
          to: '2024-06-13T15:20:00.000Z',
          bucket: 'day',
          service: 'checkout',
        },
        period: 'the last 7 days',
      },
    },
  ],
  [
    'error trends today',
    {
      intent: 'cube',
      args: {
        query: 'cube.query.error_trends',
        request: { from: '2024-06-13T00:00:00.000Z', to: '2024-06-13T16:00:00.000Z', bucket: 'hour' },
        period: 'today',
      },
    },
  ],
  [
    'rollback rate by tier this month',
    {
      intent: 'cube',
      args: {
        query: 'cube.query.rollback_drift',
        request: { from: '2024-06-01T00:00:00.000Z', to: '2024-06-13T15:20:00.000Z', bucket: 'day' },
        period: 'this month',
      },
    },
  ],
  [
    'what is the success rate by tier in production?',
    {
      intent: 'cube',
      args: {
        query: 'cube.query.success_rate',
        request: {
          from: '2024-06-12T16:00:00.000Z',
          to: '2024-06-13T16:00:00.000Z',
          bucket: 'hour',
          environment: 'production',
          group_by: 'tier',
        },
        period: 'the last 24 hours',
      },
    },
  ],
  [
    'mean time to resolve for payments in staging over the past 48 hours',
    {
      intent: 'cube',
      args: {
        query: 'cube.query.mttr',
        request: {
          from: '2024-06-11T16:00:00.000Z',
          to: '2024-06-13T16:00:00.000Z',
          bucket: 'hour',
          service: 'payments',
          environment: 'staging',
        },
        period: 'the last 48 hours',
      },
    },
  ],
  [
    'drift for tier 2 last week',
    {
      intent: 'cube',
      args: {
        query: 'cube.query.rollback_drift',
        request: { from: '2024-06-03T00:00:00.000Z', to: '2024-06-10T00:00:00.000Z', bucket: 'day', tier: 2 },
        period: 'last week',
      },
    },
  ],
  ['why is checkout slow?', { intent: 'free_form', args: { text: 'why is checkout slow' } }],
  ['What is the meaning of life?', { intent: 'free_form', args: { text: 'What is the meaning of life' } }],
  ['banana', { intent: 'unknown', args: { text: 'banana' } }],
  ['restart checkout now', { intent: 'unknown', args: { text: 'restart checkout now' } }],
  ['', { intent: 'unknown', args: { text: '' } }],
];

describe('understand', () => {
  it.each(cases)('reads %j', (message, expected) => {
    expect(understand(message, NOW)).toEqual(expected);
  });

  it('has a table of 40 or more phrasings', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  it.each([
    ['why did you restart checkout', 'explain'],
    ['explain', 'explain'],
    ['approve', 'approve'],
    ['approve it', 'approve'],
    ['reject', 'reject'],
    ['show incident', 'show_incident'],
    ['run restart_service on checkout', 'run_playbook'],
    ['restart_service checkout', 'run_playbook'],
    ['run', 'run_playbook'],
    ['mute', 'mute'],
    [`mute ${FP}`, 'mute'],
    [`mute ${FP} for 8d`, 'mute'],
    [`mute ${FP} for 0h`, 'mute'],
    [`mute ${FP} for 3 fortnights`, 'mute'],
    ['error trends over the last 400 days', 'cube'],
  ])('asks for what %j leaves out', (message, intent) => {
    const understood = understand(message, NOW);
    expect(understood.intent).toBe(intent);
    expect(understood.args).toEqual({ clarification: expect.any(String) });
  });

  it('keeps the case of ids and names and reads commands case-insensitively', () => {
    expect(understand('SHOW INCIDENT Inc-ABC', NOW)).toEqual({
      intent: 'show_incident',
      args: { incident_id: 'Inc-ABC' },
    });
    expect(understand('RUN Scale_Up ON Cart IN Prod', NOW)).toEqual({
      intent: 'run_playbook',
      args: { playbook: 'Scale_Up', service: 'Cart', environment: 'Prod' },
    });
  });

  it('tolerates newlines, tabs and repeated spaces', () => {
    expect(understand('  open\tincidents \n on   checkout  ', NOW)).toEqual({
      intent: 'list_incidents',
      args: { open: true, service: 'checkout' },
    });
  });

  it('does not take an id that is too long or has other characters', () => {
    expect(understand(`incident ${'x'.repeat(129)}`, NOW).intent).toBe('unknown');
    expect(understand('approve ap/1', NOW)).toEqual({ intent: 'approve', args: { clarification: expect.any(String) } });
  });

  it('reads long adversarial messages without catastrophic backtracking', () => {
    expect(understand(`mute ${'a '.repeat(1000)}`, NOW).intent).toBe('mute');
    expect(understand(`${'incidents on '.repeat(150)}x`, NOW).intent).toBe('unknown');
    expect(understand(`approve x ${'because '.repeat(250)}`, NOW).intent).toBe('approve');
  });
});

describe('readPeriod', () => {
  it('defaults to the last 24 hours by hour, ending at the next full hour', () => {
    expect(readPeriod('', NOW)).toEqual({
      from: '2024-06-12T16:00:00.000Z',
      to: '2024-06-13T16:00:00.000Z',
      bucket: 'hour',
      label: 'the last 24 hours',
    });
  });

  it.each([
    ['today', '2024-06-13T00:00:00.000Z', '2024-06-13T16:00:00.000Z', 'hour'],
    ['yesterday', '2024-06-12T00:00:00.000Z', '2024-06-13T00:00:00.000Z', 'hour'],
    ['this week', '2024-06-10T00:00:00.000Z', '2024-06-13T15:20:00.000Z', 'day'],
    ['last week', '2024-06-03T00:00:00.000Z', '2024-06-10T00:00:00.000Z', 'day'],
    ['last 3 days', '2024-06-10T15:20:00.000Z', '2024-06-13T15:20:00.000Z', 'day'],
    ['past 7d', '2024-06-06T15:20:00.000Z', '2024-06-13T15:20:00.000Z', 'day'],
    ['the past week', '2024-06-06T15:20:00.000Z', '2024-06-13T15:20:00.000Z', 'day'],
    ['last 6 hours', '2024-06-13T10:00:00.000Z', '2024-06-13T16:00:00.000Z', 'hour'],
    ['this month', '2024-06-01T00:00:00.000Z', '2024-06-13T15:20:00.000Z', 'day'],
    ['last month', '2024-05-01T00:00:00.000Z', '2024-06-01T00:00:00.000Z', 'day'],
  ])('reads %j', (text, from, to, bucket) => {
    expect(readPeriod(text, NOW)).toMatchObject({ from, to, bucket });
  });

  it('starts the week on Monday even on a Sunday, and keeps a range non-empty at midnight', () => {
    expect(readPeriod('this week', new Date('2024-06-16T10:00:00Z'))).toMatchObject({
      from: '2024-06-10T00:00:00.000Z',
    });
    expect(readPeriod('today', new Date('2024-06-13T00:00:00Z'))).toMatchObject({
      from: '2024-06-13T00:00:00.000Z',
      to: '2024-06-13T01:00:00.000Z',
    });
  });

  it('refuses ranges too far back', () => {
    expect(readPeriod('last 91 days', NOW)).toEqual({ clarification: expect.any(String) });
    expect(readPeriod('last 200 hours', NOW)).toEqual({ clarification: expect.any(String) });
  });
});
