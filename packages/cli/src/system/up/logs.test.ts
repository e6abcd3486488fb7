import { describe, expect, it } from '@jest/globals';
import { formatLine, SOURCE_WIDTH } from './logs.js';

const plain = { pretty: true, color: false };
const json = { pretty: false, color: false };

describe('grace up log lines', () => {
  it('shows a service record as time, padded service, level, message and its key fields', () => {
    const line = JSON.stringify({
      level: 'warn',
      time: '2026-11-26T07:16:51.148Z',
      service: 'sentinel',
      msg: 'incident escalated',
      incident_id: '00df0e5b-04b3-449c-ab76-1f35a145de4f',
      correlationid: 'd3fa51a6-40a2-4190-b168-ddae9b9afe81',
      err: { message: 'boom' },
    });
    const shown = formatLine(plain, 'sentinel', line, 'stdout');
    expect(shown).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} sentinel {2,}WARN {2}incident escalated corr=d3fa51a6 incident=00df0e5b error=boom$/,
    );
    expect(shown.indexOf('WARN')).toBe(13 + SOURCE_WIDTH + 1);
  });

  it("shows the demo target's lines and text that is not JSON", () => {
    const demo = formatLine(
      plain,
      'demo-target',
      '{"at":"2026-11-26T07:16:49.694Z","demo":"broke the cache"}',
      'stdout',
    );
    expect(demo).toMatch(/demo-target +INFO {2}broke the cache$/);
    expect(formatLine(plain, 'verifier', 'TypeError: x is undefined', 'stderr')).toMatch(
      /verifier +ERROR TypeError: x is undefined$/,
    );
  });

  it('keeps JSON lines as they are, adding a service field where one is missing', () => {
    const service = '{"level":"info","service":"verifier","msg":"contract verified"}';
    expect(formatLine(json, 'verifier', service, 'stdout')).toBe(service);
    expect(JSON.parse(formatLine(json, 'demo-target', '{"at":"t","demo":"healthy again"}', 'stdout'))).toEqual({
      service: 'demo-target',
      at: 't',
      demo: 'healthy again',
    });
    expect(JSON.parse(formatLine(json, 'sentinel', 'not json', 'stderr'))).toMatchObject({
      service: 'sentinel',
      level: 'error',
      stream: 'stderr',
      msg: 'not json',
    });
  });

  it('colours the service and level in a terminal', () => {
    const shown = formatLine({ pretty: true, color: true }, 'verifier', '{"level":"error","msg":"x"}', 'stdout');
    expect(shown).toContain('\x1b[32mverifier');
    expect(shown).toContain('\x1b[31mERROR');
  });
});
