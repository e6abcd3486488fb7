// Sentry envelopes (what the SDKs post to /api/<project>/envelope/): a JSON header line, then items, each an
// item-header line (`type`, optional `length` in bytes) and its payload: `length` bytes when given (the payload may
// hold newlines), else up to the next newline.

export interface EnvelopeItem {
  type: string;
  payload: Buffer;
}

export interface Envelope {
  header: Record<string, unknown>;
  items: EnvelopeItem[];
}

export class EnvelopeError extends Error {}

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

/** Parse an envelope; an EnvelopeError says what is broken and where. At most `maxItems` items. */
export function parseEnvelope(body: Buffer, maxItems = 100): Envelope {
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
      at += 1; // a blank line between items (or the final newline)
      continue;
    }
    const n = items.length + 1;
    if (n > maxItems) throw new EnvelopeError(`an envelope holds at most ${maxItems} items`);
    const itemHeader = jsonObject(body.subarray(at, end), `the header of item ${n}`);
    if (typeof itemHeader.type !== 'string' || itemHeader.type === '')
      throw new EnvelopeError(`the header of item ${n} has no type`);
    const start = end + 1;
    let payloadEnd: number;
    if (itemHeader.length !== undefined) {
      const length = itemHeader.length;
      if (typeof length !== 'number' || !Number.isInteger(length) || length < 0)
        throw new EnvelopeError(`item ${n} (${itemHeader.type}): length must be a byte count`);
      payloadEnd = start + length;
      if (payloadEnd > body.length)
        throw new EnvelopeError(
          `item ${n} (${itemHeader.type}): length ${length} runs past the end of the envelope (${Math.max(0, body.length - start)} bytes left)`,
        );
    } else {
      payloadEnd = start > body.length ? body.length : lineEnd(start);
    }
    items.push({ type: itemHeader.type, payload: body.subarray(Math.min(start, body.length), payloadEnd) });
    at = payloadEnd + 1;
  }
  return { header, items };
}
