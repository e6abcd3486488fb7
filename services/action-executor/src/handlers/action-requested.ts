// action.requested: persist the contract before anything else (the same idempotency key is stored once, across
// replicas and redeliveries), then admit it: constitution, policy, approval.
import type { GraceEvent } from '@grace/contracts';
import type { HandlerContext } from '@grace/service-kit';
import { randomUUID } from 'node:crypto';
import { admitContract } from '../admission.js';
import { audit, inStep, type ExecutorDeps } from '../lifecycle.js';
import { insertContract, json, type Database } from '../store.js';

export function receiveAction(deps: ExecutorDeps) {
  return async (event: GraceEvent<'action.requested'>, ctx: HandlerContext<Database>): Promise<void> => {
    const d = event.data;
    const admitted = await inStep(ctx, async (step) => {
      const contract = await insertContract(ctx.trx, {
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
        target: json(d.target),
        params: json(d.params),
        requested_tier: d.tier,
        tier: d.tier,
        expected_effect: json(d.expected_effect),
        checks: json(d.checks),
        timeout_ms: d.timeout_ms,
        attempt: d.attempt,
        requested_by: json(d.requested_by),
        requested_at: d.requested_at,
        status: 'pending',
        correlation_id: event.correlationid ?? event.id,
        created_at: step.now,
        updated_at: step.now,
      });
      if (!contract) {
        ctx.log.info(
          { action_id: d.action_id, idempotency_key: d.idempotency_key },
          'action already known; not run again',
        );
        return undefined;
      }
      audit(
        step,
        contract,
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
      // Until its last delivery, a follow-up attempt waits for the previous one's verdict instead of being denied.
      return admitContract(step, deps, contract, { waitForVerdict: ctx.deliveryCount < deps.maxAttempts });
    });
    if (admitted?.status === 'approved') ctx.afterCommit(deps.wake);
  };
}
