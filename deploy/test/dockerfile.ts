// Reading deploy/Dockerfile and .dockerignore as Docker does, for the tests that check them without a Docker
// engine: instructions (comments, continuation lines, flags, exec form), stages, variable expansion, and the
// context filter.

export interface Instruction {
  /** Upper case: FROM, RUN, COPY, ... */
  keyword: string;
  /** Leading `--name=value` flags (`--name` alone: 'true'). */
  flags: Record<string, string>;
  /** What follows the keyword and its flags, continuation lines joined as Docker joins them. */
  args: string;
  /** The exec form (`["node", "main.js"]`) when the arguments are a JSON array of strings. */
  exec?: string[];
  /** 1-based line of the instruction's first line. */
  line: number;
}

export interface Stage {
  index: number;
  /** `FROM <from> AS <name>`. */
  from: string;
  name?: string;
  /** The instructions after FROM, up to the next FROM. */
  instructions: Instruction[];
}

export interface Dockerfile {
  /** ARGs before the first FROM, with their defaults. */
  globalArgs: Map<string, string | undefined>;
  stages: Stage[];
}

const FLAG = /^--([a-z-]+)(?:=(\S*))?(?:\s+|$)/;

/** Splits leading `--flag=value` tokens from an instruction's arguments. */
function takeFlags(text: string): { flags: Record<string, string>; rest: string } {
  const flags: Record<string, string> = {};
  let rest = text;
  for (let match = FLAG.exec(rest); match; match = FLAG.exec(rest)) {
    flags[match[1]!] = match[2] ?? 'true';
    rest = rest.slice(match[0].length);
  }
  return { flags, rest };
}

function execForm(text: string): string[] | undefined {
  if (!text.startsWith('[')) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : undefined;
  } catch {
    return undefined; // not JSON: Docker runs it in shell form
  }
}

/**
 * The instructions of a Dockerfile with the default escape character. Comment lines are dropped, also inside
 * an instruction continued over several lines; a line ending in `\` continues on the next one, joined without
 * the backslash and the newline (empty lines inside a continuation are skipped), as Docker's parser does.
 */
export function parseInstructions(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  const lines = text.split(/\r?\n/);
  let pending: { text: string; line: number } | undefined;
  lines.forEach((raw, i) => {
    if (/^\s*#/.test(raw) || raw.trim() === '') return; // a comment, or an empty line (also inside a continuation)
    const continues = /\\\s*$/.test(raw);
    const body = continues ? raw.replace(/\\\s*$/, '') : raw;
    pending = pending ? { text: pending.text + body, line: pending.line } : { text: body.trimStart(), line: i + 1 };
    if (continues) return;
    instructions.push(toInstruction(pending.text, pending.line));
    pending = undefined;
  });
  if (pending) instructions.push(toInstruction(pending.text, pending.line));
  return instructions;
}

function toInstruction(text: string, line: number): Instruction {
  const match = /^(\S+)\s*([\s\S]*)$/.exec(text.trim());
  if (!match) throw new Error(`line ${line}: no instruction in "${text}"`);
  const keyword = match[1]!.toUpperCase();
  const withFlags = ['FROM', 'RUN', 'COPY', 'ADD', 'HEALTHCHECK'].includes(keyword);
  const { flags, rest } = withFlags ? takeFlags(match[2]!) : { flags: {}, rest: match[2]! };
  const args = rest.trim();
  const exec = execForm(keyword === 'HEALTHCHECK' ? args.replace(/^CMD\s+/i, '') : args);
  return { keyword, flags, args, ...(exec ? { exec } : {}), line };
}

/** The stages (FROM ... [AS name]) and the global ARGs of a Dockerfile. */
export function parseDockerfile(text: string): Dockerfile {
  const globalArgs = new Map<string, string | undefined>();
  const stages: Stage[] = [];
  for (const instruction of parseInstructions(text)) {
    if (instruction.keyword === 'FROM') {
      const [from, as, name] = instruction.args.split(/\s+/);
      if (from === undefined) throw new Error(`line ${instruction.line}: FROM without an image`);
      const stage: Stage = { index: stages.length, from, instructions: [] };
      if (as?.toUpperCase() === 'AS' && name !== undefined) stage.name = name.toLowerCase();
      stages.push(stage);
    } else if (stages.length === 0) {
      if (instruction.keyword !== 'ARG')
        throw new Error(`line ${instruction.line}: ${instruction.keyword} before FROM`);
      const [name, value] = splitAssignment(instruction.args);
      globalArgs.set(name, value);
    } else {
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return { globalArgs, stages };
}

/** `NAME=value` (quotes removed) or `NAME`. */
export function splitAssignment(text: string): [string, string | undefined] {
  const eq = text.indexOf('=');
  if (eq < 0) return [text.trim(), undefined];
  return [text.slice(0, eq).trim(), unquote(text.slice(eq + 1).trim())];
}

function unquote(value: string): string {
  return /^(["']).*\1$/.test(value) ? value.slice(1, -1) : value;
}

/** `KEY="value" KEY2=value2 ...` of LABEL and ENV. */
export function keyValues(text: string): Map<string, string> {
  const pairs = new Map<string, string>();
  for (const match of text.matchAll(/([\w.-]+)=("(?:[^"\\]|\\.)*"|\S+)/g)) pairs.set(match[1]!, unquote(match[2]!));
  return pairs;
}

/** Docker's variable expansion: `$NAME`, `${NAME}`, `${NAME:-default}`, `${NAME:+alternative}`. */
export function expand(text: string, vars: ReadonlyMap<string, string | undefined>): string {
  return text.replace(
    /\$(?:\{(\w+)(?::([-+])([^}]*))?\}|(\w+))/g,
    (_all, braced?: string, op?: string, word?: string, bare?: string) => {
      const value = vars.get((braced ?? bare)!);
      if (op === '-') return value ? value : (word ?? '');
      if (op === '+') return value ? (word ?? '') : '';
      return value ?? '';
    },
  );
}

/** Docker's `.dockerignore` filter: true when `path` (relative, `/`-separated) stays out of the context. */
export function dockerignore(text: string): (path: string) => boolean {
  const patterns = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const exception = line.startsWith('!');
      const pattern = (exception ? line.slice(1) : line).trim().replace(/^\/+/, '').replace(/\/+$/, '');
      return { exception, regex: patternRegex(pattern) };
    });
  return (path) => {
    // A pattern matches a path or any directory above it; the last matching pattern decides.
    const prefixes = path.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'));
    let excluded = false;
    for (const { exception, regex } of patterns) {
      if (prefixes.some((prefix) => regex.test(prefix))) excluded = !exception;
    }
    return excluded;
  };
}

/** Go's filepath.Match with `**` for any number of directories, as Docker's pattern matcher reads it. */
function patternRegex(pattern: string): RegExp {
  let regex = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      i++;
      if (pattern[i + 1] === '/') {
        i++;
        regex += '(?:.*/)?';
      } else regex += '.*';
    } else if (c === '*') regex += '[^/]*';
    else if (c === '?') regex += '[^/]';
    else regex += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${regex}$`);
}
