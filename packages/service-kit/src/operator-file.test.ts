// Tests of operator-owned YAML files: problems with paths and lines, readable union errors, files of named entries,
// matchers and durations.
import { describe, expect, it } from '@jest/globals';
import { Type } from '@sinclair/typebox';
import {
  compileErrorMatch,
  compileNames,
  compileOperatorFile,
  compileRegex,
  compileValueMatch,
  ENTRY_NAME,
  EntryName,
  OperatorFileError,
  parseDuration,
  parseYamlDocument,
  SEVERITY_RANK,
  type FileProblem,
  type NamedEntriesSpec,
} from './operator-file.js';

const Names = Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })]);
const Schema = Type.Object(
  {
    version: Type.Literal(1),
    items: Type.Array(
      Type.Object(
        { name: Type.String({ pattern: '^[a-z]+$' }), service: Type.Optional(Names) },
        {
          additionalProperties: false,
        },
      ),
    ),
  },
  { additionalProperties: false },
);
const valueOrList = /^items\.\d+\.service$/;

function problems(text: string): FileProblem[] {
  const file = parseYamlDocument(text, Schema, { valueOrList });
  if (file.ok) throw new Error('expected problems');
  return file.problems;
}

describe('parseYamlDocument', () => {
  it('gives the validated value and the line of any path in it', () => {
    const file = parseYamlDocument<{ version: 1; items: { name: string }[] }>(
      'version: 1\nitems:\n  - name: a\n  - name: b\n',
      Schema,
    );
    if (!file.ok) throw new Error(JSON.stringify(file.problems));
    expect(file.value.items.map((item) => item.name)).toEqual(['a', 'b']);
    expect(file.lineOf(['items', 1, 'name'])).toBe(4);
    // A missing property is reported at its parent.
    expect(file.lineOf(['items', 1, 'service'])).toBe(4);
    expect(file.problemAt(['items', 0, 'name'], 'taken')).toEqual({ path: 'items.0.name', message: 'taken (line 3)' });
  });

  it('reports YAML syntax errors with line and column, and refuses alias bombs', () => {
    expect(problems('version: 1\nitems: [a\n')[0]).toMatchObject({
      path: '',
      message: expect.stringMatching(/^YAML syntax error at line \d+, column \d+: /) as unknown as string,
    });
    const bomb = `a: &a [x, x, x, x, x, x, x, x, x, x]\n${Array.from({ length: 120 }, (_, i) => `k${i}: *a`).join('\n')}\n`;
    expect(problems(bomb)[0]!.message).toMatch(/^YAML could not be read: /);
  });

  it('says where every schema problem is, by path and line', () => {
    expect(problems('')).toEqual([
      { path: 'version', message: 'is required' },
      { path: 'items', message: 'is required' },
    ]);
    expect(problems('version: 2\nitems:\n  - name: A\n    extra: 1\n')).toEqual([
      { path: 'version', message: 'must be 1 (line 1)' },
      { path: 'items.0.extra', message: 'is not an allowed property (line 4)' },
      { path: 'items.0.name', message: 'must match pattern "^[a-z]+$" (line 3)' },
    ]);
  });

  it('says a value-or-list field takes a list too, and speaks of the branch the operator wrote', () => {
    expect(problems('version: 1\nitems:\n  - name: a\n    service: []\n')).toEqual([
      { path: 'items.0.service', message: 'must NOT have fewer than 1 items (line 4)' },
    ]);
    expect(problems('version: 1\nitems:\n  - name: a\n    service: 5\n')).toEqual([
      { path: 'items.0.service', message: 'must be string, or a list of them (line 4)' },
    ]);
  });
  it('does not hold a value written as an object to the scalar branches of its union', () => {
    const Settings = Type.Union([Type.Boolean(), Type.Object({ quorum: Type.Integer({ minimum: 1 }) })]);
    const file = parseYamlDocument('approval: { quorum: 0 }\n', Type.Object({ approval: Settings }));
    expect(file.ok ? [] : file.problems).toEqual([{ path: 'approval.quorum', message: 'must be >= 1 (line 1)' }]);
  });
});

describe('compileOperatorFile', () => {
  const Step = Type.Object(
    { name: EntryName, wait: Type.String(), note: Type.Optional(Type.String({ maxLength: 5 })) },
    { additionalProperties: false },
  );
  const StepsFile = Type.Object(
    {
      version: Type.Literal(1),
      defaults: Type.Optional(Type.Object({ wait: Type.String() }, { additionalProperties: false })),
      steps: Type.Array(Step),
    },
    { additionalProperties: false },
  );
  type Step = { name: string; wait: string; note?: string };
  type StepsFile = { version: 1; defaults?: { wait: string }; steps: Step[] };
  const spec: NamedEntriesSpec<StepsFile, Step, { name: string; ms: number }, number> = {
    file: 'step list',
    schema: StepsFile,
    entries: 'steps',
    entry: 'step',
    shared: (file, report) => {
      const ms = parseDuration(file.defaults?.wait ?? '1s', { max: '1h', overMax: 'split it' });
      if (typeof ms === 'string') report(['defaults', 'wait'], ms);
      return typeof ms === 'number' ? ms : 0;
    },
    compile: (step, report, defaultMs) => {
      const ms = step.wait === 'default' ? defaultMs! : parseDuration(step.wait, { max: '1h', overMax: 'split it' });
      if (typeof ms === 'string') report(['wait'], ms);
      return { name: step.name, ms: typeof ms === 'number' ? ms : 0 };
    },
  };
  const refused = (text: string): string[] => {
    try {
      compileOperatorFile(text, spec);
    } catch (error) {
      expect(error).toBeInstanceOf(OperatorFileError);
      expect((error as OperatorFileError).file).toBe('step list');
      return (error as OperatorFileError).problems.map((p) => `${p.path}: ${p.message}`);
    }
    throw new Error('the file was accepted');
  };

  it('gives the file as written and every entry compiled, in file order, with what the entries share', () => {
    const file = compileOperatorFile(
      'version: 1\ndefaults: { wait: 2m }\nsteps:\n  - { name: b-1, wait: 5s }\n  - { name: a_2, wait: default }\n',
      spec,
    );
    expect(file.value.steps.map((step) => step.name)).toEqual(['b-1', 'a_2']);
    expect(file.entries).toEqual([
      { name: 'b-1', ms: 5_000 },
      { name: 'a_2', ms: 120_000 },
    ]);
  });

  it('reports every problem at once: outside the entries, then each entry by its name, schema and compiling', () => {
    expect(
      refused(`version: 2
defaults: { wait: 2y }
steps:
  - { name: Wait Here, wait: 5s, note: too long }
  - { name: ok, wait: 9h }
  - { name: ok, wait: 1s, extra: 1 }
  - { name: 7, wait: 1s }
`),
    ).toEqual([
      'version: must be 1 (line 1)',
      'steps.0.name: step name "Wait Here" must be lower-case letters, digits, _ and -, starting with a letter or digit, at most 64 characters (line 4)',
      'steps.0.note: must NOT have more than 5 characters (line 4)',
      'steps.1.wait: duration "9h" is longer than 1h: split it (line 5)',
      'steps.2.name: duplicate step name "ok" (also steps.1) (line 6)',
      'steps.2.extra: is not an allowed property (line 6)',
      'steps.3.name: must be string (line 7)',
    ]);
    // What the entries share is compiled only when the rest of the file outside them is valid.
    expect(refused('version: 1\ndefaults: { wait: 2y }\nsteps: []\n')).toEqual([
      'defaults.wait: invalid duration "2y": write a whole number and a unit s, m, h or d (30s, 5m, 2h, 1d) (line 2)',
    ]);
  });

  it('refuses YAML that does not parse, and a file without its entries', () => {
    expect(refused('version: 1\nsteps: [\n')[0]).toMatch(/^: YAML syntax error at line \d+, column \d+: /);
    expect(refused('')).toEqual(['version: is required', 'steps: is required']);
    expect(refused('version: 1\nsteps: { name: a }\n')).toEqual(['steps: must be array (line 2)']);
  });

  it('names the file and lists every problem in its message', () => {
    expect(() => compileOperatorFile('version: 1\nsteps:\n  - { name: a, wait: 0s }\n', spec)).toThrow(
      'invalid step list: steps.0.wait: invalid duration "0s": write a whole number and a unit s, m, h or d (30s, 5m, 2h, 1d) (line 3)',
    );
    expect(new OperatorFileError('x', [{ path: '', message: 'empty' }]).message).toBe('invalid x: (root): empty');
  });
});

describe('ENTRY_NAME', () => {
  it('takes lower-case letters, digits, _ and -, from a letter or digit, up to 64 characters', () => {
    const accepted = ['a', 'restart_service', 'tier-3-needs-approval', '5xx-noise', 'a'.repeat(64)];
    expect(accepted.filter((name) => !ENTRY_NAME.test(name))).toEqual([]);
    const refused = ['', 'Restart', 'db.reconnect', '-lead', '_lead', 'two words', 'a'.repeat(65), 'é'];
    expect(refused.filter((name) => ENTRY_NAME.test(name))).toEqual([]);
  });
});

describe('compileNames', () => {
  it('matches exact names and globs where * is any run of characters', () => {
    const test = compileNames(['checkout', 'pay*', '*.internal']);
    expect(['checkout', 'payments', 'pay', 'db.internal'].map(test)).toEqual([true, true, true, true]);
    expect(['checkouts', 'repay', 'db.internal.x', 'pay.'.slice(0, 2)].map(test)).toEqual([false, false, false, false]);
    expect(compileNames('a.b')('aXb')).toBe(false);
  });
});

describe('compileRegex', () => {
  it('reports an empty or invalid expression and compiles with the flags given', () => {
    const reported: string[] = [];
    expect(compileRegex('', (message) => reported.push(message))).toBeUndefined();
    expect(compileRegex('(', (message) => reported.push(message))).toBeUndefined();
    expect(reported).toEqual([
      'empty regular expression after "re:"',
      'invalid regular expression: /(/: Unterminated group',
    ]);
    expect(compileRegex('timeout', () => undefined)!.test('Timeout')).toBe(false);
    expect(compileRegex('timeout', () => undefined, 'i')!.test('Timeout')).toBe(true);
  });
});

describe('compileValueMatch', () => {
  it('compares as text an exact value, or searches a "re:" expression; a missing value never matches', () => {
    expect(compileValueMatch(500, () => undefined)('500')).toBe(true);
    expect(compileValueMatch('true', () => undefined)(true)).toBe(true);
    expect(compileValueMatch('x', () => undefined)(undefined)).toBe(false);
    expect(compileValueMatch('re:^5', () => undefined)(503)).toBe(true);
    expect(compileValueMatch('re:^eu-', () => undefined)('EU-west')).toBe(false);
    expect(compileValueMatch('re:^eu-', () => undefined, 'i')('EU-west')).toBe(true);
    expect(compileValueMatch('re:.*', () => undefined)(null)).toBe(false);
    const reported: string[] = [];
    expect(compileValueMatch('re:', (message) => reported.push(message))('anything')).toBe(false);
    expect(reported).toEqual(['empty regular expression after "re:"']);
  });
});

describe('parseDuration', () => {
  const options = { max: '30d', overMax: 'use drop instead' };
  it('reads a whole number and a unit, up to the maximum', () => {
    expect(['30s', '5m', '2h', '30d'].map((text) => parseDuration(text, options))).toEqual([
      30_000,
      300_000,
      7_200_000,
      30 * 86_400_000,
    ]);
    expect(parseDuration('31d', options)).toBe('duration "31d" is longer than 30d: use drop instead');
  });
  it('refuses anything else, and 0 unless allowed', () => {
    for (const text of ['5', '1.5h', '05m', '1w', '-1s', '0s']) {
      expect(parseDuration(text, options)).toBe(
        `invalid duration "${text}": write a whole number and a unit s, m, h or d (30s, 5m, 2h, 1d)`,
      );
    }
    expect(parseDuration('0s', { ...options, allowZero: true })).toBe(0);
  });
});

describe('SEVERITY_RANK', () => {
  it('orders severities from debug to critical', () => {
    const order = Object.entries(SEVERITY_RANK)
      .sort((a, b) => a[1] - b[1])
      .map(([name]) => name);
    expect(order).toEqual(['debug', 'info', 'warning', 'error', 'critical']);
  });
});

describe('compileErrorMatch', () => {
  const error = {
    service: 'checkout-api',
    environment: 'production',
    kind: 'Timeout',
    severity: 'error' as const,
    message: 'Upstream TIMED OUT',
    attributes: { code: 504 },
  };
  const matches = (match: Parameters<typeof compileErrorMatch>[0], flags = '') =>
    compileErrorMatch(match, () => undefined, flags).every((test) => test(error));

  it('needs every given field to match: globs, severities, the message, attributes as text', () => {
    expect(matches({ service: 'checkout-*', min_severity: 'warning', attributes: { code: '504' } })).toBe(true);
    expect(matches({ service: ['payments', 'checkout-api'], severity: ['critical'] })).toBe(false);
  });

  it('searches the message with the flags it is given, and never matches a category the error lacks', () => {
    expect(matches({ message: 'timed out' })).toBe(false);
    expect(matches({ message: 'timed out' }, 'i')).toBe(true);
    expect(matches({ category: '*' })).toBe(false);
  });

  it('reports a bad regular expression with its path', () => {
    const problems: string[] = [];
    compileErrorMatch({ attributes: { pod: 're:(' } }, (path, message) =>
      problems.push(`${path.join('.')}: ${message}`),
    );
    expect(problems).toEqual([expect.stringMatching(/^attributes\.pod: invalid regular expression/)]);
  });
});
