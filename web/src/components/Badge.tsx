// Small labels: run states, tags.

import type { RunState } from "../api/types";

const STATE_LABEL: Record<RunState, string> = {
  running: "Running",
  finished: "Finished",
  failed: "Failed",
  crashed: "Crashed",
  stopped: "Stopped",
};

/** Labels of the states of sweeps and trials that runs don't have. */
const OTHER_LABEL: Record<string, string> = {
  queued: "Queued",
  paused: "Paused",
  cancelled: "Cancelled",
};

/**
 * A run's state as a coloured badge (`data-state` for tests and styles); also a sweep's or a
 * trial's (`queued`, `paused`, `cancelled`). `stopped`: ended early on purpose (a sweep's early
 * termination or a cancel), distinct from `crashed`.
 */
export function StateBadge({ state }: { state: RunState | (string & {}) }) {
  return (
    <span class={`badge badge-${state}`} data-testid="state-badge" data-state={state}>
      {state === "running" && <span class="pulse" aria-hidden="true" />}
      {(STATE_LABEL as Partial<Record<string, string>>)[state] ?? OTHER_LABEL[state] ?? state}
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
