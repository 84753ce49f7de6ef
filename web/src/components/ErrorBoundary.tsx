// Catches a render error in a page so the shell stays usable.

import { Component, type ComponentChildren } from "preact";
import { ErrorState } from "./states";

interface Props {
  children: ComponentChildren;
  /** Changing it (the route) clears a caught error. */
  resetKey: string;
}

interface State {
  error: unknown;
  key: string;
}

/** Shows the error with a retry instead of a blank page. */
export class ErrorBoundary extends Component<Props, State> {
  override state: State = { error: null, key: "" };

  static override getDerivedStateFromProps(props: Props, state: State): Partial<State> | null {
    if (props.resetKey !== state.key) return { error: null, key: props.resetKey };
    return null;
  }

  override componentDidCatch(error: unknown): void {
    console.error("page error:", error);
    this.setState({ error: error ?? new Error("unknown error") });
  }

  override render() {
    if (this.state.error !== null) {
      return (
        <ErrorState
          title="This page failed to render"
          error={this.state.error}
          onRetry={() => {
            this.setState({ error: null });
          }}
        />
      );
    }
    return this.props.children;
  }
}
