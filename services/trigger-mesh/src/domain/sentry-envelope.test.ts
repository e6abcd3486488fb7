import { describe, expect, it } from '@jest/globals';
import { EnvelopeError, parseEnvelope, sentryEventId } from './sentry-envelope.js';

const parse = (text: string | Buffer) => parseEnvelope(Buffer.isBuffer(text) ? text : Buffer.from(text));
const refusal = (text: string | Buffer) => {
  try {
    parse(text);
  } catch (err) {
    expect(err).toBeInstanceOf(EnvelopeError);
    return (err as Error).message;
  }
  throw new Error('the envelope was not refused');
};
const payloads = (text: string | Buffer) => parse(text).items.map((i) => [i.type, i.payload.toString('utf8')]);

describe('Sentry envelopes', () => {
  it('read the header and items to the next newline, with or without a final newline', () => {
    const text =
      '{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","dsn":"https://k@o.example/42"}\n{"type":"event"}\n{"a":1}\n{"type":"session"}\n{"b":2}';
    const envelope = parse(text);
    expect(envelope.header).toEqual({ event_id: '9ec79c33ec9942ab8353589fcb2e04dc', dsn: 'https://k@o.example/42' });
    expect(payloads(text)).toEqual([
      ['event', '{"a":1}'],
      ['session', '{"b":2}'],
    ]);
    expect(payloads(`${text}\n`)).toEqual(payloads(text));
    expect(envelope.items[0]!.header).toEqual({ type: 'event' });
  });

  it('take exactly `length` bytes (newlines and multi-byte characters in them) when the item header gives it', () => {
    const attachment = 'line one\n{"type":"event"}\nnaïve\n';
    const text = `{}\n{"type":"attachment","length":${Buffer.byteLength(attachment)},"filename":"a.txt"}\n${attachment}\n{"type":"event","length":7}\n{"a":1}`;
    expect(payloads(text)).toEqual([
      ['attachment', attachment],
      ['event', '{"a":1}'],
    ]);
    expect(parse(text).items[0]!.header).toMatchObject({ filename: 'a.txt' });
  });

  it('take empty payloads, a header alone, and blank lines between items', () => {
    expect(payloads('{}\n{"type":"attachment","length":0}\n\n{"type":"client_report"}\n')).toEqual([
      ['attachment', ''],
      ['client_report', ''],
    ]);
    expect(parse('{"event_id":"x"}').items).toEqual([]);
    expect(parse('{}\n').items).toEqual([]);
    expect(payloads('{}\n\n{"type":"event"}\n{}\n\n')).toEqual([['event', '{}']]);
  });

  it('keep binary payloads byte for byte', () => {
    const bytes = Buffer.from([0x00, 0x0a, 0xff, 0x0a]);
    const body = Buffer.concat([Buffer.from('{}\n{"type":"attachment","length":4}\n'), bytes]);
    expect(parse(body).items[0]!.payload.equals(bytes)).toBe(true);
  });

  it('say what is broken and where', () => {
    expect(refusal('')).toBe('the envelope is empty: its first line must be the envelope header');
    expect(refusal('\n{"type":"event"}\n{}')).toBe('the envelope is empty: its first line must be the envelope header');
    expect(refusal('{"event_id":\n')).toMatch(/^the envelope header \(line 1\) is not JSON: /);
    expect(refusal('[1]\n')).toBe('the envelope header (line 1) is not a JSON object');
    expect(refusal('{}\n{"type":"event"}\n{}\nnope\n')).toMatch(/^the header of item 2 is not JSON: /);
    expect(refusal('{}\n"event"\n{}')).toBe('the header of item 1 is not a JSON object');
    expect(refusal('{}\n{"type":""}\n{}')).toBe('the header of item 1 has no type');
    expect(refusal('{}\n{"type":7}\n{}')).toBe('the header of item 1 has no type');
    expect(refusal('{}\n{"type":"event","length":-1}\n{}')).toBe(
      'item 1 (event): length must be a byte count (got -1)',
    );
    expect(refusal('{}\n{"type":"event","length":"2"}\n{}')).toBe(
      'item 1 (event): length must be a byte count (got "2")',
    );
    expect(refusal('{}\n{"type":"event","length":1.5}\n{}')).toBe(
      'item 1 (event): length must be a byte count (got 1.5)',
    );
    expect(refusal('{}\n{"type":"event","length":3}\n{}')).toBe(
      'item 1 (event): length 3 runs past the end of the envelope (2 bytes left)',
    );
    expect(refusal('{}\n{"type":"event","length":3}')).toBe(
      'item 1 (event): length 3 runs past the end of the envelope (0 bytes left)',
    );
    expect(refusal('{}\n{"type":"attachment","length":2}\nabc\n')).toBe(
      'item 1 (attachment): its 2 bytes are not followed by a newline',
    );
  });

  it('hold at most the items it is told', () => {
    const items = (n: number) => `{}\n${'{"type":"log"}\n{}\n'.repeat(n)}`;
    expect(parseEnvelope(Buffer.from(items(3)), 3).items).toHaveLength(3);
    expect(() => parseEnvelope(Buffer.from(items(4)), 3)).toThrow('an envelope holds at most 3 items');
    expect(parse(items(100)).items).toHaveLength(100);
    expect(() => parse(items(101))).toThrow('an envelope holds at most 100 items');
  });
});

describe('Sentry event ids', () => {
  it('are one form with or without dashes, in any case', () => {
    expect(sentryEventId('9ec79c33ec9942ab8353589fcb2e04dc')).toBe('9ec79c33ec9942ab8353589fcb2e04dc');
    expect(sentryEventId('9EC79C33-EC99-42AB-8353-589FCB2E04DC')).toBe('9ec79c33ec9942ab8353589fcb2e04dc');
  });

  it('are nothing else', () => {
    for (const id of [
      undefined,
      7,
      '',
      'abc',
      '9ec79c33ec9942ab8353589fcb2e04d',
      '9ec79c33-ec9942ab-8353-589fcb2e04dc',
    ])
      expect(sentryEventId(id)).toBeUndefined();
  });
});
