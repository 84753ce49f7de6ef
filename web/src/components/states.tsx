// Loading, empty and error states: one look everywhere.

import type { ComponentChildren } from "preact";
import { ApiError } from "../api/client";
import type { Async } from "../lib/hooks";

/** A quiet spinner with a label (announced to screen readers). */
export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <div class="state state-loading" role="status" aria-live="polite" data-testid="loading">
      <span class="spinner" aria-hidden="true" />
      <span>{label}</span>
    </div>
  );
}

/** Nothing to show yet, with what to do about it. */
export function Empty({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="state state-empty" data-testid="empty">
      <div class="state-title">{title}</div>
      {children !== undefined && <div class="state-body">{children}</div>}
    </div>
  );
}

/** Something failed: the server's message and, when given, a retry button. */
export function ErrorState({ error, onRetry, title = "Something went wrong" }: {
  error: unknown;
  onRetry?: () => void;
  title?: string;
}) {
  return (
    <div class="state state-error" role="alert" data-testid="error">
      <div class="state-title">{title}</div>
      <div class="state-body">{errorMessage(error)}</div>
      {onRetry !== undefined && (
        <button type="button" class="btn" onClick={onRetry}>
          Retry
        </button>
      )}
    </div>
  );
}

/**
 * A page whose subject (`thing`: run, version…) did not load: "Run not found" without a retry
 * (it will not appear by asking again) or "Cannot load the run" with one; then `children`, a
 * way back.
 */
export function PageError({ error, thing, onRetry, children }: { error: unknown; thing: string; onRetry: () => void; children: ComponentChildren }) {
  const notFound = error instanceof ApiError && error.status === 404;
  return (
    <div class="page page-narrow">
      <ErrorState title={notFound ? `${thing.charAt(0).toUpperCase()}${thing.slice(1)} not found` : `Cannot load the ${thing}`} error={error} onRetry={notFound ? undefined : onRetry} />
      <p>{children}</p>
    </div>
  );
}

/**
 * `render(data)` once `state` has its data; until then a spinner saying `loading`, or the error
 * (titled `failed`) with a retry.
 */
export function whenLoaded<T>(state: Async<T>, labels: { loading: string; failed?: string }, render: (data: T) => ComponentChildren): ComponentChildren {
  if (state.data !== undefined) return render(state.data);
  return state.error !== null ? <ErrorState title={labels.failed} error={state.error} onRetry={state.reload} /> : <Loading label={labels.loading} />;
}

/** A readable message for any thrown value. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.status === 0 || error.detail !== "" ? error.detail : error.message;
  if (error instanceof Error) return error.message;
  if (typeof error === "string") return error;
  return "unknown error";
}
