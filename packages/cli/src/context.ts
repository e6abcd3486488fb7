// What every command shares: global options, the NATS connection, exit codes and turning failures into them.
import { Naming, RequestFailedError, request } from '@grace/service-kit';
import type { QueryReply, QueryRequest, QuerySubject } from '@grace/contracts';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import type { Command } from 'commander';

export const ExitCode = {
  ok: 0,
  somethingWrong: 1,
  usage: 2,
  unreachable: 3,
  notFound: 4,
  invalidRequest: 5,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** A failure the CLI explains on stderr and exits with. */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
    readonly details: { path: string; message: string }[] = [],
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export interface GlobalOptions {
  nats: string;
  namespace: string;
  json: boolean;
  timeout: number;
}

export function globalOptions(command: Command): GlobalOptions {
  return command.optsWithGlobals<GlobalOptions>();
}

// Which deployment of Grace answers each subject prefix, so "nobody answered" can say what to start.
const OWNERS: Record<string, string> = {
  'trigger-mesh': 'trigger-mesh',
  sentinel: 'sentinel',
  executor: 'action-executor',
  verifier: 'verifier',
  learning: 'learning-loop',
  cube: 'cube-etl',
};

export function ownerOf(subject: string): string {
  return OWNERS[subject.split('.')[0] ?? ''] ?? 'the service that owns it';
}

/** A connection to Grace's NATS for the length of one command. */
export class Grace {
  private constructor(
    readonly nc: NatsConnection,
    readonly naming: Naming,
    readonly options: GlobalOptions,
  ) {}

  static async connect(options: GlobalOptions): Promise<Grace> {
    try {
      const nc = await connect({
        servers: options.nats.split(',').map((s) => s.trim()),
        name: 'grace-cli',
        maxReconnectAttempts: 0,
        timeout: Math.min(options.timeout, 5_000),
      });
      return new Grace(nc, new Naming(options.namespace), options);
    } catch (err) {
      throw new CliError(
        ExitCode.unreachable,
        `NATS is not reachable at ${options.nats} (${(err as Error).message}); start it (docker compose up -d nats) or pass --nats <url>`,
      );
    }
  }

  async query<Q extends QuerySubject>(subject: Q, body: QueryRequest<Q>): Promise<QueryReply<Q>> {
    try {
      return await request(subject, body, { nc: this.nc, naming: this.naming, timeoutMs: this.options.timeout });
    } catch (err) {
      if (err instanceof RequestFailedError) throw explainRequestFailure(err, this.naming.subject(subject));
      throw err;
    }
  }

  jetstream(): JetStreamClient {
    return jetstream(this.nc, { timeout: this.options.timeout });
  }

  jetstreamManager(): Promise<JetStreamManager> {
    return jetstreamManager(this.nc, { timeout: this.options.timeout });
  }

  /** Publish an event to JetStream; a missing stream means no Grace service has provisioned this namespace. */
  async publish(subject: string, payload: string, msgID: string): Promise<{ stream: string; seq: number }> {
    const wireSubject = this.naming.subject(subject);
    try {
      const ack = await this.jetstream().publish(wireSubject, payload, { msgID });
      return { stream: ack.stream, seq: ack.seq };
    } catch (err) {
      throw new CliError(
        ExitCode.unreachable,
        `JetStream did not store ${wireSubject} (${(err as Error).message}); start a Grace service once so it provisions the streams${namespaceHint(this.naming)}`,
      );
    }
  }

  async close(): Promise<void> {
    await this.nc.close().catch(() => undefined);
  }
}

function namespaceHint(naming: Naming): string {
  return naming.namespace ? ` of namespace "${naming.namespace}"` : ' (or pass the --namespace the services run with)';
}

function explainRequestFailure(err: RequestFailedError, wireSubject: string): CliError {
  const owner = ownerOf(err.subject);
  switch (err.code) {
    case 'unavailable':
      return new CliError(
        ExitCode.unreachable,
        `nobody answers ${wireSubject}: start ${owner} (pnpm --filter @grace/${owner} start), or check --namespace`,
      );
    case 'timeout':
      return new CliError(
        ExitCode.unreachable,
        `${owner} did not answer ${wireSubject} within ${err.message.match(/\d+ ms/)?.[0] ?? 'the timeout'}; check that it is healthy or raise --timeout`,
      );
    case 'not_found':
      return new CliError(ExitCode.notFound, err.message);
    case 'invalid_request':
      return new CliError(ExitCode.invalidRequest, err.message, err.details);
    default:
      return new CliError(ExitCode.somethingWrong, `${err.message} (${err.code})`, err.details);
  }
}

/** Run a command with a connection, closing it whatever happens. */
export async function withGrace<T>(command: Command, work: (grace: Grace) => Promise<T>): Promise<T> {
  const grace = await Grace.connect(globalOptions(command));
  try {
    return await work(grace);
  } finally {
    await grace.close();
  }
}
