import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createEvent } from '@grace/contracts';
import { createSandbox, publishRaw, type Sandbox } from '@grace/service-kit/testing';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { startTarget, type TargetSystem } from '../../services/action-executor/test/support.js';
import { issueToken } from '../../services/chat-gateway/src/domain/auth.js';
import { captured } from '../../services/sentinel/test/support.js';
import { startSystem, type RunningSystem } from './system.js';

const CONSOLE = fileURLToPath(new URL('../../packages/console/dist/index.html', import.meta.url));
const SECRET = 'console-test-secret-long-enough-for-hs256';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const DAY_MS = 86_400_000;
const CHARTS = ['success_rate', 'mttr', 'error_trends', 'rollback_drift'] as const;

// One tier-3 playbook (it waits for approval), fixing what the target reports.
const CATALOG = `
version: 1
playbooks:
  - name: rollback_release
    applies_to: { kind: [BadRelease] }
    adapter: nats
    action: rollback_release
    tier: 3
    expected_effect: { target_state: { healthy: true }, error_rate_ceiling: 1 }
    checks:
      - { kind: state, name: healthy }
    timeout_ms: 5000
    cooldown: 0s
`;
// One approver is enough here, so one person in the browser can let it run.
const POLICY = `
version: 1
rules:
  - name: tier-3-needs-approval
    match: { tier: 3 }
    effect: { require_approval: { quorum: 1, role: approver, expires_in: 30m } }
`;

describe('the web console in a real browser', () => {
  let sandbox: Sandbox;
  let system: RunningSystem | undefined;
  let browser: Browser | undefined;
  let target: TargetSystem;
  const dir = mkdtempSync(join(tmpdir(), 'grace-console-'));

  beforeAll(async () => {
    if (!existsSync(CONSOLE)) throw new Error('the console is not built: run pnpm --filter @grace/console build');
    if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: apt-get install chromium`);
    writeFileSync(join(dir, 'playbooks.yaml'), CATALOG);
    writeFileSync(join(dir, 'policies.yaml'), POLICY);
    sandbox = await createSandbox('e2econsole');
    target = startTarget(
      sandbox.nc,
      sandbox.namespace,
      'shop',
      { healthy: false },
      {
        rollback_release: (state) => {
          state.healthy = true;
        },
      },
    );
    system = await startSystem(
      sandbox,
      ['sentinel', 'action-executor', 'verifier', 'learning-loop', 'cube-etl', 'chat-gateway'],
      {
        sentinel: { PLAYBOOKS_FILE: join(dir, 'playbooks.yaml') },
        'action-executor': { POLICY_FILE: join(dir, 'policies.yaml'), WORK_POLL_MS: '50', APPROVAL_SWEEP_MS: '100' },
        verifier: { WORK_POLL_MS: '50' },
        'cube-etl': { ETL_INTERVAL_MS: '3600000' },
        'chat-gateway': { JWT_SECRET: SECRET },
      },
    );
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    if (system) {
      expect(Object.values(await system.stop()).every((code) => code === 0)).toBe(true);
      await system.dropSchemas();
    }
    await target?.stop();
    await sandbox?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('logs in, shows an incident live (markup as text), approves its action, charts the cube, pauses Grace', async () => {
    const page: Page = await browser!.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(String(err)));
    const url = `http://127.0.0.1:${system!.ports.get('chat-gateway')}`;
    const token = issueToken({ secret: SECRET, subject: 'erin', name: 'Erin', roles: ['approver', 'admin'] });

    await page.goto(url);
    await page.getByTestId('token-input').fill(token);
    await page.getByTestId('login-button').click();
    await expect(page.getByTestId('user-roles').textContent()).resolves.toContain('approver');
    await page.getByTestId('stream-status').and(page.locator('[data-state="open"]')).waitFor({ timeout: 15_000 });

    // Nothing has happened yet: every chart says it has no data (and draws no value axis), over a readable week.
    await page.getByTestId('tab-analytics').click();
    for (const metric of CHARTS) {
      const chart = page.getByTestId(`chart-${metric}`);
      await expect(chart.getByTestId('chart-empty').textContent({ timeout: 15_000 })).resolves.toContain('No data yet');
      const axes = await readAxes(chart);
      expect(axes.y).toEqual([]);
      expect(axes.x.map((l) => l.text)).toEqual(lastSevenDays());
      expectWellFormed(axes.x, 'x');
    }

    // An error arrives after the console is open: its incident shows up without a reload.
    await page.getByTestId('tab-incidents').click();
    const capture = captured({ service: 'shop', kind: 'BadRelease', message: 'release 42 broke checkout' });
    await publishRaw(sandbox, capture.type, JSON.stringify(capture));
    const row = page.getByTestId('incident-row').first();
    await row.waitFor({ timeout: 20_000 });
    await expect(row.textContent()).resolves.toContain('shop');
    const incidentId = await row.getAttribute('data-incident-id');

    // Text that looks like markup is shown as text and never runs.
    const markup = '<img src=x onerror="window.__pwned=1">';
    const now = new Date().toISOString();
    const hostile = createEvent(
      'incident.opened',
      {
        incident_id: randomUUID(),
        fingerprint: 'fp-markup',
        signature: 'application:markup',
        service: 'shop',
        environment: 'production',
        kind: markup,
        severity: 'error',
        status: 'triaged',
        previous_status: 'detected',
        reason: markup,
        attempts: 0,
        occurrences: 1,
        opened_at: now,
        triaged_at: now,
        changed_at: now,
        capture_id: randomUUID(),
      },
      { source: 'test/hostile' },
    );
    await publishRaw(sandbox, hostile.type, JSON.stringify(hostile));
    await page.getByTestId('incident-row').filter({ hasText: markup }).waitFor({ timeout: 15_000 });
    expect(await page.evaluate('typeof window.__pwned')).toBe('undefined');
    expect(await page.getByTestId('incidents').locator('img').count()).toBe(0);

    // The action waits for approval: approve it in the console, and it runs.
    await page.getByTestId('tab-approvals').click();
    const approval = page.getByTestId('approval-row').first();
    await approval.waitFor({ timeout: 20_000 });
    await approval.getByTestId('approve-button').click();
    await page.getByTestId('approvals-empty').waitFor({ timeout: 20_000 });
    await waitUntil(() => target.state.healthy === true, 'the approved action to run');

    // The incident resolves: its page says so.
    await page.goto(`${url}/#/incidents/${incidentId}`);
    const status = page.getByTestId('incident-status');
    const deadline = Date.now() + 20_000;
    while (!((await status.textContent({ timeout: 10_000 })) ?? '').includes('resolved')) {
      if (Date.now() > deadline) throw new Error('the incident did not resolve');
      await page.waitForTimeout(250);
      await page.reload();
    }
    await expect(page.getByTestId('incident-trail').textContent()).resolves.toContain('rollback_release');

    // The cube charts it once its events have landed and an ETL run has transformed them.
    // The console's range: the last 7 UTC days, today included.
    const tomorrow = Math.floor(Date.now() / 86_400_000) * 86_400_000 + 86_400_000;
    const week = { from: new Date(tomorrow - 7 * 86_400_000).toISOString(), to: new Date(tomorrow).toISOString() };
    const ask = async <T>(subject: string, body: object) =>
      (await sandbox.nc.request(`${sandbox.namespace}.${subject}`, JSON.stringify(body), { timeout: 30_000 })).json<{
        ok: boolean;
        data: T;
      }>();
    const etlDeadline = Date.now() + 20_000;
    for (;;) {
      expect((await ask('cube.etl.run', {})).ok).toBe(true);
      // The executed action, the resolved incident and the captured error: every chart has a day to draw.
      const replies = await Promise.all(
        CHARTS.map((metric) => ask<{ rows: unknown[] }>(`cube.query.${metric}`, { ...week, bucket: 'day' })),
      );
      if (replies.every((reply) => reply.ok && reply.data.rows.length > 0)) break;
      if (Date.now() > etlDeadline) throw new Error(`the cube never counted it all: ${JSON.stringify(replies)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    await page.getByTestId('tab-analytics').click();
    const chart = page.getByTestId('chart-success_rate');
    await chart.locator('svg').first().waitFor({ timeout: 15_000 });
    // The chart draws as soon as it mounts; its data comes with the reply.
    await chart.filter({ hasText: '1 verified of 1 executed' }).waitFor({ timeout: 15_000 });
    await page.getByTestId('chart-rollback_drift').filter({ hasText: 'rollback_release' }).waitFor({ timeout: 15_000 });

    // Every chart now has data: its axes read back from the page are well formed, whatever the values.
    const days = lastSevenDays();
    const axisKinds = { success_rate: 'rate', mttr: 'duration', error_trends: 'count', rollback_drift: 'rate' };
    for (const metric of CHARTS) {
      const card = page.getByTestId(`chart-${metric}`);
      await card.locator('figure[data-state="ready"]').waitFor({ timeout: 15_000 });
      expect(await card.getByTestId('chart-empty').count()).toBe(0);
      const axes = await readAxes(card);
      expect(axes.x.map((l) => l.text)).toEqual(days);
      expectWellFormed(axes.x, 'x');
      expect(axes.yKind).toBe(axisKinds[metric]);
      expectWellFormed(axes.y, 'y');
      const values = axes.y.map((l) => parseTick(axes.yKind, l.text));
      expect(values[0]).toBe(0);
      if (axes.yKind === 'count') expect(values.every((v) => Number.isInteger(v))).toBe(true);
      if (axes.yKind === 'rate') expect(values[values.length - 1]).toBe(100);
      if (axes.yKind === 'duration') expect(new Set(axes.y.map((l) => l.text.split(' ')[1])).size).toBe(1);
      expect(values.every((v, i) => i === 0 || v > values[i - 1]!)).toBe(true);
    }
    // Today's bar says what it stands for when pointed at.
    await chart.locator('.bar').first().waitFor({ timeout: 15_000 });
    await chart.locator('.hover-target').last().hover();
    const tooltip = chart.getByTestId('chart-tooltip');
    await tooltip.waitFor({ timeout: 5_000 });
    const tip = (await tooltip.textContent()) ?? '';
    expect(tip).toContain('success rate: 100%');
    expect(tip).toContain('1 verified of 1 executed');
    expect(tip).toContain(`${days[6]}, ${new Date().getUTCFullYear()} (UTC)`);
    await page.mouse.move(0, 0);
    await tooltip.waitFor({ state: 'detached', timeout: 5_000 });
    // The keyboard walks the days too: from the chart, the left arrow shows the last day.
    const errors = page.getByTestId('chart-error_trends');
    await errors.locator('svg.chart').focus();
    await page.keyboard.press('ArrowLeft');
    await expect(errors.getByTestId('chart-tooltip').textContent({ timeout: 5_000 })).resolves.toContain(
      'occurrences: 1',
    );
    await page.keyboard.press('Escape');
    await errors.getByTestId('chart-tooltip').waitFor({ state: 'detached', timeout: 5_000 });

    // An admin pauses the executor from the console; every view shows it until resume.
    await page.getByTestId('tab-admin').click();
    await page.getByTestId('pause-reason').fill('change freeze');
    await page.getByTestId('pause-button').click();
    await page.getByTestId('paused-badge').waitFor({ timeout: 15_000 });
    const executor = await sandbox.nc.request(`${sandbox.namespace}.executor.control.status`, '{}', {
      timeout: 5_000,
    });
    expect(executor.json<{ data: { paused: boolean; paused_by: string } }>().data).toMatchObject({
      paused: true,
      paused_by: 'erin',
    });
    await page.getByTestId('resume-button').click();
    await page.getByTestId('paused-badge').waitFor({ state: 'detached', timeout: 15_000 });
    expect(pageErrors).toEqual([]);
  }, 120_000);
});

interface TickLabel {
  text: string;
  /** The label's box on the page, in CSS pixels. */
  left: number;
  right: number;
  middle: number;
}

/** The tick labels of a chart card's axes as the page shows them, in the order they are drawn. */
async function readAxes(card: Locator): Promise<{ x: TickLabel[]; y: TickLabel[]; yKind: string | null }> {
  const read = (axis: 'x' | 'y') =>
    card.locator(`[data-axis="${axis}"] .tick text`).evaluateAll((nodes) =>
      nodes.map((node) => {
        const box = node.getBoundingClientRect();
        const horizontal = node.closest('[data-axis="x"]') !== null;
        return {
          text: (node.textContent ?? '').trim(),
          left: box.left,
          right: box.right,
          middle: horizontal ? box.left + box.width / 2 : box.top + box.height / 2,
        };
      }),
    );
  const yAxis = card.locator('[data-axis="y"]');
  const yKind = (await yAxis.count()) > 0 ? await yAxis.getAttribute('data-axis-kind') : null;
  return { x: await read('x'), y: await read('y'), yKind };
}

/** No empty or repeated label; x labels run left to right without overlapping, y labels bottom to top. */
function expectWellFormed(labels: TickLabel[], axis: 'x' | 'y') {
  const texts = labels.map((l) => l.text);
  expect(labels.length).toBeGreaterThanOrEqual(2);
  expect(texts.every((t) => t.length > 0)).toBe(true);
  expect(new Set(texts).size).toBe(texts.length);
  labels.forEach((label, i) => {
    const before = labels[i - 1];
    if (!before) return;
    if (axis === 'x') {
      expect(label.middle).toBeGreaterThan(before.middle);
      expect(label.left).toBeGreaterThan(before.right);
    } else {
      expect(label.middle).toBeLessThan(before.middle);
    }
  });
}

/** A y tick label's number: "1,234" (count), "12.5 s" (duration, in its unit), "40%" (rate, in percent). */
function parseTick(kind: string | null, text: string): number {
  const pattern = { count: /^\d{1,3}(,\d{3})*$/, duration: /^\d+(\.\d+)? (ms|s|min|h|d)$/, rate: /^\d{1,3}%$/ }[
    kind as 'count' | 'duration' | 'rate'
  ];
  expect(pattern?.test(text) ? text : `${text} (not a ${kind} label)`).toBe(text);
  return Number(text.replace(/,/g, '').split(/[ %]/)[0]);
}

/** The console's range as its time axis names it: the last 7 UTC days, today last, e.g. "Dec 3". */
function lastSevenDays(): string[] {
  const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
  return Array.from({ length: 7 }, (_, i) =>
    new Date(today - (6 - i) * DAY_MS).toLocaleDateString('en-US', { month: 'short', day: 'numeric', timeZone: 'UTC' }),
  );
}

async function waitUntil(probe: () => boolean, what: string) {
  const deadline = Date.now() + 20_000;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
