import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createEvent } from '@grace/contracts';
import { createSandbox, publishRaw, type Sandbox } from '@grace/service-kit/testing';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startTarget, type TargetSystem } from '../../services/action-executor/test/support.js';
import { issueToken } from '../../services/chat-gateway/src/domain/auth.js';
import { captured } from '../../services/sentinel/test/support.js';
import { startSystem, type RunningSystem } from './system.js';

const CONSOLE = fileURLToPath(new URL('../../packages/console/dist/index.html', import.meta.url));
const SECRET = 'console-test-secret-long-enough-for-hs256';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

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
      const rate = await ask<{ rows: unknown[] }>('cube.query.success_rate', { ...week, bucket: 'day' });
      if (rate.ok && rate.data.rows.length > 0) break;
      if (Date.now() > etlDeadline) throw new Error(`the cube never counted the action: ${JSON.stringify(rate)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    await page.getByTestId('tab-analytics').click();
    const chart = page.getByTestId('chart-success_rate');
    await chart.locator('svg').first().waitFor({ timeout: 15_000 });
    // The chart draws as soon as it mounts; its data comes with the reply.
    await chart.filter({ hasText: '1 verified of 1 executed' }).waitFor({ timeout: 15_000 });
    await page.getByTestId('chart-rollback_drift').filter({ hasText: 'rollback_release' }).waitFor({ timeout: 15_000 });

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

async function waitUntil(probe: () => boolean, what: string) {
  const deadline = Date.now() + 20_000;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
