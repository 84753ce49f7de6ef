// The sections of a project: its runs (the workspace) and its artifacts; and the model registry
// of the project's entity.

import { href } from "../lib/route";

export function ProjectNav({ entity, project, current }: { entity: string; project: string; current: "runs" | "artifacts" }) {
  return (
    <nav class="project-nav" aria-label="Project sections" data-testid="project-nav">
      <a class={current === "runs" ? "project-nav-link selected" : "project-nav-link"} href={href.workspace(entity, project)} aria-current={current === "runs" ? "page" : undefined} data-testid="nav-runs">
        Runs
      </a>
      <a class={current === "artifacts" ? "project-nav-link selected" : "project-nav-link"} href={href.artifacts(entity, project)} aria-current={current === "artifacts" ? "page" : undefined} data-testid="nav-artifacts">
        Artifacts
      </a>
      <a class="project-nav-link" href={href.registry(entity)} data-testid="nav-registry" title={`The model registry of ${entity}`}>
        Registry
      </a>
    </nav>
  );
}
