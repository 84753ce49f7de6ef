// The sections of a project: its runs (the workspace), its sweeps, its artifacts and its
// reports; and the model registry of the project's entity.

import { href } from "../lib/route";

export function ProjectNav({ entity, project, current }: { entity: string; project: string; current: "runs" | "sweeps" | "artifacts" | "reports" }) {
  return (
    <nav class="project-nav" aria-label="Project sections" data-testid="project-nav">
      <a class={current === "runs" ? "project-nav-link selected" : "project-nav-link"} href={href.workspace(entity, project)} aria-current={current === "runs" ? "page" : undefined} data-testid="nav-runs">
        Runs
      </a>
      <a class={current === "sweeps" ? "project-nav-link selected" : "project-nav-link"} href={href.sweeps(entity, project)} aria-current={current === "sweeps" ? "page" : undefined} data-testid="nav-sweeps">
        Sweeps
      </a>
      <a class={current === "artifacts" ? "project-nav-link selected" : "project-nav-link"} href={href.artifacts(entity, project)} aria-current={current === "artifacts" ? "page" : undefined} data-testid="nav-artifacts">
        Artifacts
      </a>
      <a class={current === "reports" ? "project-nav-link selected" : "project-nav-link"} href={href.reports(entity, project)} aria-current={current === "reports" ? "page" : undefined} data-testid="nav-reports">
        Reports
      </a>
      <a class="project-nav-link" href={href.registry(entity)} data-testid="nav-registry" title={`The model registry of ${entity}`}>
        Registry
      </a>
    </nav>
  );
}
