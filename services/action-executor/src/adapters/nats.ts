// The nats adapter: request-reply to the target system itself on remediation.<service>.<action> (and .snapshot,
// .restore), so any system on the bus can expose its own remediations. Replies are validated against the protocol.
import {
  describeErrors,
  remediationSubject,
  REMEDIATION_OPERATIONS,
  schemas,
  validateSchema,
  type RemediationReply,
  type RestoreReply,
  type SnapshotReply,
} from '@grace/contracts';
import { tracedRequest, type Naming } from '@grace/service-kit';
import { RequestError, TimeoutError, type NatsConnection } from '@nats-io/nats-core';
import type { TSchema } from '@sinclair/typebox';
import { AdapterError, type ActionAdapter, type PlanInput } from './adapter.js';

export interface NatsAdapterOptions {
  nc: NatsConnection;
  /** Remediation subjects carry the deployment's namespace prefix like every other subject. */
  naming: Naming;
  /** Bound on snapshot and restore requests; execute is bounded by the action's timeout. */
  requestTimeoutMs: number;
}

export function createNatsAdapter({ nc, naming, requestTimeoutMs }: NatsAdapterOptions): ActionAdapter {
  // Span names are the remediation subjects; requests go to them inside the deployment's namespace.
  const subjectOf = (service: string, operation: string) => remediationSubject(service, operation);

  function parse<T>(subject: string, data: Uint8Array, schema: TSchema): T {
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(data).toString('utf8'));
    } catch {
      throw new AdapterError(`${subject}: the reply is not JSON`);
    }
    const checked = validateSchema<T>(schema, parsed);
    if (!checked.ok)
      throw new AdapterError(`${subject}: the reply breaks the protocol: ${describeErrors(checked.errors)}`);
    return checked.value;
  }

  async function ask<T>(name: string, body: unknown, schema: TSchema, timeoutMs: number, signal: AbortSignal) {
    const subject = naming.subject(name);
    if (signal.aborted) throw new AdapterError(`${subject}: the action timed out before the request was sent`, true);
    try {
      // Tracing on: a CLIENT span (failed by a reply that breaks the protocol too), its traceparent in the
      // request's headers.
      const request = tracedRequest(nc, subject, JSON.stringify(body), { timeout: timeoutMs, name }, (msg) =>
        parse<T>(subject, msg.data, schema),
      );
      const aborted = new Promise<never>((_, reject) =>
        signal.addEventListener(
          'abort',
          () => reject(new AdapterError(`${subject}: no reply before the timeout`, true)),
          {
            once: true,
          },
        ),
      );
      return await Promise.race([request, aborted]);
    } catch (err) {
      if (err instanceof AdapterError) throw err;
      if (err instanceof RequestError && err.isNoResponders())
        throw new AdapterError(`no target system answers on ${subject}; is it running and subscribed?`, true);
      if (err instanceof TimeoutError || (err instanceof RequestError && err.cause instanceof TimeoutError))
        throw new AdapterError(`${subject}: no reply within ${timeoutMs} ms`, true);
      throw new AdapterError(`${subject}: ${(err as Error).message}`, true);
    }
  }

  return {
    name: 'nats',
    describe(plan: PlanInput) {
      if ((REMEDIATION_OPERATIONS as readonly string[]).includes(plan.action))
        throw new AdapterError(`"${plan.action}" is an operation of the remediation protocol, not an action`);
      return `request ${remediationSubject(plan.target.service, plan.action)} on the target system`;
    },
    async snapshot(request, signal) {
      const subject = subjectOf(request.target.service, 'snapshot');
      const reply = await ask<SnapshotReply>(subject, request, schemas.SnapshotReply, requestTimeoutMs, signal);
      return reply.state;
    },
    async execute(request, signal) {
      const subject = subjectOf(request.target.service, request.action);
      return ask<RemediationReply>(subject, request, schemas.RemediationReply, request.timeout_ms, signal);
    },
    async restore(request, signal) {
      const subject = subjectOf(request.target.service, 'restore');
      return ask<RestoreReply>(subject, request, schemas.RestoreReply, requestTimeoutMs, signal);
    },
  };
}
