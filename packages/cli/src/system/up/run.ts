// `grace up` as a supervisor: find or start NATS and Postgres, start the seven services and the demo target as
// processes, show their logs and the story on the bus, and stop everything in order on Ctrl-C or SIGTERM
// (a second signal kills at once). A process that dies on its own stops the whole run with exit code 1.
import {
  findJaeger,
  JAEGER_VERSION,
  launch,
  REPO_ROOT,
  resolveInfrastructure,
  SERVICES,
  startJaeger,
  toolsBin,
  type Infrastructure,
  type JaegerProcess,
  type ProcessName,
  type RunningProcesses,
} from '@grace/harness/system';
import { Naming } from '@grace/service-kit';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import jwt from 'jsonwebtoken';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { isatty } from 'node:tty';
import { watchParent } from './detach.js';
import { ingestExamples, localIngest, sentryDsn, type IngestExample } from './ingest.js';
import { colour, formatLine, formatRecord, parseRecord, type LogFormat } from './logs.js';
import { narrate, type Narrator, type Say } from './narrate.js';
import { takenPorts } from './ports.js';
import { appliedDemoSettings, CONSOLE_DIST, environmentOf, jwtSecretOf, portsFrom } from './settings.js';

export interface UpOptions {
  /** Start the demo target and apply the demo's settings. */
  demo: boolean;
  /** Start Jaeger (when a binary is found) and point every service's traces at it. */
  otel?: boolean;
  /** Where a started nats-server and PostgreSQL keep their data. */
  dataDir: string;
  /** The console's port; the services take the next six (0: free ports). */
  portBase: number;
  namespace: string;
  /** A NATS URL given on the command line or in NATS_URL (else found or started). */
  natsUrl?: string;
  env: NodeJS.ProcessEnv;
}

/** A failure to bring Grace up, with the exit code it means (3: NATS or Postgres missing). */
export class UpError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'UpError';
  }
}

type StopReason =
  | { kind: 'signal'; signal: string }
  | { kind: 'died'; name: ProcessName; code: number | null; signal: NodeJS.Signals | null };

const TOKEN_HOURS = 4;
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
/** Build the console when its dist is missing (the gateway then serves only the API if the build fails). */
async function ensureConsole(note: Say, env: NodeJS.ProcessEnv): Promise<void> {
  if (env.CONSOLE_DIR || existsSync(`${CONSOLE_DIST}/index.html`)) return;
  note('info', 'the console is not built yet: pnpm --filter @grace/console build (once, ~10 s)');
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn('pnpm', ['--filter', '@grace/console', 'build'], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4_000)));
    child.stderr.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4_000)));
    child.once('error', () => resolve(null));
    child.once('exit', (c) => {
      if (c !== 0) process.stderr.write(output);
      resolve(c);
    });
  });
  if (code !== 0)
    note('warn', 'the console did not build: the gateway serves the API only (pnpm --filter @grace/console build)');
}

/** The last lines a process wrote (stdout and stderr as they came). */
function lastLines(output: string, count = 20): string[] {
  return output
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(-count);
}

function adminToken(secret: string): { token: string; expiresAt: Date } {
  const token = jwt.sign({ roles: ['admin'], name: 'Grace admin (grace up)' }, secret, {
    algorithm: 'HS256',
    subject: 'grace-admin',
    issuer: 'grace',
    audience: 'grace',
    expiresIn: TOKEN_HOURS * 3600,
  });
  return { token, expiresAt: new Date(Date.now() + TOKEN_HOURS * 3600_000) };
}

const redactUrl = (url: string) => url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');

/** Bring Grace up and supervise it until a signal or a death; resolves with the exit code. */
export async function up(options: UpOptions): Promise<number> {
  const { env } = options;
  const terminal = isatty(1);
  const format: LogFormat = { pretty: terminal, color: terminal && !env.NO_COLOR && env.TERM !== 'dumb' };
  const print = (line: string) => process.stdout.write(`${line}\n`);
  const say: Say = (level, msg, fields) => print(formatRecord(format, 'grace', level, msg, fields));
  const tell: Say = (level, msg, fields) => print(formatRecord(format, 'events', level, msg, fields));

  let infra: Infrastructure | undefined;
  let jaeger: JaegerProcess | undefined;
  let services: RunningProcesses | undefined;
  let demo: RunningProcesses | undefined;
  let nc: NatsConnection | undefined;
  let narrator: Narrator | undefined;

  // Stopping: the first signal (or death) asks, everything waits for it; a second signal kills at once.
  const starting = new AbortController();
  let resolveStop!: (reason: StopReason) => void;
  const stopRequested = new Promise<StopReason>((r) => (resolveStop = r));
  let stopReason: StopReason | undefined;
  const requestStop = (reason: StopReason) => {
    if (stopReason) return;
    stopReason = reason;
    // A signal cancels a start in progress; a death while starting is the launch's own failure to report.
    if (reason.kind === 'signal') starting.abort();
    resolveStop(reason);
  };
  let signals = 0;
  const killNow = () => {
    say('warn', 'second signal: killing everything now');
    for (const running of [demo, services]) for (const p of running?.processes.values() ?? []) p.child.kill('SIGKILL');
    void jaeger?.stop();
    const cap = new Promise((r) => setTimeout(r, 5_000).unref());
    void Promise.race([infra?.stop(), cap]).finally(() => process.exit(130));
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals > 1) return killNow();
    say('info', `${signal}: stopping the demo, the services (they drain), then what grace up started; again to kill`);
    requestStop({ kind: 'signal', signal });
  };
  for (const s of SIGNALS) process.on(s, onSignal);
  watchParent(() => onSignal('SIGTERM'));

  const onLine = (name: ProcessName, line: string, stream: 'stdout' | 'stderr') => {
    print(formatLine(format, name, line, stream));
    if (name === 'demo-target') {
      const record = parseRecord(line);
      if (typeof record?.demo === 'string' && record.demo.startsWith('broke the'))
        narrator?.faultInjected(typeof record.at === 'string' ? Date.parse(record.at) : Date.now());
    }
  };
  const onExit = (name: ProcessName, code: number | null, signal: NodeJS.Signals | null) =>
    requestStop({ kind: 'died', name, code, signal });

  let exitCode = 0;
  try {
    try {
      infra = await resolveInfrastructure({
        env: { ...env, NATS_URL: options.natsUrl, DATABASE_URL: env.DATABASE_URL || undefined },
        dataDir: options.dataDir,
        defaultNatsUrl: env.GRACE_DEFAULT_NATS_URL || undefined,
        defaultDatabaseUrl: env.GRACE_DEFAULT_DATABASE_URL || undefined,
        log: (line) => say('info', line),
      });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const hint =
        /postgres/i.test(message) && userInfo().uid === 0
          ? ` (as root, PostgreSQL runs as the postgres user, which must reach ${options.dataDir}: every directory on the way needs o+x, e.g. --data-dir /var/tmp/grace)`
          : '';
      throw new UpError(`${message}${hint}`, 3);
    }
    say(
      'info',
      `NATS: ${infra.natsUrl} (${infra.natsSource}); PostgreSQL: ${redactUrl(infra.databaseUrl)} (${infra.databaseSource})`,
    );
    if (stopReason) return 0;

    const ports = portsFrom(options.portBase);
    const taken = await takenPorts(ports);
    if (taken.length > 0) {
      throw new UpError(
        `port ${taken.map(([s, p]) => `${p} (${s})`).join(', ')} ${taken.length > 1 ? 'are' : 'is'} taken: ` +
          'is another Grace running? Stop it, or choose other ports with --port-base <port> (0: any free ports)',
        1,
      );
    }
    await ensureConsole(say, env);
    if (stopReason) return 0;

    const { secret, generated } = jwtSecretOf(env);
    // HTTP ingest with a local producer, unless PRODUCERS_FILE names the operator's own.
    const ingest = localIngest(env, options.dataDir);
    const shared: NodeJS.ProcessEnv = {
      NATS_URL: infra.natsUrl,
      DATABASE_URL: infra.databaseUrl,
      GRACE_NAMESPACE: options.namespace,
      LOG_LEVEL: env.LOG_LEVEL ?? 'info',
    };
    if (options.otel) {
      const binary = findJaeger(env);
      if (!binary) {
        say(
          'warn',
          `--otel: no jaeger binary on PATH or in ${toolsBin(env)} (scripts/tools.sh builds Jaeger ${JAEGER_VERSION}); going on without traces`,
        );
      } else {
        jaeger = await startJaeger({ binary });
        say('info', `Jaeger (${binary}) keeps traces in memory: ${jaeger.uiUrl}`);
        // Every service exports its spans there (a second after they end, so a trace shows up quickly).
        Object.assign(shared, { OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpEndpoint, OTEL_BSP_SCHEDULE_DELAY: '1000' });
      }
      if (stopReason) return 0;
    }
    say('info', `starting the seven services from source (the first start compiles TypeScript, ~10-30 s)`);
    services = await launch(SERVICES, {
      env: shared,
      envOf: environmentOf({
        ports,
        jwtSecret: secret,
        demo: options.demo,
        env,
        ...(ingest ? { producersFile: ingest.file } : {}),
      }),
      onLine,
      onExit,
      startTimeoutMs: 120_000,
      signal: starting.signal,
    });
    if (options.demo) {
      // After the services: the demo publishes into the streams they provision.
      demo = await launch(['demo-target'], { env: shared, onLine, onExit, signal: starting.signal });
    }

    nc = await connect({ servers: infra.natsUrl.split(','), name: 'grace-up', maxReconnectAttempts: -1 });
    narrator = narrate({
      nc,
      naming: new Naming(options.namespace),
      say: tell,
      cubeEveryMs: options.demo ? 3_000 : 30_000,
    });

    const consoleUrl = `http://127.0.0.1:${services.port('chat-gateway')}`;
    const { token, expiresAt } = adminToken(secret);
    const ingestUrl = `http://127.0.0.1:${services.port('trigger-mesh')}`;
    printBanner({
      ingest: ingest
        ? {
            url: ingestUrl,
            token: ingest.token,
            sentryDsn: sentryDsn(ingestUrl, ingest),
            examples: ingestExamples(ingestUrl, ingest, options.dataDir),
          }
        : { url: ingestUrl },
      format,
      print,
      options,
      infra,
      consoleUrl,
      token,
      expiresAt,
      jwtGenerated: generated,
      ports: Object.fromEntries(SERVICES.map((s) => [s, services!.port(s)])),
      ...(jaeger ? { tracesUrl: jaeger.uiUrl } : {}),
    });

    const reason = await stopRequested;
    if (reason.kind === 'died') {
      const running = reason.name === 'demo-target' ? demo : services;
      const how = reason.code !== null ? `code ${reason.code}` : `signal ${reason.signal}`;
      const last = lastLines(running?.processes.get(reason.name)?.output() ?? '');
      const fields = { exited: reason.name, code: reason.code, signal: reason.signal };
      if (format.pretty) {
        say('error', `${reason.name} exited unexpectedly (${how}); its last output:`, fields);
        for (const line of last) print(`    ${formatLine(format, reason.name, line, 'stdout')}`);
      } else {
        say('error', `${reason.name} exited unexpectedly (${how})`, { ...fields, last_output: last });
      }
      process.stderr.write(
        `grace: ${reason.name} exited unexpectedly (${how}); stopping everything (see its last output above)\n`,
      );
      exitCode = 1;
    }
  } catch (err) {
    if (stopReason?.kind === 'signal' && !(err instanceof UpError)) {
      // A signal while starting: the launch was cancelled, not broken.
      exitCode = 0;
    } else {
      process.stderr.write(`grace: ${err instanceof Error ? err.message : String(err)}\n`);
      exitCode = err instanceof UpError ? err.exitCode : 1;
    }
  } finally {
    await narrator?.stop();
    if (demo) await demo.stop(10_000);
    if (services) {
      say('info', 'stopping the services (each drains what it is doing)');
      const codes = await services.stop(30_000);
      const unclean = Object.entries(codes).filter(([name, code]) => code !== 0 && name !== stopReasonName(stopReason));
      if (unclean.length > 0)
        say('warn', `not stopped cleanly: ${unclean.map(([n, c]) => `${n} (${c ?? 'killed'})`).join(', ')}`);
    }
    await nc?.close().catch(() => undefined);
    // After the services: they export their last spans as they stop.
    await jaeger?.stop();
    if (infra?.nats || infra?.postgres) say('info', 'stopping what grace up started (nats-server, PostgreSQL)');
    await infra?.stop();
    for (const s of SIGNALS) process.off(s, onSignal);
    if (services || infra) say('info', exitCode === 0 ? 'stopped' : 'stopped after a failure');
  }
  return exitCode;
}

const stopReasonName = (reason: StopReason | undefined) => (reason?.kind === 'died' ? reason.name : undefined);

function printBanner(b: {
  format: LogFormat;
  print: (line: string) => void;
  options: UpOptions;
  infra: Infrastructure;
  consoleUrl: string;
  token: string;
  expiresAt: Date;
  jwtGenerated: boolean;
  ports: Record<string, number>;
  /** Jaeger's UI (grace up --otel), when it started one. */
  tracesUrl?: string;
  /** trigger-mesh's HTTP ingest; the token, DSN and examples only with the local producer. */
  ingest: { url: string; token?: string; sentryDsn?: string; examples?: IngestExample[] };
}) {
  const { format, options, infra } = b;
  const exports = [
    infra.natsSource === 'NATS_URL' || infra.natsUrl === 'nats://127.0.0.1:4222' ? '' : `NATS_URL=${infra.natsUrl}`,
    options.namespace ? `GRACE_NAMESPACE=${options.namespace}` : '',
  ].filter(Boolean);
  const next = ['grace incidents', 'grace incident <id>', 'grace playbooks', 'grace cube success_rate'];
  const demoSettings = options.demo ? appliedDemoSettings(options.env) : [];
  if (!format.pretty) {
    b.print(
      JSON.stringify({
        level: 'info',
        time: new Date().toISOString(),
        service: 'grace',
        msg: 'Grace is up',
        console_url: b.consoleUrl,
        token: b.token,
        token_expires_at: b.expiresAt.toISOString(),
        jwt_secret_generated: b.jwtGenerated,
        ports: b.ports,
        traces_url: b.tracesUrl,
        ingest_url: b.ingest.url,
        ingest_token: b.ingest.token,
        sentry_dsn: b.ingest.sentryDsn,
        ingest_examples: b.ingest.examples,
        nats_url: infra.natsUrl,
        nats_source: infra.natsSource,
        database_url: redactUrl(infra.databaseUrl),
        database_source: infra.databaseSource,
        namespace: options.namespace || undefined,
        demo: options.demo,
        demo_settings: options.demo
          ? Object.fromEntries(demoSettings.map((d) => [`${d.service} ${d.name}`, d.value]))
          : undefined,
        next: next.map((c) => `pnpm --silent --filter @grace/cli ${c}`),
      }),
    );
    return;
  }
  const bold = (t: string) => colour(format, 'bold', t);
  const dim = (t: string) => colour(format, 'dim', t);
  const rule = dim('─'.repeat(100));
  const row = (label: string, text: string) => `  ${bold(label.padEnd(11))}${text}`;
  const lines = [
    '',
    rule,
    `  ${colour(format, 'green', bold('Grace is up'))}: seven services${options.demo ? ' and the demo target' : ''}, each a process of its own`,
    row('NATS', `${infra.natsUrl}  ${dim(`(${infra.natsSource})`)}`),
    row('PostgreSQL', `${redactUrl(infra.databaseUrl)}  ${dim(`(${infra.databaseSource})`)}`),
    row('console', `${bold(b.consoleUrl)}  sign in with this admin token (valid ${TOKEN_HOURS} h):`),
    row('', b.token),
    ...(b.jwtGenerated
      ? [row('', dim('(JWT_SECRET was generated for this run: set it to keep tokens across runs)'))]
      : []),
    row(
      'ports',
      Object.entries(b.ports)
        .map(([s, p]) => `${s} ${p}`)
        .join(', '),
    ),
    ...(b.tracesUrl ? [row('traces', `${bold(b.tracesUrl)}  Jaeger, in memory: every service's spans`)] : []),
    ...(options.demo
      ? [
          row(
            'demo',
            `the demo target breaks its cache, pool or feature flag every ${Number(options.env.DEMO_FAULT_INTERVAL_MS ?? 30_000) / 1000} s; the "events" lines follow Grace fixing it`,
          ),
          row('', `changed for the demo: ${demoSettings.map((d) => d.shown).join('; ') || 'nothing'}`),
        ]
      : [row('demo', 'off (--no-demo): services run with their shipped settings')]),
    ...(b.ingest.token
      ? [
          row('ingest', `${bold(b.ingest.url)}  producer "local", token (this run only):`),
          row('', b.ingest.token),
          row('', `Sentry SDKs: dsn ${bold(b.ingest.sentryDsn ?? '')}  (project 1 counts as service checkout)`),
          ...(b.ingest.examples ?? []).flatMap((e) => [row('', dim(`# ${e.format}`)), row('', e.command)]),
        ]
      : [row('ingest', `${b.ingest.url}  producers from PRODUCERS_FILE`)]),
    row('try', dim('in another terminal, in the repository:')),
    row(
      '',
      `alias grace='pnpm --silent --filter @grace/cli grace'${exports.length ? `; export ${exports.join(' ')}` : ''}`,
    ),
    row('', next.join(' | ')),
    row('stop', 'Ctrl-C (twice: at once)'),
    rule,
    '',
  ];
  for (const line of lines) b.print(line);
}
