// action.requested: the contract is stored with its admission (constitution, policy, approval) in one insert, in
// the transaction that takes the request; the same action id or idempotency key is stored once, across replicas
// and redeliveries.
import type { GraceEvent } from '@grace/contracts';
import type { HandlerContext } from '@grace/service-kit';
import { randomUUID } from 'node:crypto';
import { admitContract } from '../admission.js';
import { audit, inStep, type ExecutorDeps } from '../lifecycle.js';
import { insertContract, json, lockTarget, readForAdmission, type ContractRow, type Database } from '../store.js';

export function receiveAction(deps: ExecutorDeps) {
  return async (event: GraceEvent<'action.requested'>, ctx: HandlerContext<Database>): Promise<void> => {
    const d = event.data;
    const admitted = await inStep(ctx, async (step) => {
      // The target's lock first: a second copy of this request (same target) waits here, then finds it stored.
      await lockTarget(ctx.trx, d.target.service, d.target.environment);
      const { known, ...read } = await readForAdmission(ctx.trx, {
        actionId: d.action_id,
        idempotencyKey: d.idempotency_key,
        service: d.target.service,
        environment: d.target.environment,
      });
      if (known) {
        ctx.log.info(
          { action_id: d.action_id, idempotency_key: d.idempotency_key },
          'action already known; not run again',
        );
        return undefined;
      }
      const draft: ContractRow = {
        id: randomUUID(),
        action_id: d.action_id,
        idempotency_key: d.idempotency_key,
        incident_id: d.incident_id ?? null,
        fingerprint: d.fingerprint ?? null,
        signature: d.signature ?? null,
        playbook: d.playbook,
        adapter: d.adapter,
        action: d.action,
        service: d.target.service,
        environment: d.target.environment,
        target: d.target,
        params: d.params,
        requested_tier: d.tier,
        tier: d.tier,
        expected_effect: d.expected_effect,
        checks: d.checks,
        timeout_ms: d.timeout_ms,
        attempt: d.attempt,
        requested_by: d.requested_by,
        requested_at: new Date(d.requested_at),
        status: 'pending',
        held: false,
        dry_run: false,
        plan: null,
        policy_version: null,
        approval_id: null,
        snapshot_id: null,
        result: null,
        actual_state: null,
        verdict: null,
        confidence: null,
        verification_id: null,
        error: null,
        correlation_id: event.correlationid ?? event.id,
        traceparent: ctx.traceparent ?? null,
        lease_owner: null,
        lease_until: null,
        rollback_trigger: null,
        rollback_reason: null,
        restore_attempts: 0,
        started_at: null,
        finished_at: null,
        created_at: step.now,
        updated_at: step.now,
      };
      audit(
        step,
        draft,
        'contract.created',
        {
          playbook: d.playbook,
          adapter: d.adapter,
          action: d.action,
          target: d.target,
          tier: d.tier,
          idempotency_key: d.idempotency_key,
          expected_effect: d.expected_effect,
          requested_by: d.requested_by,
          event_id: event.id,
        },
        `${d.requested_by.kind}:${d.requested_by.id}`,
      );
      // Admission decides, then the contract is inserted once with that decision. Until its last delivery, a
      // follow-up attempt waits for the previous one's verdict instead of being denied.
      const row = await admitContract(step, deps, draft, {
        locked: true,
        read,
        waitForVerdict: ctx.deliveryCount < deps.maxAttempts,
        write: async (changes) => {
          // Admitted to run now (tier 1) while a worker here is free: it starts in this transaction.
          const start = deps.starter?.startOnAdmission(step, { ...draft, ...changes } as ContractRow);
          const row = await insertContract(ctx.trx, {
            ...draft,
            ...changes,
            ...start,
            target: json(draft.target),
            params: json(draft.params),
            expected_effect: json(draft.expected_effect),
            checks: json(draft.checks),
            requested_by: json(draft.requested_by),
            actual_state: null,
          });
          // Stored meanwhile under another target's lock (the same key for another target): handled again, the
          // request then finds it.
          if (!row) throw new Error(`action ${d.action_id} was stored meanwhile by another transaction`);
          return row;
        },
      });
      if (row.status === 'executing') deps.starter?.startedOnAdmission(step, row);
      return row;
    });
    if (admitted?.status === 'approved') ctx.afterCommit(deps.wake);
  };
}
