// Printing answers: aligned tables for people, JSON for machines, errors on stderr.
import { CliError, ExitCode } from './context.js';

export type Cell = string | number | boolean | undefined | null;

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function printTable(headers: string[], rows: Cell[][]): void {
  if (rows.length === 0) {
    process.stdout.write('(none)\n');
    return;
  }
  const text = rows.map((row) => row.map((cell) => (cell === undefined || cell === null ? '-' : String(cell))));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((row) => row[i]?.length ?? 0)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  process.stdout.write(`${[line(headers.map((h) => h.toUpperCase())), ...text.map(line)].join('\n')}\n`);
}

/** A table of objects whose columns are the keys of the first one (cube rows). */
export function printObjects(rows: Record<string, unknown>[]): void {
  const headers = rows[0] ? Object.keys(rows[0]) : [];
  printTable(
    headers,
    rows.map((row) => headers.map((h) => format(row[h]))),
  );
}

function format(value: unknown): Cell {
  if (typeof value === 'number' && !Number.isInteger(value)) return value.toFixed(3);
  if (value !== null && typeof value === 'object') return JSON.stringify(value);
  return value as Cell;
}

export function printError(err: unknown): ExitCode {
  if (err instanceof CliError) {
    process.stderr.write(`grace: ${err.message}\n`);
    for (const d of err.details) process.stderr.write(`  ${d.path || '(root)'}: ${d.message}\n`);
    return err.exitCode;
  }
  process.stderr.write(`grace: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return ExitCode.somethingWrong;
}
