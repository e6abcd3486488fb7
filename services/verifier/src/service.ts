// verifier as a service definition: the consumers (executed actions, captured errors), the queries, and the
// workers that judge verifications when they are due.
import {
  consumer,
  every,
  GroupCommit,
  tracedRequest,
  TRANSACTIONAL_BATCH,
  WorkPool,
  withSpan,
  type Emit,
  type ServiceDefinition,
} from '@grace/service-kit';
import type { Transaction } from 'kysely';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { config } from './config.js';
import { queueJudgement } from './handlers/action-executed.js';
import { recordResolution } from './handlers/alert-resolved.js';
import { countErrors, countErrorsBatch } from './handlers/error-captured.js';
import { judge, learnFrom, type JudgeSettings } from './judge.js';
import { createMetrics } from './metrics.js';
import { migrations } from './migrations/index.js';
import { baselinesQuery, verificationQuery } from './queries.js';
import {
  claimDue,
  completeVerification,
  learnBaselines,
  pruneCaptures,
  type Database,
  type VerificationRow,
} from './store.js';

// A worker holds a verification this long; its checks are bounded by their timeouts (60 s at most each).
const LEASE_MS = 120_000;
const PRUNE_EVERY_MS = 3_600_000;
// A verification this process queued leased to itself (judged locally, at once): another replica takes it over
// this long after a crash.
const HAND_LEASE_MS = 15_000;

export const verifier: ServiceDefinition<Database, typeof config> = {
  name: 'verifier',
  defaultHttpPort: 8084,
  config,
  migrations,
  setup(runtime) {
    const { config: c, log, db, nc, naming } = runtime;
    const metrics = createMetrics(runtime.metrics);
    const owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    const settings: JudgeSettings = {
      checkTimeoutMs: c.CHECK_TIMEOUT_MS,
      captureSettleMs: c.CAPTURE_SETTLE_MS,
      baselineMinSamples: c.BASELINE_MIN_SAMPLES,
      baselineMaxSamples: c.BASELINE_MAX_SAMPLES,
    };
    // nats checks ask the target itself (e.g. remediation.<service>.status), inside the deployment's namespace; tracing
    // on, a CLIENT span (failed by a reply that is not JSON too) whose traceparent the target gets in the headers.
    const request = (subject: string, payload: unknown, timeoutMs: number) =>
      tracedRequest(
        nc,
        naming.subject(subject),
        JSON.stringify(payload),
        { timeout: timeoutMs, name: subject },
        (msg) => msg.json<unknown>(),
      );

    // Verdicts reached while one commits are recorded together in the next transaction (group commit).
    const completions = new GroupCommit<{
      trx: Transaction<Database>;
      emit: Emit;
      afterCommit: (fn: () => void) => void;
    }>((body) => runtime.transaction((trx, emit, afterCommit) => body({ trx, emit, afterCommit })), {
      max: c.WORKERS,
      log,
    });
    // A verification is judged in a span of the trace of the action.executed that queued it (tracing on).
    const run = (row: VerificationRow) =>
      withSpan(
        'verify contract',
        {
          parent: row.traceparent,
          attributes: { 'grace.contract_id': row.contract_id, 'grace.action_id': row.action_id },
        },
        () => judgeOne(row),
      );
    const judgeOne = async (row: VerificationRow) => {
      const { verified, observations } = await judge(row.id, row.executed, { db, request, settings });
      for (const check of verified.checks) metrics.checks.inc({ kind: check.kind, status: check.status });
      await completions.submit(async ({ trx, emit, afterCommit }) => {
        const now = new Date();
        const executedAt = new Date(verified.executed_at);
        const result = {
          ...verified,
          verified_at: now.toISOString(),
          time_to_verify_ms: Math.max(0, now.getTime() - executedAt.getTime()),
        };
        if (!(await completeVerification(trx, row.id, owner, result, now))) return;
        emit('contract.verified', result, {
          ...(row.correlation_id ? { correlationid: row.correlation_id } : {}),
          ...(row.traceparent ? { traceparent: row.traceparent } : {}),
        });
        if (result.verdict === 'verified')
          await learnBaselines(trx, observations, learnFrom(c.BASELINE_MAX_SAMPLES), now);
        afterCommit(() => {
          metrics.verdicts.inc({ verdict: result.verdict });
          metrics.timeToVerify.observe(result.time_to_verify_ms / 1000);
          log.info(
            { contract_id: row.contract_id, verdict: result.verdict, confidence: result.confidence },
            'contract verified',
          );
        });
      });
    };
    const pool = new WorkPool<VerificationRow>({
      workers: c.WORKERS,
      pollMs: c.WORK_POLL_MS,
      claim: async () => (await claimDue(db, owner, LEASE_MS))[0],
      claimMany: (max) => claimDue(db, owner, LEASE_MS, max),
      run,
      log,
      onBusy: (change) => metrics.workersBusy.inc(change),
    });
    pool.start();

    const prune = every(
      'pruning captures',
      PRUNE_EVERY_MS,
      () => pruneCaptures(db, new Date(Date.now() - c.CAPTURE_RETENTION_HOURS * 3_600_000)),
      log,
    );

    return {
      consumers: [
        consumer<Database, 'action.executed'>({
          subject: 'action.executed',
          handler: queueJudgement({
            settleMs: c.CAPTURE_SETTLE_MS,
            owner,
            handLeaseMs: HAND_LEASE_MS,
            wake: () => pool.wake(),
            hand: (rows) => pool.hand(rows),
          }),
          // Its handler only queues a row (the wake and the hand-over run after the commit): safe to batch.
          batch: TRANSACTIONAL_BATCH,
          concurrency: TRANSACTIONAL_BATCH,
        }),
        consumer<Database, 'error.captured'>({
          subject: 'error.captured',
          handler: countErrors,
          handleBatch: countErrorsBatch,
          batch: 32,
          concurrency: 32,
        }),
        consumer<Database, 'alert.resolved'>({ subject: 'alert.resolved', handler: recordResolution, batch: 32 }),
      ],
      queries: {
        'verifier.query.verification': verificationQuery(db),
        'verifier.query.baselines': baselinesQuery(db),
      },
      stop: async () => {
        await prune.stop();
        await pool.stop();
      },
    };
  },
};
