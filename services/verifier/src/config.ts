// verifier's own settings (on top of the kit's), all from the environment.
import { Type } from '@sinclair/typebox';

export const config = {
  WORKERS: Type.Integer({ default: 8, minimum: 1, maximum: 256, description: 'verifications judged at once' }),
  WORK_POLL_MS: Type.Integer({
    default: 250,
    minimum: 10,
    description: 'how often idle workers look for due verifications (new ones wake them at once)',
  }),
  CHECK_TIMEOUT_MS: Type.Integer({
    default: 5_000,
    minimum: 10,
    maximum: 60_000,
    description: "a check's time budget when it does not set timeout_ms",
  }),
  CAPTURE_SETTLE_MS: Type.Integer({
    default: 12_000,
    minimum: 0,
    description:
      "wait after an error-rate window before counting it, so its captures have arrived (more than trigger-mesh's EMIT_INTERVAL_MS)",
  }),
  BASELINE_MIN_SAMPLES: Type.Integer({
    default: 5,
    minimum: 1,
    description: 'verified runs before a baseline is used to detect drift',
  }),
  BASELINE_MAX_SAMPLES: Type.Integer({
    default: 100,
    minimum: 2,
    description: 'beyond this many runs a baseline forgets old values exponentially',
  }),
  CAPTURE_RETENTION_HOURS: Type.Integer({
    default: 3,
    minimum: 1,
    description: "how long captures are kept: longer than trigger-mesh's DEDUPE_WINDOW_MS and any error-rate window",
  }),
};
