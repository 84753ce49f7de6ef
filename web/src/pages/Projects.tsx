// Every project the viewer reaches, with its run count and last activity.

import { useMemo, useState } from "preact/hooks";
import { listProjects } from "../api/projects";
import { listTeams } from "../api/teams";
import { Empty, ErrorState, Loading } from "../components/states";
import { formatDateTime, formatRelative } from "../lib/format";
import { useAsync, useNow } from "../lib/hooks";
import { href } from "../lib/route";

/** Links to the viewer's teams (their members, roles, invitations); nothing without teams. */
function TeamLinks() {
  const teams = useAsync((signal) => listTeams(signal), []);
  if (teams.data === undefined || teams.data.length === 0) return null;
  return (
    <nav class="team-links muted" aria-label="Teams" data-testid="team-links">
      Teams:{" "}
      {teams.data.map((t, i) => (
        <span key={t.name}>
          {i > 0 && ", "}
          <a href={href.team(t.name)} data-testid="team-link">
            {t.name}
          </a>
        </span>
      ))}
    </nav>
  );
}

/** The projects table (the home page). */
export function ProjectsPage() {
  const projects = useAsync((signal) => listProjects(signal), []);
  const [q, setQ] = useState("");
  const now = useNow(30_000);
  const shown = useMemo(() => {
    const needle = q.trim().toLowerCase();
    const all = projects.data ?? [];
    return needle === "" ? all : all.filter((p) => `${p.entity}/${p.name}`.toLowerCase().includes(needle));
  }, [projects.data, q]);

  let body;
  if (projects.data === undefined) {
    body = projects.error !== null ? <ErrorState error={projects.error} onRetry={projects.reload} /> : <Loading label="Loading projects…" />;
  } else if (projects.data.length === 0) {
    body = (
      <Empty title="No projects yet">
        <p>Log a run and it shows up here:</p>
        <pre class="code">{`import fwtrack\nfwtrack.init(project="my-project", config={"lr": 1e-3})\nfwtrack.log({"train/loss": 0.5})\nfwtrack.finish()`}</pre>
      </Empty>
    );
  } else {
    body = (
      <>
        <div class="toolbar">
          <input
            class="input"
            type="search"
            placeholder="Search projects…"
            aria-label="Search projects"
            value={q}
            onInput={(e) => {
              setQ(e.currentTarget.value);
            }}
          />
          <span class="muted">
            {projects.data.length} {projects.data.length === 1 ? "project" : "projects"}
          </span>
        </div>
        {shown.length === 0 ? (
          <Empty title="No project matches" />
        ) : (
          <div class="table-wrap card">
            <table class="table" data-testid="projects-table">
              <thead>
                <tr>
                  <th scope="col">Project</th>
                  <th scope="col" class="num">
                    Runs
                  </th>
                  <th scope="col">Last activity</th>
                </tr>
              </thead>
              <tbody>
                {shown.map((p) => (
                  <tr key={`${p.entity}/${p.name}`} data-testid="project-row" data-project={`${p.entity}/${p.name}`}>
                    <td>
                      <a class="project-link" href={href.workspace(p.entity, p.name)}>
                        <span class="muted">{p.entity} /</span> <strong>{p.name}</strong>
                      </a>
                    </td>
                    <td class="num">{p.run_count.toLocaleString("en-US")}</td>
                    <td title={formatDateTime(p.last_activity)}>{formatRelative(p.last_activity, now)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </>
    );
  }
  return (
    <div class="page page-narrow" data-testid="projects-page">
      <h1 class="page-title">Projects</h1>
      <TeamLinks />
      {body}
    </div>
  );
}
