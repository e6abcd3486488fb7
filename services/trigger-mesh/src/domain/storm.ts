// Storm control: per-service and global rate limits (token buckets) that say when errors arrive as a storm.

export interface StormLimits {
  perServicePerSecond: number;
  globalPerSecond: number;
}

export type StormScope = 'service' | 'global';

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/**
 * One bucket per service and one for all: each refills at its rate per second up to one second's worth.
 * An error that finds its bucket empty arrives in a storm; it is still counted, only announced in aggregate.
 * The limits hold per trigger-mesh instance (N replicas allow N times the rate).
 */
export class StormControl {
  private readonly services = new Map<string, Bucket>();
  private readonly global: Bucket;

  constructor(private readonly limits: StormLimits) {
    this.global = { tokens: limits.globalPerSecond, updatedMs: 0 };
  }

  /** Take one token for `service` at `nowMs`; the scope that is over its limit, or undefined. */
  record(service: string, nowMs: number): StormScope | undefined {
    let bucket = this.services.get(service);
    if (!bucket) {
      bucket = { tokens: this.limits.perServicePerSecond, updatedMs: nowMs };
      this.services.set(service, bucket);
    }
    const serviceOk = take(bucket, this.limits.perServicePerSecond, nowMs);
    const globalOk = take(this.global, this.limits.globalPerSecond, nowMs);
    if (!serviceOk) return 'service';
    if (!globalOk) return 'global';
    return undefined;
  }

  /** Forget services that have been quiet (their buckets are full again anyway). */
  prune(nowMs: number): void {
    for (const [service, bucket] of this.services) {
      if (nowMs - bucket.updatedMs > 60_000) this.services.delete(service);
    }
  }
}

function take(bucket: Bucket, ratePerSecond: number, nowMs: number): boolean {
  const elapsed = Math.max(0, nowMs - bucket.updatedMs) / 1000;
  bucket.tokens = Math.min(ratePerSecond, bucket.tokens + elapsed * ratePerSecond);
  bucket.updatedMs = nowMs;
  if (bucket.tokens < 1) return false;
  bucket.tokens -= 1;
  return true;
}
