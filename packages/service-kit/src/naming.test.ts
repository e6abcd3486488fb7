import { describe, expect, it } from '@jest/globals';
import { Naming } from './naming.js';

describe('Naming', () => {
  it('leaves subjects and streams alone without a namespace', () => {
    const n = new Naming('');
    expect(n.subject('error.reported')).toBe('error.reported');
    expect(n.stream('GRACE_ERRORS')).toBe('GRACE_ERRORS');
  });

  it('prefixes subjects and streams with the namespace, and strips it back', () => {
    const n = new Naming('staging');
    expect(n.subject('dlq.error.reported')).toBe('staging.dlq.error.reported');
    expect(n.stream('GRACE_DLQ')).toBe('staging_GRACE_DLQ');
    expect(n.unprefix('staging.error.captured')).toBe('error.captured');
  });

  it('makes durable names without dots or wildcards', () => {
    expect(new Naming('').durable('cube-etl', 'incident.>')).toBe('cube-etl__incident__');
    expect(new Naming('').durable('sentinel', 'error.captured')).toBe('sentinel__error_captured');
  });
});
