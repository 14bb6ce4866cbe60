import {Component, type ErrorInfo, type ReactNode} from 'react';

type Props = {
  /** What failed, for the message: "The results", "The charts"… */
  label: string;
  /** A new value (e.g. the run's version) clears the error and tries again. */
  resetKey?: unknown;
  children: ReactNode;
};

type State = {error: Error | null; key: unknown};

/** Keeps a render failure inside its panel, with a message, instead of blanking the app. */
export class ErrorBoundary extends Component<Props, State> {
  state: State = {error: null, key: this.props.resetKey};

  static getDerivedStateFromError(error: unknown): Partial<State> {
    return {error: error instanceof Error ? error : new Error(String(error))};
  }

  static getDerivedStateFromProps(props: Props, state: State): Partial<State> | null {
    return props.resetKey !== state.key ? {error: null, key: props.resetKey} : null;
  }

  componentDidCatch(error: Error, info: ErrorInfo): void {
    console.error(`${this.props.label} failed to render`, error, info.componentStack);
  }

  render(): ReactNode {
    const {error} = this.state;
    if (!error) return this.props.children;
    return (
      <div role="alert" data-testid="panel-error" className="p-4 text-xs text-red-500">
        <p className="font-medium">{this.props.label} could not be shown.</p>
        <pre className="mt-1 whitespace-pre-wrap">{error.message}</pre>
        <button
          type="button"
          className="mt-2 underline"
          onClick={() => this.setState({error: null})}
        >
          Try again
        </button>
      </div>
    );
  }
}
