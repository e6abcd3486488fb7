// The header: who is signed in, the live stream's state, the executor's pause switch, logout.
import { useSession, useStreamState } from '../context';

const STREAM_LABELS = { open: 'Live', connecting: 'Connecting…', closed: 'Offline' } as const;

export function Header({ onLogout }: { onLogout: () => void }) {
  const { me, executor } = useSession();
  const streamState = useStreamState();
  return (
    <header className="header">
      <div className="brand">Grace console</div>
      <div className="header-status">
        {executor?.paused && (
          <span
            className="badge badge-paused"
            data-testid="paused-badge"
            title={executor.reason ? `Paused: ${executor.reason}` : 'The executor is paused'}
          >
            Paused
          </span>
        )}
        {executor?.dry_run && (
          <span className="badge badge-muted" data-testid="dry-run-badge" title="Actions are planned, not executed">
            Dry run
          </span>
        )}
        <span
          className={`stream stream-${streamState}`}
          data-testid="stream-status"
          data-state={streamState}
          title="Live updates (WebSocket)"
        >
          {STREAM_LABELS[streamState]}
        </span>
      </div>
      <div className="user">
        <span className="user-name" data-testid="user-name">
          {me.name ?? me.id}
        </span>
        <span className="user-roles" data-testid="user-roles">
          {me.roles.length ? me.roles.join(', ') : 'no roles'}
        </span>
        <button type="button" className="secondary" data-testid="logout-button" onClick={onLogout}>
          Log out
        </button>
      </div>
    </header>
  );
}
