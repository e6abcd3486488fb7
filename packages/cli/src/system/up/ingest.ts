// HTTP ingest for `grace up`: a local producer (a bearer token and a Sentry DSN key, new each run, written to a
// producers file as hashes only), and one ready command per format for the banner. Not when PRODUCERS_FILE is
// set: then trigger-mesh takes the operator's own file and the banner shows no token.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The Sentry project id of the local DSN, and the service its events are counted for. */
export const LOCAL_SENTRY_PROJECT = '1';
export const LOCAL_SENTRY_SERVICE = 'checkout';

export interface LocalIngest {
  /** The producers file trigger-mesh loads (PRODUCERS_FILE). */
  file: string;
  /** `Authorization: Bearer <token>` for /ingest/*. */
  token: string;
  /** The public key of the Sentry DSN. */
  sentryKey: string;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Write the local producers file under `dataDir`; undefined when the environment names a file of its own. */
export function localIngest(env: NodeJS.ProcessEnv, dataDir: string): LocalIngest | undefined {
  if (env.PRODUCERS_FILE) return undefined;
  const token = `grace-local-${randomBytes(16).toString('hex')}`;
  const sentryKey = randomBytes(16).toString('hex');
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, 'producers.yaml');
  writeFileSync(
    file,
    [
      '# Written by `grace up` for this run: the local producer (hashes only; the banner printed the token and DSN).',
      'producers:',
      '  - name: local',
      `    bearer_sha256: ${sha256(token)}`,
      '  - name: local-sentry',
      `    sentry_key_sha256: ${sha256(sentryKey)}`,
      '    projects:',
      `      "${LOCAL_SENTRY_PROJECT}": ${LOCAL_SENTRY_SERVICE}`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return { file, token, sentryKey };
}

export interface IngestExample {
  format: 'events' | 'cloudevent' | 'alertmanager' | 'sentry';
  /** A shell command (curl) that posts one example error; it prints the answer and the HTTP status. */
  command: string;
}

const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;

/** The DSN a Sentry SDK is given to send to trigger-mesh. */
export const sentryDsn = (ingestUrl: string, ingest: LocalIngest) => {
  const url = new URL(ingestUrl);
  return `${url.protocol}//${ingest.sentryKey}@${url.host}/${LOCAL_SENTRY_PROJECT}`;
};

/**
 * One curl per format against `ingestUrl` (trigger-mesh's port); the bodies are files written beside the producers
 * file, so the commands stay short. Each prints the answer and the status (202; the Sentry route answers 200 as
 * Sentry does).
 */
export function ingestExamples(ingestUrl: string, ingest: LocalIngest, dataDir: string): IngestExample[] {
  const dir = join(dataDir, 'ingest-examples');
  mkdirSync(dir, { recursive: true });
  const now = new Date().toISOString();
  const report = {
    service: 'checkout',
    environment: 'dev',
    kind: 'PaymentTimeout',
    message: 'payment provider timed out after 30 s',
    severity: 'error',
    occurred_at: now,
  };
  const alert = {
    version: '4',
    groupKey: '{}:{alertname="CheckoutErrorRate"}',
    status: 'firing',
    receiver: 'grace',
    groupLabels: { alertname: 'CheckoutErrorRate' },
    alerts: [
      {
        status: 'firing',
        labels: { alertname: 'CheckoutErrorRate', service: 'checkout', environment: 'dev', severity: 'critical' },
        annotations: { summary: 'checkout error rate above 5% for 5 minutes' },
        startsAt: now,
        endsAt: '0001-01-01T00:00:00Z',
        fingerprint: randomBytes(8).toString('hex'),
      },
    ],
  };
  const eventId = randomBytes(16).toString('hex');
  const sentryEvent = {
    event_id: eventId,
    level: 'error',
    platform: 'node',
    environment: 'dev',
    timestamp: Date.now() / 1000,
    exception: { values: [{ type: 'PaymentTimeout', value: 'payment provider timed out after 30 s' }] },
  };
  const envelope = [
    JSON.stringify({ event_id: eventId }),
    JSON.stringify({ type: 'event' }),
    JSON.stringify(sentryEvent),
  ];
  const files = {
    events: ['events.json', JSON.stringify(report)],
    cloudevent: ['cloudevent-data.json', JSON.stringify(report)],
    alertmanager: ['alertmanager.json', JSON.stringify(alert)],
    sentry: ['sentry.envelope', `${envelope.join('\n')}\n`],
  } as const;
  for (const [name, body] of Object.values(files)) writeFileSync(join(dir, name), body);
  const curl = (path: string, headers: string[], file: string) =>
    [
      `curl -sS -w '\\n%{http_code}\\n'`,
      ...headers.map((h) => (h.includes('$(') ? `-H "${h}"` : `-H ${quote(h)}`)),
      `--data-binary ${quote(`@${join(dir, file)}`)}`,
      quote(`${ingestUrl}${path}`),
    ].join(' ');
  const bearer = `authorization: Bearer ${ingest.token}`;
  const json = 'content-type: application/json';
  return [
    { format: 'events', command: curl('/ingest/events', [bearer, json], files.events[0]) },
    {
      format: 'cloudevent',
      command: curl(
        '/ingest/events',
        [
          bearer,
          json,
          'ce-specversion: 1.0',
          'ce-type: error.reported',
          'ce-source: curl/local',
          'ce-id: $(date +%s%N)',
        ],
        files.cloudevent[0],
      ),
    },
    { format: 'alertmanager', command: curl('/ingest/alertmanager', [bearer, json], files.alertmanager[0]) },
    {
      format: 'sentry',
      command: curl(
        `/api/${LOCAL_SENTRY_PROJECT}/envelope/?sentry_key=${ingest.sentryKey}&sentry_version=7`,
        ['content-type: application/x-sentry-envelope'],
        files.sentry[0],
      ),
    },
  ];
}
