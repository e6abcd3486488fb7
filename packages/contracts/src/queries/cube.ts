// Request and reply schemas of the cube's four analytical queries (cube.query.*) and of cube.etl.run.
import { Type } from '@sinclair/typebox';
import {
  Adapter,
  Count,
  DurationMs,
  Environment,
  ErrorKind,
  Fingerprint,
  Id,
  PlaybookName,
  ServiceName,
  Tier,
  Timestamp,
} from '../common.js';

export const CubeBucket = Type.Union([
  Type.Literal('minute'),
  Type.Literal('hour'),
  Type.Literal('day'),
  Type.Literal('week'),
]);

const Rate = Type.Number({ minimum: 0, maximum: 1 });
const Milliseconds = Type.Number({ minimum: 0 });
// Every cube query reads a time range [from, to) in buckets; the responder refuses a range with too many buckets.
const rangeProperties = {
  from: Timestamp,
  to: Timestamp,
  bucket: CubeBucket,
  service: Type.Optional(ServiceName),
  environment: Type.Optional(Environment),
};
const MAX_ROWS = 5000;
const BucketStart = Timestamp;

export const SuccessRateRequest = Type.Object(
  {
    ...rangeProperties,
    group_by: Type.Optional(
      Type.Union([Type.Literal('playbook'), Type.Literal('service'), Type.Literal('tier')], {
        description: 'default playbook',
      }),
    ),
    playbook: Type.Optional(PlaybookName),
    tier: Type.Optional(Tier),
    adapter: Type.Optional(Adapter),
  },
  { additionalProperties: false },
);

export const SuccessRateReply = Type.Object(
  {
    rows: Type.Array(
      Type.Object(
        {
          bucket_start: BucketStart,
          group: Type.String({ minLength: 1, maxLength: 128, description: 'the playbook, service or tier' }),
          executed: Count,
          verified: Count,
          success_rate: Rate,
        },
        { additionalProperties: false },
      ),
      { maxItems: MAX_ROWS },
    ),
  },
  { additionalProperties: false },
);

export const MttrRequest = Type.Object(
  {
    ...rangeProperties,
    resolved_by: Type.Optional(
      Type.Union([Type.Literal('contract'), Type.Literal('source')], {
        description:
          'only incidents resolved by a verified remediation (contract) or by their source (source: every alert ' +
          'of the group resolved while no action ran); default both',
      }),
    ),
  },
  { additionalProperties: false },
);

export const MttrReply = Type.Object(
  {
    rows: Type.Array(
      Type.Object(
        {
          bucket_start: BucketStart,
          service: ServiceName,
          environment: Environment,
          resolved: Count,
          mean_ms: Milliseconds,
          p50_ms: Milliseconds,
          p90_ms: Milliseconds,
        },
        { additionalProperties: false },
      ),
      { maxItems: MAX_ROWS },
    ),
  },
  { additionalProperties: false },
);

export const ErrorTrendsRequest = Type.Object(
  {
    ...rangeProperties,
    kind: Type.Optional(ErrorKind),
    category: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    top: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'how many signatures; default 10' })),
  },
  { additionalProperties: false },
);

export const ErrorTrendsReply = Type.Object(
  {
    rows: Type.Array(
      Type.Object(
        {
          bucket_start: BucketStart,
          fingerprint: Fingerprint,
          kind: ErrorKind,
          category: Type.Optional(Type.String({ maxLength: 64 })),
          occurrences: Count,
          previous_week_occurrences: Count,
          week_over_week_change: Type.Optional(
            Type.Number({ description: '(occurrences - previous) / previous; absent when the week before had none' }),
          ),
        },
        { additionalProperties: false },
      ),
      { maxItems: MAX_ROWS },
    ),
  },
  { additionalProperties: false },
);

export const RollbackDriftRequest = Type.Object(
  {
    ...rangeProperties,
    tier: Type.Optional(Tier),
    adapter: Type.Optional(Adapter),
    worst: Type.Optional(Type.Integer({ minimum: 1, maximum: 50, description: 'how many worst playbooks; default 5' })),
  },
  { additionalProperties: false },
);

const rollbackDriftCounts = {
  executed: Count,
  rolled_back: Count,
  drifted: Count,
  rollback_rate: Rate,
  drift_rate: Rate,
};

export const RollbackDriftReply = Type.Object(
  {
    rows: Type.Array(
      Type.Object(
        { bucket_start: BucketStart, tier: Tier, adapter: Adapter, ...rollbackDriftCounts },
        { additionalProperties: false },
      ),
      { maxItems: MAX_ROWS },
    ),
    worst_playbooks: Type.Array(
      Type.Object(
        { playbook: PlaybookName, adapter: Adapter, tier: Tier, ...rollbackDriftCounts },
        { additionalProperties: false },
      ),
      { maxItems: 50 },
    ),
  },
  { additionalProperties: false },
);

export const EtlRunRequest = Type.Object(
  {
    rebuild: Type.Optional(
      Type.Boolean({ description: 'empty the star schema and transform every staged event again (a replay)' }),
    ),
  },
  { additionalProperties: false },
);

/** One ETL run (its batches together) as recorded in the ETL metadata; a failed batch changed nothing. */
export const EtlRun = Type.Object(
  {
    run_id: Id,
    status: Type.Union([Type.Literal('succeeded'), Type.Literal('failed')]),
    watermark_from: Type.Integer({ minimum: 0, description: 'staging sequence after which this batch read' }),
    watermark_to: Type.Integer({ minimum: 0 }),
    rows_read: Count,
    rows_written: Type.Record(Type.String({ maxLength: 128 }), Count, { maxProperties: 32, description: 'per table' }),
    started_at: Timestamp,
    finished_at: Timestamp,
    duration_ms: DurationMs,
    error: Type.Optional(Type.String({ maxLength: 4096 })),
  },
  { additionalProperties: false },
);
