// What the gateway does on the bus for a user: read through the owners' queries, cast votes, run playbooks, mute,
// and the admin's dead letters. The chat's tools are the same operations, with errors it can explain.
import type { gateway } from '@grace/contracts';
import { validate, type EventSubject, type QueryReply, type QueryRequest, type QuerySubject } from '@grace/contracts';
import { HttpError, RequestFailedError, type ServiceRuntime } from '@grace/service-kit';
import { randomUUID } from 'node:crypto';
import { ToolError, type ChatTools, type CubeQuery } from './chat/tools.js';
import type { Principal } from './domain/auth.js';
import type { Database } from './store.js';

type Runtime = ServiceRuntime<Database, unknown>;

export function userActions(runtime: Runtime) {
  const request = <Q extends QuerySubject>(subject: Q, body: QueryRequest<Q>) => runtime.request(subject, body);

  async function vote(principal: Principal, approvalId: string, body: gateway.VoteRequest) {
    const voteId = randomUUID();
    await runtime.emit('approval.vote.cast', {
      vote_id: voteId,
      approval_id: approvalId,
      voter_id: principal.id,
      voter_roles: principal.roles,
      decision: body.decision,
      ...(body.comment ? { comment: body.comment } : {}),
      cast_at: new Date().toISOString(),
    });
    return { vote_id: voteId };
  }

  /** The plan comes from the catalog (sentinel); the executor's constitution and policy still apply. */
  async function runPlaybook(principal: Principal, playbook: string, service: string, environment: string) {
    const { plan } = await request('sentinel.query.plan', { playbook, service, environment });
    const actionId = randomUUID();
    await runtime.emit('action.requested', {
      action_id: actionId,
      ...plan,
      idempotency_key: `operator:${actionId}`,
      attempt: 1,
      requested_by: { kind: 'user', id: principal.id },
      requested_at: new Date().toISOString(),
    });
    return actionId;
  }

  const dlqStream = runtime.naming.stream('GRACE_DLQ');

  async function deadLetters(limit: number, subject?: string) {
    const info = await runtime.jsm.streams.info(dlqStream);
    const items: { seq: number; subject: string; letter: Record<string, unknown> }[] = [];
    for (let seq = info.state.last_seq; seq >= info.state.first_seq && items.length < limit && seq > 0; seq--) {
      const message = await runtime.jsm.streams.getMessage(dlqStream, { seq }).catch(() => null);
      if (!message) continue;
      const letter = message.json<Record<string, unknown>>();
      if (subject && letter.subject !== subject) continue;
      items.push({ seq, subject: String(letter.subject), letter });
    }
    return items;
  }

  /** Publish a dead-lettered event again; a new message id, since the stream remembers the old one. */
  async function replayDeadLetter(seq: number) {
    const message = await runtime.jsm.streams.getMessage(dlqStream, { seq }).catch(() => null);
    if (!message) throw new HttpError(404, 'not_found', `no dead letter at ${seq}`);
    const letter = message.json<{ subject: string; event?: unknown }>();
    if (letter.event === undefined)
      throw new HttpError(409, 'conflict', 'the original was not JSON: there is nothing to replay');
    const checked = validate(letter.subject as EventSubject, letter.event);
    if (!checked.ok)
      throw new HttpError(
        409,
        'conflict',
        `the original breaks the ${letter.subject} contract: fix the producer instead`,
      );
    await runtime.js.publish(runtime.naming.subject(letter.subject), JSON.stringify(checked.value), {
      msgID: `${checked.value.id}:replay:${seq}:${Date.now()}`,
    });
    runtime.log.warn({ seq, subject: letter.subject, event_id: checked.value.id }, 'dead letter replayed');
    return { subject: letter.subject, event_id: checked.value.id };
  }

  /** The chat's tools for one user: the same operations, failures as ToolError. */
  function chatTools(principal: Principal): ChatTools {
    const tool = async <T>(fn: () => Promise<T>): Promise<T> => {
      try {
        return await fn();
      } catch (err) {
        if (err instanceof RequestFailedError) {
          const code = err.code === 'conflict' || err.code === 'internal' ? 'unavailable' : err.code;
          throw new ToolError(code, err.message);
        }
        throw err;
      }
    };
    return {
      status: () =>
        tool(async () => {
          const [executor, open, approvals] = await Promise.all([
            request('executor.control.status', {}),
            request('sentinel.query.incidents', { open: true, limit: 100 }),
            request('executor.query.approvals', { limit: 100 }),
          ]);
          return { ...executor, open_incidents: open.items.length, pending_approvals: approvals.items.length };
        }),
      listIncidents: (filter) => tool(() => request('sentinel.query.incidents', filter)),
      showIncident: (incidentId) => tool(() => request('sentinel.query.incident', { incident_id: incidentId })),
      pendingApprovals: () => tool(() => request('executor.query.approvals', {})),
      vote: (approvalId, decision, comment) =>
        tool(() => vote(principal, approvalId, { decision, ...(comment ? { comment } : {}) })),
      runPlaybook: (playbook, service, environment) =>
        tool(async () => ({ action_id: await runPlaybook(principal, playbook, service, environment) })),
      mute: (target, durationMs, reason) =>
        tool(async () => {
          const reply = await request('sentinel.control.mute', {
            ...target,
            until: new Date(Date.now() + durationMs).toISOString(),
            by: principal.id,
            reason,
          });
          return { muted_until: reply.until };
        }),
      cube: <Q extends CubeQuery>(query: Q, body: QueryRequest<Q>) =>
        tool(() => request(query, body) as Promise<QueryReply<Q>>),
    };
  }

  return { request, vote, runPlaybook, deadLetters, replayDeadLetter, chatTools };
}
