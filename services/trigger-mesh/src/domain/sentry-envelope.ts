// Sentry envelopes (what the SDKs post to /api/<project>/envelope/): a JSON header line (`event_id`, `dsn`,
// `sent_at`, `sdk`...), then items, each an item-header line (`type`, optional `length` in bytes) and its payload:
// exactly `length` bytes when given (the payload may then hold newlines), else up to the next newline. A payload
// ends at a newline or at the end of the envelope; the SDKs write no final newline, other writers do.

export interface EnvelopeItem {
  type: string;
  /** The item header as sent (`type`, `length`, `filename`, `content_type`, `item_count`...). */
  header: Record<string, unknown>;
  payload: Buffer;
}

export interface Envelope {
  header: Record<string, unknown>;
  items: EnvelopeItem[];
}

export class EnvelopeError extends Error {}

/** How many items one envelope may hold (the SDKs send a handful; a batch of logs or spans is one item). */
export const MAX_ENVELOPE_ITEMS = 100;

const NEWLINE = 0x0a;

function jsonObject(bytes: Buffer, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new EnvelopeError(`${what} is not JSON: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new EnvelopeError(`${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

/** Parse an envelope; an EnvelopeError says what is broken and where. */
export function parseEnvelope(body: Buffer, maxItems = MAX_ENVELOPE_ITEMS): Envelope {
  const lineEnd = (from: number) => {
    const at = body.indexOf(NEWLINE, from);
    return at === -1 ? body.length : at;
  };
  const headerEnd = lineEnd(0);
  if (headerEnd === 0) throw new EnvelopeError('the envelope is empty: its first line must be the envelope header');
  const header = jsonObject(body.subarray(0, headerEnd), 'the envelope header (line 1)');
  const items: EnvelopeItem[] = [];
  let at = headerEnd + 1;
  while (at < body.length) {
    const end = lineEnd(at);
    if (end === at) {
      at += 1; // a blank line between items, or the final newline
      continue;
    }
    const n = items.length + 1;
    if (n > maxItems) throw new EnvelopeError(`an envelope holds at most ${maxItems} items`);
    const itemHeader = jsonObject(body.subarray(at, end), `the header of item ${n}`);
    const type = itemHeader.type;
    if (typeof type !== 'string' || type === '') throw new EnvelopeError(`the header of item ${n} has no type`);
    const where = `item ${n} (${type})`;
    const start = Math.min(end + 1, body.length);
    let payloadEnd: number;
    if (itemHeader.length === undefined || itemHeader.length === null) {
      payloadEnd = lineEnd(start);
    } else {
      const length = itemHeader.length;
      if (typeof length !== 'number' || !Number.isInteger(length) || length < 0)
        throw new EnvelopeError(`${where}: length must be a byte count (got ${JSON.stringify(length)})`);
      payloadEnd = start + length;
      if (payloadEnd > body.length)
        throw new EnvelopeError(
          `${where}: length ${length} runs past the end of the envelope (${body.length - start} bytes left)`,
        );
      if (payloadEnd < body.length && body[payloadEnd] !== NEWLINE)
        throw new EnvelopeError(`${where}: its ${length} bytes are not followed by a newline`);
    }
    items.push({ type, header: itemHeader, payload: body.subarray(start, payloadEnd) });
    at = payloadEnd + 1;
  }
  return { header, items };
}

/**
 * A Sentry event id as one form: SDKs write 32 hex digits, some 36 with dashes (the envelope spec allows both),
 * so a retry in the other form is still the same event. Undefined for anything that is no such id.
 */
export function sentryEventId(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const hex = value.toLowerCase();
  if (/^[0-9a-f]{32}$/.test(hex)) return hex;
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(hex)) return hex.replaceAll('-', '');
  return undefined;
}
