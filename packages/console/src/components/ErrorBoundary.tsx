// Catches a render error so one broken view shows a message instead of a blank page.
import { Component, type ErrorInfo, type ReactNode } from 'react';

interface Props {
  children: ReactNode;
  /** Where the boundary sits, for the message. */
  label?: string;
}

interface State {
  error: Error | null;
}

export class ErrorBoundary extends Component<Props, State> {
  override state: State = { error: null };

  static getDerivedStateFromError(error: unknown): State {
    return { error: error instanceof Error ? error : new Error(String(error)) };
  }

  override componentDidCatch(_error: Error, _info: ErrorInfo): void {
    // Shown in the fallback; nothing is sent anywhere.
  }

  private reset = () => this.setState({ error: null });

  override render(): ReactNode {
    const { error } = this.state;
    if (!error) return this.props.children;
    return (
      <div className="panel error-boundary" role="alert" data-testid="error-boundary">
        <h2>Something went wrong{this.props.label ? ` in ${this.props.label}` : ''}</h2>
        <p className="error-text">{error.message || error.name}</p>
        <div className="actions">
          <button type="button" onClick={this.reset}>
            Try again
          </button>
          <button type="button" className="secondary" onClick={() => window.location.reload()}>
            Reload the page
          </button>
        </div>
      </div>
    );
  }
}
