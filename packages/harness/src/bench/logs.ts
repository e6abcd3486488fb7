// The services' (and relay hops') log lines over a bench run, tallied for the report's `service_logs`.

/** Service log lines per service (all of them), those at warn and above, with the first few of those. */
export class LogTally {
  private readonly tally = new Map<string, { lines: number; warn: number; error: number; first: string[] }>();

  add(name: string, line: string): void {
    const entry = this.tally.get(name) ?? { lines: 0, warn: 0, error: 0, first: [] };
    this.tally.set(name, entry);
    entry.lines += 1;
    const level = /"level":"?(\w+)"?/.exec(line)?.[1];
    const severe = level === 'error' || level === 'fatal' || level === '50' || level === '60';
    if (!severe && level !== 'warn' && level !== '40') return;
    if (severe) entry.error += 1;
    else entry.warn += 1;
    if (entry.first.length < 3) entry.first.push(/"msg":"((?:[^"\\]|\\.)*)"/.exec(line)?.[1] ?? line.slice(0, 200));
  }

  toJSON() {
    return Object.fromEntries(this.tally);
  }
}
