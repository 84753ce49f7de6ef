// A project's workspace: header, the runs table (left) and the chart grid (right).
// Everything that defines the view lives in the URL: q, filter, sort, page, cols, runs
// (selected for Compare), hidden/shown (eye toggles), system (the system-metrics section
// expanded); chart parameters are left untouched.

import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { ApiError, isAbort } from "../api/client";
import { getRuns, listRuns, runFields } from "../api/runs";
import type { RunInfo, RunList, Viewer } from "../api/types";
import { ProjectNav } from "../components/ProjectNav";
import { Empty, ErrorState, Loading } from "../components/states";
import { colorsOf } from "../lib/colors";
import { useNow, useStable } from "../lib/hooks";
import { poll } from "../lib/poll";
import { href, intParam, listParam, navigate, withParams, type Params } from "../lib/route";
import { PanelGrid, type ChartRun } from "../charts/PanelGrid";
import { groupRuns } from "../charts/group";
import { BulkActions } from "./workspace/BulkActions";
import { ColumnPicker } from "./workspace/ColumnPicker";
import { parseColumn, type ExtraColumn } from "./workspace/columns";
import { chartGroupingOf, GroupByControl, useWorkspaceGrouping } from "./workspace/grouping";
import { RunsTable } from "./workspace/RunsTable";
import { SystemSection } from "./workspace/SystemSection";
import { DEFAULT_VISIBLE, isVisible, toggleVisible, visibleIds, type Visibility } from "./workspace/visibility";
import { canEditReports } from "./report/access";
import { canWrite } from "./sweeps/trials";
import { AddToReport } from "./report/AddToReport";

/** Rows per page of the runs table. */
export const PAGE_SIZE = 50;
/** The charts request at most this many runs at once (the server's limit per history request). */
const MAX_CHART_RUNS = 100;
/** While any run is running the list is polled this often. */
const LIVE_MS = 2000;
/** Otherwise it is refreshed this often (new runs appear). */
const IDLE_MS = 15000;
const DEFAULT_SORT = "-created_at";
/** Typing in the search box waits this long for the next key before querying. */
const SEARCH_DEBOUNCE_MS = 10;
const SPLIT_KEY = "fwtrack.workspace.split";

interface Loaded {
  /** The query these rows answer (stale rows stay on screen while a new query loads). */
  key: string;
  list: RunList;
  /** The first runs of the current order (for the default chart visibility). */
  top: RunInfo[];
}

function readSplit(): number {
  try {
    const v = Number(localStorage.getItem(SPLIT_KEY));
    return Number.isFinite(v) && v >= 280 && v <= 2000 ? v : 620;
  } catch {
    return 620;
  }
}

/** `#/p/{entity}/{project}`. */
export function WorkspacePage({ entity, project, params, viewer = null }: { entity: string; project: string; params: Params; viewer?: Viewer | null }) {
  const q = params.q ?? "";
  const filter = params.filter ?? "";
  const sort = params.sort ?? DEFAULT_SORT;
  const page = Math.max(1, intParam(params, "page", 1));
  // lists from the URL, rebuilt only when their parameter changes
  const cols = useMemo(() => listParam(params, "cols"), [params.cols]);
  const selected = useMemo(() => listParam(params, "runs"), [params.runs]);
  const hidden = useMemo(() => listParam(params, "hidden"), [params.hidden]);
  const shown = useMemo(() => listParam(params, "shown"), [params.shown]);
  const now = useNow(15000);

  const setParams = useCallback(
    (changes: Record<string, string | string[] | undefined>, replace = true): void => {
      navigate(href.workspace(entity, project, withParams(params, changes)), replace);
    },
    [entity, project, params],
  );

  // --- search (debounced into the URL) and filter (applied with Enter) ---
  const [searchDraft, setSearchDraft] = useState(q);
  const [filterDraft, setFilterDraft] = useState(filter);
  useEffect(() => {
    setSearchDraft(q);
  }, [q]);
  useEffect(() => {
    setFilterDraft(filter);
  }, [filter]);
  useEffect(() => {
    if (searchDraft === q) return;
    // Short: the server answers a search of 10,000 runs in milliseconds, and each new query
    // aborts the request of the one before; the wait only coalesces a burst (a paste).
    const t = setTimeout(() => {
      setParams({ q: searchDraft, page: undefined });
    }, SEARCH_DEBOUNCE_MS);
    return () => {
      clearTimeout(t);
    };
  }, [searchDraft, q, setParams]);

  // --- the runs list, polled ---
  const queryKey = JSON.stringify([entity, project, q, filter, sort, page]);
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [nonce, setNonce] = useState(0);
  const liveRef = useRef(false);

  useEffect(() => {
    let last = 0;
    let first = true;
    const stop = poll(async (signal) => {
      if (!first && !liveRef.current && Date.now() - last < IDLE_MS) return;
      first = false;
      last = Date.now();
      const query = { filter, search: q, sort };
      try {
        const [list, top] = await Promise.all([
          listRuns(entity, project, { ...query, limit: PAGE_SIZE, offset: (page - 1) * PAGE_SIZE }, signal),
          page > 1 ? listRuns(entity, project, { ...query, limit: DEFAULT_VISIBLE }, signal) : Promise.resolve(null),
        ]);
        const topRuns = top === null ? list.runs.slice(0, DEFAULT_VISIBLE) : top.runs;
        liveRef.current = [...list.runs, ...topRuns].some((r) => r.state === "running");
        setLoaded({ key: queryKey, list, top: topRuns });
        setError(null);
      } catch (err) {
        if (isAbort(err)) return;
        setError(err);
        throw err;
      }
    }, LIVE_MS);
    return stop;
  }, [entity, project, q, filter, sort, page, queryKey, nonce]);

  const runs = useMemo(() => loaded?.list.runs ?? [], [loaded]);
  const total = loaded?.list.total ?? 0;
  const busy = loaded !== null && loaded.key !== queryKey;
  const filterError = error instanceof ApiError && error.status === 400 ? error.detail : null;

  // --- runs known by id (names for the charts when a shown run is on another page) ---
  const [extra, setExtra] = useState<Record<string, RunInfo>>({});
  const tried = useRef(new Set<string>());
  const known = useMemo(() => {
    const m = new Map<string, RunInfo>();
    for (const r of Object.values(extra)) m.set(r.id, r);
    for (const r of loaded?.top ?? []) m.set(r.id, r);
    for (const r of runs) m.set(r.id, r);
    return m;
  }, [extra, loaded, runs]);

  const vis: Visibility = useMemo(
    () => ({ defaults: (loaded?.top ?? []).map((r) => r.id), shown, hidden }),
    [loaded, shown, hidden],
  );
  const chartIds = useMemo(() => visibleIds(vis).slice(0, MAX_CHART_RUNS), [vis]);
  const tooMany = visibleIds(vis).length > MAX_CHART_RUNS;

  useEffect(() => {
    const missing = chartIds.filter((id) => !known.has(id) && !tried.current.has(id));
    if (missing.length === 0) return;
    for (const id of missing) tried.current.add(id);
    const controller = new AbortController();
    getRuns(entity, project, missing, controller.signal)
      .then(({ runs: found, missing: gone }) => {
        if (gone.length > 0) console.warn(`runs shown in the URL but not found: ${gone.join(", ")}`);
        setExtra((prev) => {
          const next = { ...prev };
          for (const r of found) next[r.id] = r;
          return next;
        });
      })
      .catch((err: unknown) => {
        for (const id of missing) tried.current.delete(id);
        if (!isAbort(err)) console.warn("cannot load the runs shown in the charts:", err);
      });
    return () => {
      controller.abort();
    };
  }, [chartIds, known, entity, project]);

  // distinct colours among the runs the charts show, the same in the table's swatches
  const colorOf = useMemo(() => colorsOf(chartIds), [chartIds]);
  const chartRunsNow: ChartRun[] = useMemo(
    () =>
      chartIds
        .map((id) => known.get(id))
        .filter((r): r is RunInfo => r !== undefined)
        .map((r) => ({ id: r.id, name: r.name, color: colorOf(r.id), start: r.created_at, running: r.state === "running" })),
    [chartIds, known, colorOf],
  );
  const chartRuns = useStable(chartRunsNow);
  // --- grouped runs (groupby= agg= band=): group rows in the table, group lines in the charts ---
  const grouped = useWorkspaceGrouping(entity, project, params, setParams);
  const chartGrouping = useMemo(
    () =>
      grouped.grouping === null
        ? undefined
        : chartGroupingOf(grouped.grouping, chartIds.map((id) => known.get(id)).filter((r): r is RunInfo => r !== undefined), grouped.expanded, grouped.toggle),
    [grouped.grouping, grouped.expanded, grouped.toggle, chartIds, known],
  );
  const tableGrouping = useMemo(
    () =>
      grouped.grouping === null
        ? undefined
        : { by: grouped.grouping.by, groups: groupRuns(runs, grouped.grouping.by), expanded: grouped.expanded, onToggle: grouped.toggle },
    [grouped.grouping, grouped.expanded, grouped.toggle, runs],
  );
  const chartKeysNow = useMemo(() => {
    const keys = new Set<string>();
    for (const id of chartIds) for (const k of known.get(id)?.keys ?? []) keys.add(k);
    return [...keys].sort();
  }, [chartIds, known]);
  const chartKeys = useStable(chartKeysNow);
  const chartsLive = chartIds.some((id) => known.get(id)?.state === "running");
  const anyRunning = runs.some((r) => r.state === "running") || (loaded?.top ?? []).some((r) => r.state === "running");

  const columns: ExtraColumn[] = useMemo(
    () => cols.map(parseColumn).filter((c): c is ExtraColumn => c !== null),
    [cols],
  );

  const shownSortFields = ["name", "state", "created_at", "runtime", ...columns.map((c) => c.id)];

  // --- split between table and charts ---
  const [split, setSplit] = useState(readSplit);
  const setSplitSaved = (px: number): void => {
    const v = Math.round(Math.max(280, Math.min(window.innerWidth - 320, px)));
    setSplit(v);
    try {
      localStorage.setItem(SPLIT_KEY, String(v));
    } catch {
      // not saved: fine
    }
  };
  const startDrag = (e: PointerEvent): void => {
    e.preventDefault();
    const startX = e.clientX;
    const start = split;
    const onMove = (ev: PointerEvent): void => {
      setSplitSaved(start + ev.clientX - startX);
    };
    const onUp = (): void => {
      window.removeEventListener("pointermove", onMove);
      window.removeEventListener("pointerup", onUp);
      document.body.classList.remove("dragging");
    };
    document.body.classList.add("dragging");
    window.addEventListener("pointermove", onMove);
    window.addEventListener("pointerup", onUp);
  };

  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const first = total === 0 ? 0 : (page - 1) * PAGE_SIZE + 1;
  const lastRow = Math.min(total, page * PAGE_SIZE);

  const toggleSelect = (id: string): void => {
    setParams({ runs: selected.includes(id) ? selected.filter((x) => x !== id) : [...selected, id] });
  };
  const selectAll = (select: boolean): void => {
    const ids = runs.map((r) => r.id);
    setParams({ runs: select ? [...selected, ...ids.filter((id) => !selected.includes(id))] : selected.filter((id) => !ids.includes(id)) });
  };
  const toggleEye = (id: string): void => {
    const next = toggleVisible(vis, id);
    setParams({ shown: next.shown, hidden: next.hidden });
  };

  let tableBody;
  if (loaded === null && error === null) {
    tableBody = <Loading label="Loading runs…" />;
  } else if (loaded === null && filterError === null) {
    tableBody = (
      <ErrorState
        error={error}
        onRetry={() => {
          setNonce((n) => n + 1);
        }}
        title={error instanceof ApiError && error.status === 404 ? "Project not found" : "Cannot load the runs"}
      />
    );
  } else if (runs.length === 0 && filterError === null && total > 0) {
    tableBody = (
      <Empty title={`Page ${page} is past the last page`}>
        <button
          type="button"
          class="btn btn-small"
          onClick={() => {
            setParams({ page: undefined });
          }}
        >
          Go to the first page
        </button>
      </Empty>
    );
  } else if (runs.length === 0 || filterError !== null) {
    tableBody =
      q !== "" || filter !== "" ? (
        <Empty title="No run matches">
          <button
            type="button"
            class="btn btn-small"
            onClick={() => {
              setParams({ q: undefined, filter: undefined, page: undefined });
            }}
          >
            Clear search and filter
          </button>
        </Empty>
      ) : (
        <Empty title="No runs in this project yet">
          <p>
            Runs logged with <code>fwtrack.init(project="{project}")</code> appear here live.
          </p>
        </Empty>
      );
  } else {
    tableBody = (
      <RunsTable
        entity={entity}
        project={project}
        runs={runs}
        columns={columns}
        sort={sort}
        onSort={(s) => {
          setParams({ sort: s === DEFAULT_SORT ? undefined : s, page: undefined });
        }}
        selected={selected}
        onToggleSelect={toggleSelect}
        onSelectAll={selectAll}
        isVisible={(id) => isVisible(vis, id)}
        onToggleVisible={toggleEye}
        onOpen={(id) => {
          navigate(href.run(entity, project, id));
        }}
        busy={busy}
        now={now}
        onFilterSweep={(id) => {
          setParams({ filter: `sweep = ${id}`, page: undefined });
        }}
        grouping={tableGrouping}
        colorOf={colorOf}
      />
    );
  }

  return (
    <div class="workspace" data-testid="workspace">
      <div class="workspace-header">
        <h1 class="page-title" data-testid="project-title">
          <span class="muted">{entity} /</span> {project}
        </h1>
        <ProjectNav entity={entity} project={project} current="runs" />
        <span class="muted" data-testid="run-count">
          {loaded === null ? "" : `${total.toLocaleString("en-US")} ${total === 1 ? "run" : "runs"}${q !== "" || filter !== "" ? " match" : ""}`}
        </span>
        {anyRunning && (
          <span class="live" data-testid="live-indicator" title="Runs are being written: the table and charts update every 2 s">
            <span class="pulse" aria-hidden="true" /> Live
          </span>
        )}
      </div>
      <div class="split" style={{ "--split": `${split}px` }}>
        <section class="split-left runs-pane" aria-label="Runs">
          <div class="runs-toolbar">
            <input
              class="input input-small search"
              type="search"
              placeholder="Search name or id…"
              aria-label="Search runs by name or id"
              value={searchDraft}
              onInput={(e) => {
                setSearchDraft(e.currentTarget.value);
              }}
              data-testid="runs-search"
            />
            <ColumnPicker
              load={() => runFields(entity, project, runs)}
              columns={cols}
              onChange={(c) => {
                setParams({ cols: c });
              }}
            />
            <GroupByControl load={() => runFields(entity, project, runs)} grouping={grouped.grouping} onChange={grouped.setGrouping} />
            <button
              type="button"
              class="btn btn-primary btn-small"
              disabled={selected.length < 2}
              title={selected.length < 2 ? "Select two or more runs to compare them" : `Compare ${selected.length} runs`}
              onClick={() => {
                navigate(href.compare(entity, project, selected));
              }}
              data-testid="compare-button"
            >
              Compare{selected.length > 0 ? ` (${selected.length})` : ""}
            </button>
            {selected.length > 0 && (
              <button
                type="button"
                class="btn btn-ghost btn-small"
                onClick={() => {
                  setParams({ runs: undefined });
                }}
              >
                Clear selection
              </button>
            )}
          </div>
          <BulkActions
            entity={entity}
            project={project}
            selected={selected}
            runs={runs}
            viewer={viewer}
            onDone={() => {
              setParams({ runs: undefined });
              setNonce((n) => n + 1);
            }}
          />
          <form
            class="filter-row"
            onSubmit={(e) => {
              e.preventDefault();
              setParams({ filter: filterDraft.trim(), page: undefined });
            }}
          >
            <input
              class={filterError !== null ? "input input-small mono filter invalid" : "input input-small mono filter"}
              type="text"
              spellcheck={false}
              placeholder="Filter: config.lr > 0.001 and state = running"
              aria-label="Filter expression"
              aria-invalid={filterError !== null}
              aria-describedby={filterError !== null ? "filter-error" : undefined}
              value={filterDraft}
              onInput={(e) => {
                setFilterDraft(e.currentTarget.value);
              }}
              data-testid="runs-filter"
            />
            <button type="submit" class="btn btn-small">
              Apply
            </button>
            {filter !== "" && (
              <button
                type="button"
                class="btn btn-ghost btn-small"
                onClick={() => {
                  setParams({ filter: undefined, page: undefined });
                }}
              >
                Clear
              </button>
            )}
          </form>
          {!shownSortFields.includes(sort.replace(/^-/, "")) && (
            <div class="sort-note" data-testid="sort-note">
              Sorted by <code>{sort.replace(/^-/, "")}</code> {sort.startsWith("-") ? "descending" : "ascending"}
              <button
                type="button"
                class="btn btn-ghost btn-small"
                onClick={() => {
                  setParams({ sort: undefined, page: undefined });
                }}
              >
                Reset sort
              </button>
            </div>
          )}
          {filterError !== null && (
            <div id="filter-error" class="field-error" role="alert" data-testid="filter-error">
              {filterError}
            </div>
          )}
          <div class="runs-body">{tableBody}</div>
          {loaded !== null && total > 0 && runs.length > 0 && (
            <nav class="pager" aria-label="Pages of runs" data-testid="pager">
              <span class="muted" data-testid="pager-range">
                {first.toLocaleString("en-US")}–{lastRow.toLocaleString("en-US")} of {total.toLocaleString("en-US")}
              </span>
              <button
                type="button"
                class="btn btn-small"
                disabled={page <= 1}
                aria-label="Previous page"
                onClick={() => {
                  setParams({ page: page - 1 <= 1 ? undefined : String(page - 1) });
                }}
                data-testid="pager-prev"
              >
                ‹ Prev
              </button>
              <span class="pager-page">
                Page {page} of {pages}
              </span>
              <button
                type="button"
                class="btn btn-small"
                disabled={page >= pages}
                aria-label="Next page"
                onClick={() => {
                  setParams({ page: String(page + 1) });
                }}
                data-testid="pager-next"
              >
                Next ›
              </button>
            </nav>
          )}
        </section>
        <div
          class="split-handle"
          role="separator"
          aria-orientation="vertical"
          aria-label="Resize the runs table"
          aria-valuenow={split}
          aria-valuemin={280}
          tabIndex={0}
          onPointerDown={startDrag}
          onKeyDown={(e) => {
            if (e.key === "ArrowLeft" || e.key === "ArrowRight") {
              e.preventDefault();
              setSplitSaved(split + (e.key === "ArrowLeft" ? -40 : 40));
            }
          }}
        />
        <section class="split-right charts-pane" aria-label="Charts">
          {tooMany && (
            <div class="notice" role="status">
              The charts show the first {MAX_CHART_RUNS} visible runs.
            </div>
          )}
          {loaded !== null && chartRuns.length === 0 ? (
            <Empty title={runs.length === 0 ? "No runs to chart" : "Every run is hidden"}>
              {runs.length > 0 && <p>Use the eye of a run to show it in the charts.</p>}
            </Empty>
          ) : (
            <PanelGrid entity={entity} project={project} runs={chartRuns} keys={chartKeys} live={chartsLive} layoutScope="project"
              readOnly={viewer !== null && !canWrite(viewer, entity)}
              grouping={chartGrouping}
              panelActions={
                canEditReports(viewer, entity)
                  ? (panel, options) => (
                      <AddToReport
                        entity={entity}
                        project={project}
                        panel={{ key: panel.key, options }}
                        view={() => ({ filter, sort, selected, group: grouped.grouping })}
                      />
                    )
                  : undefined
              }
            />
          )}
          {chartRuns.length > 0 && (
            <SystemSection
              entity={entity}
              project={project}
              runs={chartRuns}
              live={chartsLive}
              expanded={params.system === "1"}
              onToggle={() => {
                setParams({ system: params.system === "1" ? undefined : "1" });
              }}
            />
          )}
        </section>
      </div>
    </div>
  );
}
