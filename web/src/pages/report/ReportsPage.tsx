// A project's reports (`#/p/{entity}/{project}/reports`): the list (title, last edit, version,
// frozen), "New report" and delete for those who may write.

import { useState } from "preact/hooks";
import { createReport, deleteReport, listReports, type ReportSummary } from "../../api/reports";
import type { Viewer } from "../../api/types";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { ProjectNav } from "../../components/ProjectNav";
import { Empty, errorMessage, whenLoaded } from "../../components/states";
import { formatDateTime, formatRelative } from "../../lib/format";
import { useAsync, useNow } from "../../lib/hooks";
import { href, navigate, type Params } from "../../lib/route";
import { canEditReports } from "./access";
import "./report.css";

export function ReportsPage(props: { entity: string; project: string; params: Params; viewer: Viewer | null }) {
  const { entity, project } = props;
  const writable = canEditReports(props.viewer, entity);
  const reports = useAsync((signal) => listReports(entity, project, signal), [entity, project]);
  const now = useNow(30_000);
  const [title, setTitle] = useState("");
  const [creating, setCreating] = useState(false);
  const [createError, setCreateError] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<ReportSummary | null>(null);

  const create = async (e: Event): Promise<void> => {
    e.preventDefault();
    const name = title.trim() === "" ? "Untitled report" : title.trim();
    setCreating(true);
    setCreateError(null);
    try {
      const report = await createReport(entity, project, { title: name });
      navigate(href.report(entity, project, report.id, { edit: "1" }));
    } catch (err) {
      setCreateError(errorMessage(err));
    } finally {
      setCreating(false);
    }
  };

  return (
    <div class="page reports-page" data-testid="reports-page">
      <div class="workspace-header">
        <h1 class="page-title">
          <span class="muted">{entity} /</span> {project}
        </h1>
        <ProjectNav entity={entity} project={project} current="reports" />
      </div>
      {writable && (
        <form class="report-new" onSubmit={(e) => { void create(e); }} aria-label="New report">
          <input
            class="input"
            type="text"
            maxLength={256}
            placeholder="Title of the new report"
            aria-label="Title of the new report"
            value={title}
            onInput={(e) => { setTitle(e.currentTarget.value); }}
            data-testid="new-report-title"
          />
          <button type="submit" class="btn btn-primary" disabled={creating} data-testid="new-report">
            New report
          </button>
          {createError !== null && (
            <span class="field-error" role="alert">
              {createError}
            </span>
          )}
        </form>
      )}
      {whenLoaded(reports, { loading: "Loading reports…", failed: "Cannot load the reports" }, (list) =>
        list.length === 0 ? (
          <Empty title="No reports in this project yet">
            <p>{writable ? "Create one above, or use “Add to report” on a chart of the workspace." : "Reports written by the project's members appear here."}</p>
          </Empty>
        ) : (
          <table class="table reports-table" data-testid="reports-table">
            <thead>
              <tr>
                <th scope="col">Report</th>
                <th scope="col">Last edit</th>
                <th scope="col" class="num">
                  Version
                </th>
                {writable && (
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                )}
              </tr>
            </thead>
            <tbody>
              {list.map((r) => (
                <tr key={r.id} data-testid="report-row" data-report-id={r.id}>
                  <td>
                    <a href={href.report(entity, project, r.id)} data-testid="report-link">
                      {r.title}
                    </a>
                    {r.frozen_at !== null && (
                      <span class="badge report-frozen-badge" title={`Frozen at ${formatDateTime(r.frozen_at)}`}>
                        frozen
                      </span>
                    )}
                  </td>
                  <td title={formatDateTime(r.updated_at)}>
                    {r.updated_by} · {formatRelative(r.updated_at, now)}
                  </td>
                  <td class="num">{r.version}</td>
                  {writable && (
                    <td>
                      <button type="button" class="btn btn-small btn-ghost" aria-label={`Delete report ${r.title}`} onClick={() => { setDeleting(r); }} data-testid="delete-report">
                        Delete
                      </button>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        ),
      )}
      {deleting !== null && (
        <ConfirmDialog
          title={`Delete the report “${deleting.title}”?`}
          confirmLabel="Delete"
          danger
          onCancel={() => { setDeleting(null); }}
          onConfirm={async () => {
            await deleteReport(entity, project, deleting.id);
            setDeleting(null);
            reports.setData((reports.data ?? []).filter((r) => r.id !== deleting.id));
          }}
        >
          <p>Its history goes with it. This cannot be undone.</p>
        </ConfirmDialog>
      )}
    </div>
  );
}
