// A small status label; the value is text, its class only picks a colour.
const TONES: Record<string, string> = {
  critical: 'bad',
  error: 'bad',
  warning: 'warn',
  info: 'info',
  debug: 'muted',
  detected: 'warn',
  triaged: 'warn',
  remediating: 'info',
  verifying: 'info',
  resolved: 'good',
  escalated: 'bad',
  muted: 'muted',
  pending: 'warn',
  approved: 'good',
  granted: 'good',
  rejected: 'bad',
  expired: 'muted',
  denied: 'bad',
  snapshotted: 'info',
  executing: 'info',
  executed: 'info',
  verified: 'good',
  failed: 'bad',
  drift: 'bad',
  rolling_back: 'warn',
  rolled_back: 'warn',
  passed: 'good',
  skipped: 'muted',
  approve: 'good',
  reject: 'bad',
  succeeded: 'good',
  timed_out: 'bad',
  dry_run: 'muted',
};

export function Badge({ value, testId }: { value: string | undefined; testId?: string }) {
  if (!value) return null;
  return (
    <span className={`badge badge-${TONES[value] ?? 'muted'}`} data-testid={testId}>
      {value.replace(/_/g, ' ')}
    </span>
  );
}
