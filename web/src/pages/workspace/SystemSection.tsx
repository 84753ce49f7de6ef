// The workspace's system metrics: one chart per `system/` key across the visible runs (x =
// runtime). Collapsed by default (first paint stays fast); once expanded and in view it
// fetches `GET RUN/system` for every visible run at once, and polls while one of them runs.

import { useRef } from "preact/hooks";
import { SystemCharts } from "../../charts/SystemCharts";
import { useSeen } from "../../lib/hooks";
import type { ChartRun } from "../../charts/build";
import "../run/run.css";

export function SystemSection({ entity, project, runs, live, expanded, onToggle }: {
  entity: string;
  project: string;
  runs: ChartRun[];
  live: boolean;
  expanded: boolean;
  onToggle: () => void;
}) {
  return (
    <section class="pg-section system-section" data-testid="system-section" data-expanded={expanded} aria-labelledby="ws-system-h">
      <h3 class="pg-section-head" id="ws-system-h">
        <button type="button" aria-expanded={expanded} aria-controls="ws-system" onClick={onToggle} data-testid="system-section-toggle">
          <span class={expanded ? "pg-caret pg-caret-open" : "pg-caret"} aria-hidden="true">
            ▸
          </span>
          System metrics
          <span class="pg-section-count">
            {runs.length} {runs.length === 1 ? "run" : "runs"}
          </span>
        </button>
      </h3>
      {expanded && <SystemBody entity={entity} project={project} runs={runs} live={live} />}
    </section>
  );
}

/** The expanded section: its charts are drawn (and fetched) once it comes near the viewport. */
function SystemBody({ entity, project, runs, live }: { entity: string; project: string; runs: ChartRun[]; live: boolean }) {
  const bodyRef = useRef<HTMLDivElement>(null);
  const seen = useSeen(bodyRef);
  return (
    <div id="ws-system" ref={bodyRef} class="system-body">
      {seen && (
        <SystemCharts
          entity={entity}
          project={project}
          runs={runs}
          live={live}
          empty={<div class="pg-empty">The visible runs recorded no system metrics.</div>}
        />
      )}
    </div>
  );
}
