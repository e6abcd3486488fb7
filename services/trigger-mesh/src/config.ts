// trigger-mesh's own settings (on top of the kit's), all from the environment.
import { Type } from '@sinclair/typebox';

export const config = {
  DEDUPE_WINDOW_MS: Type.Integer({ default: 300_000, minimum: 1_000, description: 'dedupe window per fingerprint' }),
  EMIT_INTERVAL_MS: Type.Integer({
    default: 10_000,
    minimum: 100,
    description: 'at most one count update per fingerprint per interval',
  }),
  STORM_SERVICE_PER_SECOND: Type.Integer({ default: 200, minimum: 1, description: 'errors/s of one service' }),
  STORM_GLOBAL_PER_SECOND: Type.Integer({ default: 2_000, minimum: 1, description: 'errors/s of all services' }),
  OCCURRENCE_RETENTION_HOURS: Type.Integer({
    default: 24,
    minimum: 1,
    description: 'how long single occurrences are kept',
  }),
  ALERT_RETENTION_HOURS: Type.Integer({
    default: 24,
    minimum: 1,
    description:
      "how long an Alertmanager alert is remembered after its last notification (over the receiver's repeat_interval)",
  }),
  ROUTES_FILE: Type.Optional(Type.String({ minLength: 1, description: 'routing rules (YAML); none: no rules' })),
  PRODUCERS_FILE: Type.Optional(
    Type.String({ minLength: 1, description: 'producer credentials for HTTP ingest (YAML); none: ingest refuses all' }),
  ),
  FILE_POLL_MS: Type.Integer({ default: 1_000, minimum: 10, description: 'how often the two files are checked' }),
  INGEST_MAX_REQUEST_BYTES: Type.Integer({
    default: 4 * 1024 * 1024,
    minimum: 64 * 1024,
    description:
      'body limit of a request carrying a batch (an Alertmanager group); each event is held to MAX_EVENT_BYTES',
  }),
  INGEST_MAX_BATCH: Type.Integer({ default: 100, minimum: 1, maximum: 1_000, description: 'events per HTTP request' }),
  INGEST_BATCH: Type.Integer({ default: 64, minimum: 1, description: 'error.reported handled per transaction' }),
};
