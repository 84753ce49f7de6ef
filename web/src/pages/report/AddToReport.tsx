// "Add to report" on a workspace chart: the panel (its metric and options) with the workspace's
// view (filter, selected runs, grouping) becomes a report block, appended to one of the
// project's reports or to a new one; then a link to the report.

import { useEffect, useRef, useState } from "preact/hooks";
import { createReport, getReport, listReports, saveReport, type ReportSummary } from "../../api/reports";
import { errorMessage } from "../../components/states";
import { href } from "../../lib/route";
import type { Block } from "../../reports/doc";
import { blockFromWorkspacePanel, type WorkspacePanel, type WorkspaceView } from "../../reports/panels/fromWorkspace";
import "./report.css";

/** Append `block` to report `id` (one saved op on top of its current version). */
export async function appendBlock(entity: string, project: string, id: string, block: Block): Promise<void> {
  const report = await getReport(entity, project, id);
  const last = report.blocks[report.blocks.length - 1]?.id ?? null;
  await saveReport(entity, project, id, { base_version: report.version, ops: [{ op: "upsert", block, after: last }] });
}

export function AddToReport(props: { entity: string; project: string; panel: WorkspacePanel; view: () => WorkspaceView }) {
  const { entity, project, panel } = props;
  const [open, setOpen] = useState(false);
  const [reports, setReports] = useState<ReportSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<{ id: string; title: string } | null>(null);
  const [title, setTitle] = useState("");
  const ref = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!open) return;
    const ctrl = new AbortController();
    setReports(null);
    listReports(entity, project, ctrl.signal)
      .then(setReports)
      .catch((err: unknown) => {
        if (!ctrl.signal.aborted) setError(errorMessage(err));
      });
    const onKey = (e: KeyboardEvent): void => {
      if (e.key === "Escape") setOpen(false);
    };
    const onClick = (e: MouseEvent): void => {
      if (ref.current !== null && e.target instanceof Node && !ref.current.contains(e.target)) setOpen(false);
    };
    document.addEventListener("keydown", onKey);
    document.addEventListener("mousedown", onClick);
    return () => {
      ctrl.abort();
      document.removeEventListener("keydown", onKey);
      document.removeEventListener("mousedown", onClick);
    };
  }, [open, entity, project]);

  const add = async (target: { id: string; title: string } | null): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      const block = blockFromWorkspacePanel(panel, props.view());
      if (target === null) {
        const name = title.trim() === "" ? `Report: ${panel.key}` : title.trim();
        const created = await createReport(entity, project, { title: name, blocks: [block] });
        setDone({ id: created.id, title: created.title });
      } else {
        await appendBlock(entity, project, target.id, block);
        setDone(target);
      }
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  const menuId = `add-to-report-${panel.key.replace(/[^A-Za-z0-9_-]/g, "_")}`;
  return (
    <div class="add-to-report" ref={ref}>
      <button
        type="button"
        class="chart-btn chart-btn-text"
        aria-label={`Add ${panel.key} to a report`}
        aria-expanded={open}
        aria-controls={menuId}
        title="Add to report"
        onClick={() => {
          setDone(null);
          setError(null);
          setOpen((o) => !o);
        }}
        data-testid="add-to-report"
      >
        + Report
      </button>
      {open && (
        <div class="add-to-report-menu" id={menuId} role="group" aria-label={`Add ${panel.key} to a report`} data-testid="add-to-report-menu">
          {done !== null ? (
            <div role="status">
              Added to{" "}
              <a href={href.report(entity, project, done.id)} data-testid="added-report-link">
                {done.title}
              </a>
            </div>
          ) : (
            <>
              <form
                class="add-to-report-new"
                onSubmit={(e) => {
                  e.preventDefault();
                  void add(null);
                }}
              >
                <input class="input input-small" placeholder={`Report: ${panel.key}`} aria-label="Title of a new report" value={title} onInput={(e) => { setTitle(e.currentTarget.value); }} data-testid="add-to-report-title" />
                <button type="submit" class="btn btn-small btn-primary" disabled={busy} data-testid="add-to-new-report">
                  New report
                </button>
              </form>
              {reports === null && error === null && <div class="muted">Loading reports…</div>}
              {reports !== null && reports.length > 0 && (
                <ul class="add-to-report-list">
                  {reports.map((r) => (
                    <li key={r.id}>
                      <button type="button" class="btn btn-ghost btn-small" disabled={busy} onClick={() => { void add({ id: r.id, title: r.title }); }} data-testid="add-to-existing-report">
                        {r.title}
                      </button>
                    </li>
                  ))}
                </ul>
              )}
            </>
          )}
          {error !== null && (
            <div class="field-error" role="alert">
              {error}
            </div>
          )}
        </div>
      )}
    </div>
  );
}
