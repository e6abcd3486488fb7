// The nats check: one request on a subject, its reply's fields compared with the expected ones.
import type { schemas } from '@grace/contracts';
import type { Static } from '@sinclair/typebox';
import { compareFields, describeMismatches } from '../domain/fields.js';

type CheckResult = schemas.CheckResult;
export type NatsCheck = Static<typeof schemas.NatsCheck>;

/** Sends a request and resolves with the decoded reply; rejects when no reply comes. */
export type NatsRequest = (subject: string, payload: unknown, timeoutMs: number) => Promise<unknown>;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Requests check.subject with check.payload (or defaultPayload) and compares expect_fields with the reply. A
 * remediation status reply wraps the target's state in `state`, so an object `state` is what gets compared.
 */
export async function runNatsCheck(
  check: NatsCheck,
  request: NatsRequest,
  timeoutMs: number,
  defaultPayload: Record<string, unknown>,
): Promise<CheckResult> {
  const started = performance.now();
  const base = { name: check.name, kind: 'nats' as const };
  const elapsed = (): number => Math.round(performance.now() - started);
  let reply: unknown;
  try {
    reply = await request(check.subject, check.payload ?? defaultPayload, timeoutMs);
  } catch (error) {
    const own = typeof error === 'object' && error !== null ? (error as { message?: unknown }).message : undefined;
    const message = typeof own === 'string' ? own : String(error);
    return {
      ...base,
      status: 'error',
      reason: `no reply on ${check.subject}: ${message || 'unknown error'}`,
      duration_ms: elapsed(),
    };
  }
  const compared = isRecord(reply) && isRecord(reply.state) ? reply.state : reply;
  const fields = compareFields(check.expect_fields, compared);
  const mismatched = fields.filter((f) => !f.matched).length;
  const reason =
    mismatched > 0
      ? describeMismatches(fields)
      : `${check.subject} replied, ${fields.length} field${fields.length === 1 ? '' : 's'} as expected`;
  return { ...base, status: mismatched > 0 ? 'failed' : 'passed', reason, duration_ms: elapsed(), fields };
}
