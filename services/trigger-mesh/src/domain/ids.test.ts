// Tests of the Grace event ids derived from a producer's own event ids.
import { describe, expect, it } from '@jest/globals';
import { graceEventId } from './ids.js';

describe('Grace event ids', () => {
  const UUID_V8 = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

  it('are UUIDs, the same for the same producer, source and id', () => {
    const id = graceEventId('checkout', '/web', 'A-1');
    expect(id).toMatch(UUID_V8);
    expect(graceEventId('checkout', '/web', 'A-1')).toBe(id);
  });

  it('differ when the producer, the source or the id differs, however the parts are split', () => {
    const ids = [
      graceEventId('checkout', '/web', 'A-1'),
      graceEventId('billing', '/web', 'A-1'),
      graceEventId('checkout', '/app', 'A-1'),
      graceEventId('checkout', '/web', 'A-2'),
      graceEventId('checkout', '/webA', '-1'),
      graceEventId('checkout/', 'web', 'A-1'),
    ];
    expect(new Set(ids).size).toBe(ids.length);
  });
});
