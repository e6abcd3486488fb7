// The http check: one GET against the target, judged on status, latency and the JSON fields of its body.
import type { schemas } from '@grace/contracts';
import type { Static } from '@sinclair/typebox';
import { compareFields, describeMismatches } from '../domain/fields.js';
import { readBodyCapped, tracedFetch } from '@grace/service-kit';

type CheckResult = schemas.CheckResult;
type FieldComparison = schemas.FieldComparison;
export type HttpCheck = Static<typeof schemas.HttpCheck>;

const MAX_BODY_BYTES = 1024 * 1024;

// Duck-typed rather than `instanceof Error`: errors thrown by Node's fetch may come from another realm (jest's vm).
function errorPart(error: unknown, key: 'name' | 'message' | 'code' | 'cause'): unknown {
  return typeof error === 'object' && error !== null ? (error as Record<string, unknown>)[key] : undefined;
}

/** Why the request got no answer, in a short sentence. */
function describeFailure(error: unknown, url: string, timeoutMs: number): string {
  const name = errorPart(error, 'name');
  if (name === 'TimeoutError' || name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  // fetch wraps the socket error as its cause.
  const cause = errorPart(error, 'cause') ?? error;
  const code = errorPart(cause, 'code');
  const host = URL.canParse(url) ? new URL(url).host : url;
  if (code === 'ECONNREFUSED') return `connection refused: ${host}`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `host not found: ${host}`;
  const message = errorPart(cause, 'message');
  return `request failed: ${typeof message === 'string' && message !== '' ? message : String(cause)}`;
}

/** The body's expected JSON fields, or why they could not be compared. */
async function bodyFields(
  response: Response,
  expected: Record<string, unknown>,
): Promise<{ fields: FieldComparison[] } | { problem: string }> {
  const text = await readBodyCapped(response, MAX_BODY_BYTES);
  if (text === undefined) return { problem: `body larger than ${MAX_BODY_BYTES} bytes, JSON fields not compared` };
  try {
    return { fields: compareFields(expected, JSON.parse(text)) };
  } catch {
    return { problem: 'body is not JSON, JSON fields not compared' };
  }
}

/**
 * GETs check.url without following redirects. Latency runs until the response headers arrive; the timeout covers
 * the body too. A request that gets no answer is an `error`, never a failure of the target's behaviour.
 */
export async function runHttpCheck(check: HttpCheck, timeoutMs: number): Promise<CheckResult> {
  const started = performance.now();
  const base = { name: check.name, kind: 'http' as const };
  const elapsed = (): number => Math.round(performance.now() - started);
  try {
    const response = await tracedFetch(check.url, {
      method: 'GET',
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
      headers: { accept: 'application/json' },
    });
    const latency = elapsed();
    const observed = { status: response.status, latency_ms: latency };
    const problems: string[] = [];
    let fields: FieldComparison[] | undefined;
    if (response.status !== check.expect_status) {
      problems.push(`expected ${check.expect_status}, got ${response.status}`);
    }
    if (check.max_latency_ms !== undefined && latency > check.max_latency_ms) {
      problems.push(`${latency} ms, over the ${check.max_latency_ms} ms ceiling`);
    }
    if (check.expect_json !== undefined && response.status === check.expect_status) {
      const body = await bodyFields(response, check.expect_json);
      if ('problem' in body) problems.push(body.problem);
      else {
        fields = body.fields;
        if (fields.some((f) => !f.matched)) problems.push(describeMismatches(fields));
      }
    } else {
      await response.body?.cancel();
    }
    const reason = problems.length > 0 ? problems.join('; ') : `${response.status} in ${latency} ms`;
    const status = problems.length > 0 ? ('failed' as const) : ('passed' as const);
    return { ...base, status, reason, duration_ms: elapsed(), observed, ...(fields ? { fields } : {}) };
  } catch (error) {
    return { ...base, status: 'error', reason: describeFailure(error, check.url, timeoutMs), duration_ms: elapsed() };
  }
}
