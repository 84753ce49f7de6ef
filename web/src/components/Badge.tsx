// Small labels: run states, tags.

import type { RunState } from "../api/types";

const STATE_LABEL: Record<RunState, string> = {
  running: "Running",
  finished: "Finished",
  failed: "Failed",
  crashed: "Crashed",
};

/** A run's state as a coloured badge (`data-state` for tests and styles). */
export function StateBadge({ state }: { state: RunState }) {
  return (
    <span class={`badge badge-${state}`} data-testid="state-badge" data-state={state}>
      {state === "running" && <span class="pulse" aria-hidden="true" />}
      {(STATE_LABEL as Partial<Record<string, string>>)[state] ?? state}
    </span>
  );
}

/** A neutral label. */
export function Badge({ children, title }: { children: string; title?: string }) {
  return (
    <span class="badge" title={title}>
      {children}
    </span>
  );
}

/** A run tag. */
export function Tag({ name }: { name: string }) {
  return (
    <span class="tag" data-testid="tag">
      {name}
    </span>
  );
}
