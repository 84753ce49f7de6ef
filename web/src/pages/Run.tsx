// A run: overview with inline edits, charts, config, summary, histograms, system metrics,
// console logs, files and media. Polls the run every 2 s while it is running.

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { ApiError, isAbort } from "../api/client";
import { histogramKeys } from "../api/histograms";
import { deleteRun, getRun, patchRun, type RunPatch } from "../api/runs";
import type { Json, RunInfo } from "../api/types";
import { StateBadge } from "../components/Badge";
import { CommentThread } from "../components/comments/CommentThread";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { EditableText } from "../components/Editable";
import { FieldRow } from "../components/FieldRow";
import { KeyValueTable } from "../components/KeyValueTable";
import { Empty, ErrorState, errorMessage, Loading, PageError } from "../components/states";
import { TabPanel, Tabs, type TabItem } from "../components/Tabs";
import { TagEditor } from "../components/TagEditor";
import { runColor } from "../lib/colors";
import { formatBytes, formatDateTime, formatDuration, formatRelative } from "../lib/format";
import { useAsync, useNow, useStable } from "../lib/hooks";
import { poll } from "../lib/poll";
import { href, navigate, withParams, type Params } from "../lib/route";
import { HistogramView } from "../charts/HistogramView";
import { PanelGrid } from "../charts/PanelGrid";
import { SystemCharts } from "../charts/SystemCharts";
import { RunArtifactsTab } from "./artifacts/RunArtifactsTab";
import { AlertsPanel } from "./run/AlertsPanel";
import { FilesTab } from "./run/FilesTab";
import { LogsTab } from "./run/LogsTab";
import { MediaTab } from "./run/MediaTab";
import "./run/run.css";

const TABS: readonly TabItem[] = [
  { id: "overview", label: "Overview" },
  { id: "charts", label: "Charts" },
  { id: "config", label: "Config" },
  { id: "summary", label: "Summary" },
  { id: "histograms", label: "Histograms" },
  { id: "system", label: "System" },
  { id: "logs", label: "Logs" },
  { id: "files", label: "Files" },
  { id: "media", label: "Media" },
  { id: "artifacts", label: "Artifacts" },
];

function str(v: Json | undefined): string | null {
  if (typeof v === "string" && v !== "") return v;
  if (typeof v === "number") return String(v);
  return null;
}

/** The git commit of the run's metadata, under any of the usual spellings. */
export function gitCommit(meta: Record<string, Json>): string | null {
  const git = meta.git;
  if (typeof git === "object" && git !== null && !Array.isArray(git)) {
    const c = str(git.commit) ?? str(git.sha) ?? str(git.revision);
    if (c !== null) return c;
  }
  return str(meta.git_commit) ?? str(meta.commit) ?? (typeof git === "string" ? git : null);
}

/** `program arg1 arg2` from the metadata (arguments with spaces quoted). */
export function commandLine(meta: Record<string, Json>): string | null {
  const program = str(meta.program) ?? str(meta.command);
  if (program === null) return null;
  const args = Array.isArray(meta.args) ? meta.args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))) : [];
  return [program, ...args].map((a) => (/[\s"']/.test(a) ? JSON.stringify(a) : a)).join(" ");
}

function Overview({ run, onPatch, now, readOnly }: { run: RunInfo; onPatch: (p: RunPatch) => Promise<void>; now: number; readOnly: boolean }) {
  const meta = run.metadata;
  const commit = gitCommit(meta);
  const command = commandLine(meta);
  const remote = typeof meta.git === "object" && meta.git !== null && !Array.isArray(meta.git) ? str(meta.git.remote) : null;
  return (
    <div class="overview">
      <dl class="fields card" data-testid="run-overview">
        <FieldRow label="State">
          <StateBadge state={run.state} />
          {run.exit_code !== null && run.exit_code !== 0 && <span class="muted"> exit code {run.exit_code}</span>}
        </FieldRow>
        <FieldRow label="Created">
          {formatDateTime(run.created_at)} <span class="muted">({formatRelative(run.created_at, now)})</span>
        </FieldRow>
        <FieldRow label="Duration" testid="run-runtime">
          {formatDuration(run.runtime)}
        </FieldRow>
        <FieldRow label="Last update">{formatRelative(run.heartbeat_at ?? run.updated_at, now)}</FieldRow>
        <FieldRow label="Run id">
          <code>{run.id}</code>
        </FieldRow>
        {typeof run.sweep_id === "string" && run.sweep_id !== "" && (
          <FieldRow label="Sweep" testid="run-sweep-link">
            <a class="mono" href={href.sweep(run.entity, run.project, run.sweep_id)}>
              {run.sweep_id}
            </a>
          </FieldRow>
        )}
        {str(meta.host) !== null && <FieldRow label="Host">{str(meta.host)}</FieldRow>}
        {command !== null && (
          <FieldRow label="Command">
            <code class="wrap">{command}</code>
          </FieldRow>
        )}
        {str(meta.python) !== null && <FieldRow label="Python">{str(meta.python)}</FieldRow>}
        {commit !== null && (
          <FieldRow label="Git commit" testid="run-git">
            <code title={commit}>{commit.slice(0, 12)}</code>
            {remote !== null && <span class="muted"> {remote}</span>}
          </FieldRow>
        )}
        {str(meta.group) !== null && <FieldRow label="Group">{str(meta.group)}</FieldRow>}
        {str(meta.job_type) !== null && <FieldRow label="Job type">{str(meta.job_type)}</FieldRow>}
        {str(meta.fwtrack_version) !== null && <FieldRow label="fwtrack">{str(meta.fwtrack_version)}</FieldRow>}
        <FieldRow label="Log size">{formatBytes(run.log_size)}</FieldRow>
      </dl>
      <div class="card overview-edit">
        <h2 class="section-title">Tags</h2>
        {readOnly ? (
          <ul class="tag-list" aria-label="Tags" data-testid="run-tags-read-only">
            {run.tags.length === 0 ? <li class="muted">No tags</li> : run.tags.map((t) => <li key={t} class="tag">{t}</li>)}
          </ul>
        ) : (
          <TagEditor
            tags={run.tags}
            onChange={(tags) => onPatch({ tags })}
          />
        )}
        <h2 class="section-title">Notes</h2>
        {readOnly ? (
          <p class={run.notes ? "" : "muted"} data-testid="run-notes-read-only">{run.notes ?? "No notes"}</p>
        ) : (
          <EditableText
            value={run.notes ?? ""}
            label="Notes"
            multiline
            placeholder="No notes yet"
            testid="run-notes"
            onSave={(notes) => onPatch({ notes })}
          />
        )}
      </div>
    </div>
  );
}

function Histograms({ run, params, setParam }: { run: RunInfo; params: Params; setParam: (k: string, v: string | undefined) => void }) {
  const keys = useAsync((signal) => histogramKeys(run, signal), [run.entity, run.project, run.id]);
  if (keys.data === undefined) {
    return keys.error !== null ? <ErrorState error={keys.error} onRetry={keys.reload} /> : <Loading label="Loading histograms…" />;
  }
  if (keys.data.length === 0) {
    return (
      <Empty title="No histograms recorded for this run">
        <p>
          Log a <code>fwtrack.Histogram</code> or an array (<code>{'fwtrack.log({"weights": arr})'}</code>) to see its distribution over steps.
        </p>
      </Empty>
    );
  }
  const current = params.hist !== undefined && keys.data.includes(params.hist) ? params.hist : (keys.data[0] ?? "");
  return (
    <div class="hist-layout">
      <ul class="hist-keys card" aria-label="Histogram keys" data-testid="histogram-keys">
        {keys.data.map((k) => (
          <li key={k}>
            <button
              type="button"
              class={k === current ? "list-button selected" : "list-button"}
              aria-current={k === current}
              onClick={() => {
                setParam("hist", k);
              }}
            >
              {k}
            </button>
          </li>
        ))}
      </ul>
      <div class="hist-view">
        <HistogramView key={current} entity={run.entity} project={run.project} run={run.id} histKey={current} />
      </div>
    </div>
  );
}

/** `#/p/{entity}/{project}/r/{run_id}?tab=...`. */
export function RunPage({ entity, project, runId, params, readOnly = false }: {
  entity: string;
  project: string;
  runId: string;
  params: Params;
  /** A team's viewer: no editors, no delete (the server refuses their writes). */
  readOnly?: boolean;
}) {
  const tab = TABS.some((t) => t.id === params.tab) ? (params.tab as string) : "overview";
  const [run, setRun] = useState<RunInfo | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [nonce, setNonce] = useState(0);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const runningRef = useRef(true);
  const now = useNow(5000);

  useEffect(() => {
    setRun(null);
    setError(null);
    runningRef.current = true;
  }, [entity, project, runId]);

  useEffect(() => {
    const stop = poll(async (signal) => {
      if (!runningRef.current) return;
      try {
        const r = await getRun(entity, project, runId, signal);
        runningRef.current = r.state === "running";
        setRun(r);
        setError(null);
      } catch (err) {
        if (isAbort(err)) return;
        setError(err);
        if (err instanceof ApiError && err.status === 404) runningRef.current = false;
        throw err;
      }
    }, 2000);
    return stop;
  }, [entity, project, runId, nonce]);

  const setParam = (k: string, v: string | undefined): void => {
    navigate(href.run(entity, project, runId, withParams(params, { [k]: v })), true);
  };
  const onPatch = async (patch: RunPatch): Promise<void> => {
    const next = await patchRun(entity, project, runId, patch);
    setRun(next);
  };

  const chartRuns = useStable(run === null ? [] : [{ id: run.id, name: run.name, color: runColor(run.id), start: run.created_at, running: run.state === "running" }]);
  const keys = useStable(run?.keys ?? []);
  const systemKeys = useMemo(() => keys.filter((k) => k.startsWith("system/")), [keys]);

  if (run === null) {
    if (error === null) return <Loading label="Loading run…" />;
    return (
      <PageError
        error={error}
        thing="run"
        onRetry={() => {
          runningRef.current = true;
          setNonce((n) => n + 1);
        }}
      >
        <a href={href.workspace(entity, project)}>Back to {project}</a>
      </PageError>
    );
  }

  let panel;
  switch (tab) {
    case "overview":
      panel = (
        <>
          <Overview run={run} onPatch={onPatch} now={now} readOnly={readOnly} />
          <AlertsPanel entity={entity} project={project} runId={run.id} running={run.state === "running"} />
          <CommentThread entity={entity} target="run" targetKey={`${project}/${run.id}`} />
        </>
      );
      break;
    case "charts":
      panel =
        keys.length === 0 ? (
          <Empty title="No metrics logged yet" />
        ) : (
          <PanelGrid entity={entity} project={project} runs={chartRuns} keys={keys} live={run.state === "running"} layoutScope="run" />
        );
      break;
    case "config":
      panel = <KeyValueTable key="config" data={run.config} label="Config" testid="config-table" />;
      break;
    case "summary":
      panel = <KeyValueTable key="summary" data={run.summary} label="Summary" testid="summary-table" />;
      break;
    case "histograms":
      panel = <Histograms run={run} params={params} setParam={setParam} />;
      break;
    case "system":
      panel = (
        <SystemCharts
          entity={entity}
          project={project}
          runs={chartRuns}
          live={run.state === "running"}
          empty={
            systemKeys.length === 0 ? (
              <Empty title="No system metrics recorded for this run">
                <p>
                  Runs sample CPU, memory, disk, network and GPUs every <code>FWTRACK_SYSTEM_INTERVAL</code> seconds (10 by default).
                </p>
              </Empty>
            ) : (
              <PanelGrid entity={entity} project={project} runs={chartRuns} keys={systemKeys} live={run.state === "running"} layoutScope="run" />
            )
          }
        />
      );
      break;
    case "logs":
      panel = <LogsTab key={run.id} entity={entity} project={project} runId={run.id} running={run.state === "running"} />;
      break;
    case "files":
      panel = (
        <FilesTab
          entity={entity}
          project={project}
          runId={run.id}
          selected={params.file}
          onSelect={(f) => {
            setParam("file", f);
          }}
        />
      );
      break;
    case "artifacts":
      panel = <RunArtifactsTab entity={entity} project={project} runId={run.id} />;
      break;
    default:
      panel = (
        <MediaTab
          entity={entity}
          project={project}
          runId={run.id}
          table={params.table}
          onTable={(t) => {
            setParam("table", t);
          }}
        />
      );
  }

  return (
    <div class="page run-page" data-testid="run-page" data-run-id={run.id}>
      <div class="run-header">
        <span class="swatch swatch-large" style={{ background: runColor(run.id) }} aria-hidden="true" />
        <div class="run-title">
          {readOnly ? (
            <h1 class="run-name" data-testid="run-title-read-only">{run.name}</h1>
          ) : (
            <EditableText value={run.name} label="Run name" required testid="run-title" onSave={(name) => onPatch({ name })} />
          )}
        </div>
        <StateBadge state={run.state} />
        <div class="run-actions">
          <a class="btn btn-small" href={href.workspace(entity, project)}>
            Workspace
          </a>
          {!readOnly && (
            <button
              type="button"
              class="btn btn-small btn-danger-ghost"
              onClick={() => {
                setConfirmDelete(true);
              }}
              data-testid="delete-run"
            >
              Delete
            </button>
          )}
        </div>
      </div>
      {error !== null && (
        <div class="notice" role="status">
          Updating this run failed: {errorMessage(error)}
        </div>
      )}
      <Tabs
        tabs={TABS}
        selected={tab}
        label="Run sections"
        onSelect={(t) => {
          setParam("tab", t === "overview" ? undefined : t);
        }}
      />
      <TabPanel id={tab}>{panel}</TabPanel>
      {confirmDelete && (
        <ConfirmDialog
          title={`Delete run ${run.name}?`}
          confirmLabel="Delete run"
          danger
          onCancel={() => {
            setConfirmDelete(false);
          }}
          onConfirm={async () => {
            await deleteRun(entity, project, run.id);
            navigate(href.workspace(entity, project), true);
          }}
        >
          <p>
            This removes the run <code>{run.id}</code> with its log, history and files from the server. It cannot be undone.
          </p>
        </ConfirmDialog>
      )}
    </div>
  );
}
