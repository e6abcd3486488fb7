import { describe, expect, it } from '@jest/globals';
import { deadLetterSubject, streamFor, streams, subjectMatches } from './streams.js';
import { eventSubjects } from './subjects.js';

describe('streams', () => {
  it('capture every event subject in exactly one stream', () => {
    for (const subject of eventSubjects) {
      const owners = streams.filter((s) => s.subjects.some((f) => subjectMatches(f, subject)));
      expect(owners.map((s) => s.name)).toHaveLength(1);
    }
  });

  it('capture dead letters of every subject in the dead-letter stream', () => {
    for (const subject of eventSubjects) expect(streamFor(deadLetterSubject(subject)).name).toBe('GRACE_DLQ');
  });

  it('do not overlap one another (JetStream refuses overlapping subjects)', () => {
    const filters = streams.flatMap((s) => s.subjects.map((f) => ({ stream: s.name, f })));
    for (const a of filters)
      for (const b of filters) {
        if (a.stream === b.stream) continue;
        expect(subjectMatches(a.f, b.f.replace('>', 'x'))).toBe(false);
      }
  });

  it('match NATS wildcards like the server does', () => {
    expect(subjectMatches('error.>', 'error.reported')).toBe(true);
    expect(subjectMatches('error.>', 'error')).toBe(false);
    expect(subjectMatches('error.*', 'error.a.b')).toBe(false);
    expect(subjectMatches('a.*.c', 'a.b.c')).toBe(true);
    expect(subjectMatches('a.b', 'a.b.c')).toBe(false);
  });

  it('refuse a subject no stream captures', () => {
    expect(() => streamFor('nobody.listens')).toThrow('no stream captures subject "nobody.listens"');
  });
});
