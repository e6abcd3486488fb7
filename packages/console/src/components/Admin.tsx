// Admin: the executor's global pause switch. Everyone sees the status; admins pause (with a reason) and resume.
import { useEffect, useState, type FormEvent } from 'react';
import { api } from '../api';
import { hasRole, useSession } from '../context';
import { formatTime } from '../format';
import type { ExecutorStatus } from '../types';

export function Admin() {
  const { me, executor, setExecutor, refreshExecutor, report } = useSession();
  const isAdmin = hasRole(me, 'admin');
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [loaded, setLoaded] = useState(false);

  useEffect(() => {
    void refreshExecutor(false).finally(() => setLoaded(true));
  }, [refreshExecutor]);

  const pause = async (event: FormEvent) => {
    event.preventDefault();
    if (!reason.trim()) return;
    setBusy(true);
    try {
      setExecutor(
        await api<ExecutorStatus>('/executor/pause', {
          method: 'POST',
          body: { reason: reason.trim() },
          action: 'pause the executor',
        }),
      );
      setReason('');
    } catch (error) {
      report(error);
    } finally {
      setBusy(false);
    }
  };

  const resume = async () => {
    setBusy(true);
    try {
      setExecutor(
        await api<ExecutorStatus>('/executor/resume', { method: 'POST', body: {}, action: 'resume the executor' }),
      );
    } catch (error) {
      report(error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="panel" data-testid="admin">
      <div className="panel-head">
        <h2>Executor</h2>
        <button type="button" className="secondary" onClick={() => void refreshExecutor(false)} disabled={busy}>
          Refresh
        </button>
      </div>
      {!executor && <p className="muted">{loaded ? 'The executor status is not available.' : 'Loading…'}</p>}
      {executor && (
        <dl className="facts" data-testid="executor-status">
          <dt>State</dt>
          <dd>
            <span
              className={`badge ${executor.paused ? 'badge-paused' : 'badge-good'}`}
              data-testid="executor-state"
              data-paused={executor.paused ? 'true' : 'false'}
            >
              {executor.paused ? 'Paused' : 'Running'}
            </span>
          </dd>
          {executor.paused && (
            <>
              <dt>Paused by</dt>
              <dd className="mono">{executor.paused_by ?? '—'}</dd>
              <dt>Since</dt>
              <dd>{formatTime(executor.paused_at)}</dd>
              <dt>Reason</dt>
              <dd className="wrap">{executor.reason ?? '—'}</dd>
            </>
          )}
          <dt>Held actions</dt>
          <dd>{executor.held_actions}</dd>
          <dt>Open contracts</dt>
          <dd>{executor.open_contracts}</dd>
          <dt>Dry run</dt>
          <dd>{executor.dry_run ? 'yes (actions are planned, not executed)' : 'no'}</dd>
        </dl>
      )}
      {isAdmin ? (
        <div className="admin-controls">
          <form className="filters" onSubmit={(event) => void pause(event)}>
            <input
              type="text"
              placeholder="why pause (required)"
              maxLength={2048}
              value={reason}
              onChange={(event) => setReason(event.target.value)}
              aria-label="Reason for pausing"
              data-testid="pause-reason"
            />
            <button type="submit" className="danger" data-testid="pause-button" disabled={busy || !reason.trim()}>
              Pause
            </button>
          </form>
          <button
            type="button"
            data-testid="resume-button"
            disabled={busy || executor?.paused === false}
            onClick={() => void resume()}
          >
            Resume
          </button>
        </div>
      ) : (
        <p className="muted">Pausing and resuming the executor needs the admin role.</p>
      )}
    </section>
  );
}
