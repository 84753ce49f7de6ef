// One report (`#/p/{entity}/{project}/reports/{id}`): its blocks, read; with write rights an
// Edit mode (`edit=1`): title and description, add / move / delete / edit blocks, autosaved as
// ops against the version the edits were made on. Other editors' saves are picked up by polling
// and merged under the local unsaved edits (reports/doc.ts); a save whose block someone else
// changed meanwhile shows a conflict notice naming the block and who. The history (`version=N`
// shows a saved version) restores an earlier version; freeze pins the run sets and histories.

import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError, isAbort } from "../../api/client";
import {
  freezeReport,
  getReport,
  getVersion,
  listVersions,
  restoreVersion,
  saveReport,
  unfreezeReport,
  type ReportVersionInfo,
} from "../../api/reports";
import type { Viewer } from "../../api/types";
import { CommentThread } from "../../components/comments/CommentThread";
import { ProjectNav } from "../../components/ProjectNav";
import { errorMessage, Loading, PageError } from "../../components/states";
import { formatDateTime, formatRelative } from "../../lib/format";
import { useAsync } from "../../lib/hooks";
import { poll } from "../../lib/poll";
import { href, navigate, withParams, type Params } from "../../lib/route";
import {
  beginSave,
  blockLabel,
  edit,
  hasUnsaved,
  initialState,
  rebase,
  saveDone,
  saveFailed,
  viewOf,
  type Block,
  type BlockType,
  type EditorState,
  type Op,
  type Report,
} from "../../reports/doc";
import { ExportMenu } from "../../reports/export/ExportMenu";
import { canEditReports } from "./access";
import { ADD_TYPES, BlockBody, blockName, newBlock } from "./blocks";
import "./report.css";

/** Edits wait this long for the next one before they are saved. */
export const SAVE_DELAY_MS = 800;
/** Other editors' saves are read this often. */
export const POLL_MS = 2500;

export interface Notice {
  key: string;
  text: string;
}

/** The notices of a save's `conflicts` (names the block and who). */
export function conflictNotices(blocks: readonly Block[], conflicts: readonly { block: string; by: string; at: number; kind: string }[]): Notice[] {
  return conflicts.map((c) => {
    const what = blockLabel(blocks, c.block);
    const when = formatDateTime(c.at);
    let text: string;
    if (c.kind === "deleted_by_other") text = `${c.by} deleted ${what} (${when}) after you changed it; your deletion and theirs agree, or see the history for your version.`;
    else if (c.kind === "edited_after_delete") text = `You edited ${what} after ${c.by} deleted it (${when}); your version was saved back. Their deletion is in the history.`;
    else text = `Your edit of ${what} replaced a change ${c.by} made at ${when}. Their version is in the history.`;
    return { key: `${c.block}:${c.at}:${c.kind}`, text };
  });
}

type SaveStatus = { kind: "saved" } | { kind: "unsaved" } | { kind: "saving" } | { kind: "error"; message: string; fatal: boolean };

export function ReportPage(props: { entity: string; project: string; reportId: string; params: Params; viewer: Viewer | null }) {
  const { entity, project, reportId, params } = props;
  const writable = canEditReports(props.viewer, entity);
  const versionParam = params.version !== undefined && /^\d+$/.test(params.version) ? Number(params.version) : null;
  const editing = writable && params.edit === "1" && versionParam === null;

  const setParams = (changes: Record<string, string | undefined>): void => {
    navigate(href.report(entity, project, reportId, withParams(params, changes)), true);
  };

  // --- the editor's state: server document, ops in flight, pending ops ---
  const stateRef = useRef<EditorState | null>(null);
  const [, setTick] = useState(0);
  const rerender = useCallback(() => { setTick((t) => t + 1); }, []);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [status, setStatus] = useState<SaveStatus>({ kind: "saved" });
  const [notices, setNotices] = useState<Notice[]>([]);
  const [nonce, setNonce] = useState(0);
  const saveTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const rootRef = useRef<HTMLDivElement>(null);
  const focusAfter = useRef<string | null>(null);

  const setState = (next: EditorState): void => {
    stateRef.current = next;
    rerender();
  };

  const addNotices = (more: Notice[]): void => {
    if (more.length === 0) return;
    setNotices((prev) => [...prev.filter((n) => !more.some((m) => m.key === n.key)), ...more]);
  };

  // load, then poll for other editors' saves
  useEffect(() => {
    stateRef.current = null;
    setLoadError(null);
    let first = true;
    return poll(async (signal) => {
      try {
        const report = await getReport(entity, project, reportId, signal);
        const cur = stateRef.current;
        if (cur === null || first) {
          first = false;
          setState(cur === null ? initialState(report) : rebase(cur, report).state);
          return;
        }
        const { state: next, clashes } = rebase(cur, report);
        if (next !== cur) {
          const blocks = viewOf(next).blocks;
          addNotices(
            clashes.map((c) => ({
              key: `incoming:${c.block}:${report.version}`,
              text: c.deleted
                ? `${c.by} deleted ${blockLabel(cur.server.blocks, c.block)} while you were editing it; your version will be saved back.`
                : `${c.by} also changed ${blockLabel(blocks, c.block)}; your unsaved version is shown and will replace theirs when saved (theirs stays in the history).`,
            })),
          );
          setState(next);
        }
      } catch (err) {
        if (isAbort(err)) return;
        if (stateRef.current === null) setLoadError(err);
        throw err;
      }
    }, POLL_MS);
  }, [entity, project, reportId, nonce]);

  // --- autosave ---
  const flush = useCallback(async (): Promise<void> => {
    const cur = stateRef.current;
    if (cur === null) return;
    const started = beginSave(cur);
    if (started === null) return;
    stateRef.current = started.state;
    setStatus({ kind: "saving" });
    try {
      const { report, conflicts } = await saveReport(entity, project, reportId, started.body);
      const after = stateRef.current;
      stateRef.current = saveDone(after, report);
      addNotices(conflictNotices(report.blocks, conflicts));
      rerender();
      if (stateRef.current.pending.length > 0) {
        setStatus({ kind: "unsaved" });
        void flush();
      } else {
        setStatus({ kind: "saved" });
      }
    } catch (err) {
      stateRef.current = saveFailed(stateRef.current);
      rerender();
      const fatal = err instanceof ApiError && err.status >= 400 && err.status < 500 && err.status !== 408 && err.status !== 429;
      setStatus({ kind: "error", message: errorMessage(err), fatal });
    }
  }, [entity, project, reportId, rerender]);

  const scheduleSave = useCallback((): void => {
    if (saveTimer.current !== null) clearTimeout(saveTimer.current);
    saveTimer.current = setTimeout(() => {
      saveTimer.current = null;
      void flush();
    }, SAVE_DELAY_MS);
  }, [flush]);

  // save what is left when the page goes away; warn before closing the tab with unsaved edits
  useEffect(() => {
    const onBeforeUnload = (e: BeforeUnloadEvent): void => {
      if (stateRef.current !== null && hasUnsaved(stateRef.current)) e.preventDefault();
    };
    window.addEventListener("beforeunload", onBeforeUnload);
    return () => {
      window.removeEventListener("beforeunload", onBeforeUnload);
      if (saveTimer.current !== null) clearTimeout(saveTimer.current);
      void flush();
    };
  }, [flush]);

  const apply = (op: Op): void => {
    const cur = stateRef.current;
    if (cur === null) return;
    setState(edit(cur, op));
    setStatus((s) => (s.kind === "saving" ? s : { kind: "unsaved" }));
    scheduleSave();
  };

  // keep the focus on a move button after its block moved
  useEffect(() => {
    const id = focusAfter.current;
    if (id === null) return;
    focusAfter.current = null;
    const el = document.getElementById(id);
    if (el instanceof HTMLButtonElement && !el.disabled) el.focus();
  });

  // --- history ---
  const [historyOpen, setHistoryOpen] = useState(false);
  const [historyNonce, setHistoryNonce] = useState(0);
  const versions = useAsync<ReportVersionInfo[] | null>(
    (signal) => (historyOpen ? listVersions(entity, project, reportId, signal) : Promise.resolve(null)),
    [entity, project, reportId, historyOpen, historyNonce, stateRef.current?.server.version],
  );
  const shownVersion = useAsync<Report | null>(
    (signal) => (versionParam === null ? Promise.resolve(null) : getVersion(entity, project, reportId, versionParam, signal)),
    [entity, project, reportId, versionParam],
  );
  const [actionError, setActionError] = useState<string | null>(null);
  const [titleDraft, setTitleDraft] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  /** A server answer that replaces the document (restore, freeze): local unsaved ops stay on top. */
  const adopt = (report: Report): void => {
    const cur = stateRef.current;
    setState(cur === null ? initialState(report) : rebase(cur, report).state);
    setHistoryNonce((n) => n + 1);
  };

  const act = async (fn: () => Promise<Report>): Promise<void> => {
    setBusy(true);
    setActionError(null);
    try {
      adopt(await fn());
    } catch (err) {
      setActionError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  const state = stateRef.current;
  if (state === null) {
    if (loadError !== null) {
      return (
        <PageError error={loadError} thing="report" onRetry={() => { setNonce((n) => n + 1); }}>
          <a href={href.reports(entity, project)}>All reports of {project}</a>
        </PageError>
      );
    }
    return <Loading label="Loading the report…" />;
  }

  const live = viewOf(state);
  const old = versionParam !== null ? (shownVersion.data ?? null) : null;
  const report = old ?? live;
  const blocks = report.blocks;

  const changeBlock = (b: Block): void => { apply({ op: "upsert", block: b }); };
  const move = (b: Block, by: -1 | 1): void => {
    const i = blocks.findIndex((x) => x.id === b.id);
    const j = i + by;
    if (i < 0 || j < 0 || j >= blocks.length) return;
    // after moving up: after the block two above (null = first); down: after the next block
    const after = by === -1 ? (blocks[i - 2]?.id ?? null) : (blocks[i + 1]?.id ?? null);
    focusAfter.current = `${by === -1 ? "up" : "down"}-${b.id}`;
    apply({ op: "move", id: b.id, after });
  };
  const add = (type: BlockType, after: string | null): void => {
    const block = newBlock(type);
    apply({ op: "upsert", block, after });
  };

  return (
    <div class="page report-page" data-testid="report-page" data-version={live.version} data-editing={editing ? "true" : "false"} ref={rootRef}>
      <div class="workspace-header">
        <span class="page-title muted">
          {entity} / {project}
        </span>
        <ProjectNav entity={entity} project={project} current="reports" />
      </div>
      <header class="report-header">
        {editing ? (
          <div class="report-title-edit">
            <label class="sr-only" for="report-title">
              Title
            </label>
            <input
              id="report-title"
              class="input report-title-input"
              maxLength={256}
              value={titleDraft ?? live.title}
              aria-invalid={titleDraft !== null && titleDraft.trim() === ""}
              onInput={(e) => {
                const title = e.currentTarget.value;
                setTitleDraft(title);
                // a report needs a title: an emptied field is kept here until it has one again
                if (title.trim() !== "") apply({ op: "set_title", title });
              }}
              onBlur={() => { setTitleDraft(null); }}
              data-testid="report-title-input"
            />
            <label class="sr-only" for="report-description">
              Description
            </label>
            <textarea
              id="report-description"
              class="input report-description-input"
              rows={2}
              placeholder="Description"
              value={live.description}
              onInput={(e) => { apply({ op: "set_description", description: e.currentTarget.value }); }}
              data-testid="report-description-input"
            />
          </div>
        ) : (
          <div>
            <h1 class="report-title" data-testid="report-title">
              {report.title}
            </h1>
            {report.description !== "" && <p class="report-description">{report.description}</p>}
          </div>
        )}
        <div class="report-meta muted">
          v{report.version} · edited by {report.updated_by} {formatRelative(report.updated_at)}
          {report.frozen_at !== null && (
            <span class="badge report-frozen-badge" data-testid="frozen-badge" title="Run sets and histories are pinned">
              frozen {formatDateTime(report.frozen_at)}
            </span>
          )}
        </div>
        <div class="report-toolbar" role="toolbar" aria-label="Report actions">
          {editing && <SaveStatusView status={status} onRetry={() => { void flush(); }} onDiscard={() => { setState({ ...state, pending: [] }); setStatus({ kind: "saved" }); }} />}
          {writable && versionParam === null && (
            <button type="button" class={editing ? "btn btn-primary btn-small" : "btn btn-small"} onClick={() => { setParams({ edit: editing ? undefined : "1" }); }} data-testid="edit-toggle">
              {editing ? "Done" : "Edit"}
            </button>
          )}
          {writable && versionParam === null && (
            <button
              type="button"
              class="btn btn-small"
              disabled={busy}
              onClick={() => { void act(() => (live.frozen_at === null ? freezeReport : unfreezeReport)(entity, project, reportId)); }}
              data-testid="freeze-toggle"
              title={live.frozen_at === null ? "Pin the runs and their histories as they are now" : "Follow new runs and new points again"}
            >
              {live.frozen_at === null ? "Freeze" : "Unfreeze"}
            </button>
          )}
          <button type="button" class="btn btn-small" aria-expanded={historyOpen} aria-controls="report-history" onClick={() => { setHistoryOpen((o) => !o); }} data-testid="history-toggle">
            History
          </button>
          <ExportMenu entity={entity} project={project} reportId={reportId} title={report.title} root={() => rootRef.current} />
        </div>
        {actionError !== null && (
          <div class="field-error" role="alert">
            {actionError}
          </div>
        )}
      </header>

      {notices.length > 0 && (
        <div class="report-notices" role="alert" data-testid="conflict-notices">
          {notices.map((n) => (
            <div class="notice report-conflict" key={n.key} data-testid="conflict-notice">
              <span>{n.text}</span>
              <button type="button" class="btn btn-ghost btn-small" onClick={() => { setNotices((prev) => prev.filter((x) => x.key !== n.key)); }} aria-label="Dismiss this notice">
                Dismiss
              </button>
            </div>
          ))}
        </div>
      )}

      {versionParam !== null && (
        <div class="notice report-version-banner" role="status" data-testid="version-banner">
          {shownVersion.error !== null ? (
            <span>Cannot load version {versionParam}: {errorMessage(shownVersion.error)}</span>
          ) : (
            <span>
              Viewing version {versionParam}
              {old !== null && ` as ${old.updated_by} left it ${formatDateTime(old.updated_at)}`}.
            </span>
          )}
          <a class="btn btn-small" href={href.report(entity, project, reportId)}>
            Back to the current version
          </a>
          {writable && old !== null && (
            <button
              type="button"
              class="btn btn-primary btn-small"
              disabled={busy}
              data-testid="restore-version"
              onClick={() => {
                void act(() => restoreVersion(entity, project, reportId, versionParam)).then(() => { setParams({ version: undefined }); });
              }}
            >
              Restore this version
            </button>
          )}
        </div>
      )}

      <div class="report-layout">
        <main class="report-blocks" data-testid="report-blocks">
          {versionParam !== null && old === null && shownVersion.error === null && <Loading label={`Loading version ${versionParam}…`} />}
          {blocks.length === 0 && <p class="muted report-empty">{editing ? "This report is empty: add a block below." : "This report has no blocks yet."}</p>}
          {blocks.map((b, i) => (
            <section class={editing ? "report-block report-block-editing" : "report-block"} key={b.id} data-testid="report-block" data-block-id={b.id} data-block-type={b.type} aria-label={blockLabel(blocks, b.id)}>
              {editing && (
                <div class="report-block-bar">
                  <span class="report-block-kind">{blockName(b.type)}</span>
                  <button type="button" id={`up-${b.id}`} class="btn btn-ghost btn-small" disabled={i === 0} aria-label={`Move ${blockLabel(blocks, b.id)} up`} onClick={() => { move(b, -1); }} data-testid="block-up">
                    ↑
                  </button>
                  <button type="button" id={`down-${b.id}`} class="btn btn-ghost btn-small" disabled={i === blocks.length - 1} aria-label={`Move ${blockLabel(blocks, b.id)} down`} onClick={() => { move(b, 1); }} data-testid="block-down">
                    ↓
                  </button>
                  <button type="button" class="btn btn-ghost btn-small" aria-label={`Delete ${blockLabel(blocks, b.id)}`} onClick={() => { apply({ op: "delete", id: b.id }); }} data-testid="block-delete">
                    Delete
                  </button>
                </div>
              )}
              <BlockBody block={b} report={report} editing={editing} onChange={changeBlock} />
            </section>
          ))}
          {editing && <AddBlockMenu onAdd={(t) => { add(t, blocks[blocks.length - 1]?.id ?? null); }} />}
        </main>
        {historyOpen && (
          <aside class="report-history" id="report-history" aria-label="History" data-testid="history">
            <h2 class="report-side-title">History</h2>
            {versions.data === undefined || versions.data === null ? (
              versions.error !== null ? <div class="field-error">{errorMessage(versions.error)}</div> : <Loading label="Loading the history…" />
            ) : (
              <ol class="report-versions">
                {versions.data.map((v) => (
                  <li key={v.version} data-testid="history-entry" data-version={v.version} class={v.version === (versionParam ?? live.version) ? "current" : undefined}>
                    <a href={href.report(entity, project, reportId, { version: String(v.version) })} data-testid="history-view">
                      v{v.version}
                    </a>{" "}
                    <span>{v.author}</span> <span class="muted" title={formatDateTime(v.at)}>{formatRelative(v.at)}</span>
                    {v.note !== "" && <div class="muted report-version-note">{v.note}</div>}
                  </li>
                ))}
              </ol>
            )}
          </aside>
        )}
      </div>
      <section class="report-comments" aria-label="Comments">
        <CommentThread entity={entity} target="report" targetKey={reportId} />
      </section>
    </div>
  );
}

function SaveStatusView({ status, onRetry, onDiscard }: { status: SaveStatus; onRetry: () => void; onDiscard: () => void }) {
  if (status.kind === "error") {
    return (
      <span class="report-save-status report-save-error" role="alert" data-testid="save-status" data-status="error">
        Not saved: {status.message}
        <button type="button" class="btn btn-small" onClick={onRetry}>
          Retry
        </button>
        {status.fatal && (
          <button type="button" class="btn btn-small btn-ghost" onClick={onDiscard}>
            Discard unsaved changes
          </button>
        )}
      </span>
    );
  }
  const text = status.kind === "saved" ? "Saved" : status.kind === "saving" ? "Saving…" : "Unsaved changes";
  return (
    <span class="report-save-status muted" role="status" data-testid="save-status" data-status={status.kind}>
      {text}
    </span>
  );
}

function AddBlockMenu({ onAdd }: { onAdd: (type: BlockType) => void }) {
  const [open, setOpen] = useState(false);
  return (
    <div class="report-add">
      <button type="button" class="btn btn-small" aria-expanded={open} aria-controls="report-add-menu" onClick={() => { setOpen((o) => !o); }} data-testid="add-block">
        + Add block
      </button>
      {open && (
        <div class="report-add-menu" id="report-add-menu" role="group" aria-label="Block types">
          {ADD_TYPES.map((t) => (
            <button
              type="button"
              key={t}
              class="btn btn-small btn-ghost"
              onClick={() => {
                setOpen(false);
                onAdd(t);
              }}
              data-testid={`add-${t}`}
            >
              {blockName(t)}
            </button>
          ))}
        </div>
      )}
    </div>
  );
}
