// "Add to report" from a workspace panel: the panel (its metric and chart options) and the
// workspace's view (its filter, or the runs selected in the runs table) become a report Block.
// Pure: tested without a browser.

import { isMetricAxis } from "../../charts/align";
import { DEFAULT_OPTIONS, type ChartOptions } from "../../charts/layout";
import { DEFAULT_RUNSET_LIMIT, DEFAULT_RUNSET_SORT, MAX_RUNSET_LIMIT } from "../runset";
import type { Grouping, HistogramBlock, LineBlock, MediaBlock, PanelBlockData, RunSet } from "./types";

/** A workspace panel: a metric chart (PanelGrid's `PanelSpec` with its options), a histogram or a media key. */
export interface WorkspacePanel {
  /** The metric (or histogram / media) key. */
  key: string;
  /** The chart's options; pass `panelOptions(layout, defaults, panel)` (missing ones: the defaults). */
  options?: Partial<ChartOptions>;
  /** Default `line`. */
  kind?: "line" | "histogram" | "media";
}

/** What the workspace shows now (its URL: `filter`, `sort`, `runs` = the selected runs). */
export interface WorkspaceView {
  filter: string;
  sort?: string;
  /** Runs selected in the runs table: when any, the block shows exactly these runs. */
  selected?: readonly string[];
  /** The workspace's grouping (group by), when it has one. */
  group?: Grouping | null;
}

const ID_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789";

/** A new block id (`[A-Za-z0-9_-]{1,64}`, as the document requires). */
export function newBlockId(random: () => number = Math.random): string {
  let s = "b";
  for (let i = 0; i < 11; i++) s += ID_CHARS[Math.floor(random() * ID_CHARS.length)] ?? "0";
  return s;
}

/** The run set of a workspace view: its selected runs when any, else its filter (live). */
export function runSetFromView(view: WorkspaceView): RunSet {
  const sort = view.sort === undefined || view.sort === "" || view.sort === DEFAULT_RUNSET_SORT ? undefined : view.sort;
  const selected = view.selected ?? [];
  if (selected.length > 0) {
    const ids = [...new Set(selected)].slice(0, MAX_RUNSET_LIMIT);
    const rs: RunSet = { ids };
    if (ids.length > DEFAULT_RUNSET_LIMIT) rs.limit = ids.length;
    if (sort !== undefined) rs.sort = sort;
    return rs;
  }
  const rs: RunSet = { filter: view.filter.trim() };
  if (sort !== undefined) rs.sort = sort;
  return rs;
}

/** The Block of a workspace panel shown with the workspace's `view` (see the module comment). */
export function blockFromWorkspacePanel(panel: WorkspacePanel, view: WorkspaceView, id: string = newBlockId()): PanelBlockData {
  const runs = runSetFromView(view);
  const kind = panel.kind ?? "line";
  if (kind === "histogram") {
    const block: HistogramBlock = { id, type: "histogram", runs, key: panel.key, step: null, title: panel.key };
    return block;
  }
  if (kind === "media") {
    const block: MediaBlock = { id, type: "media", runs, key: panel.key, step: null, title: panel.key };
    return block;
  }
  const o: ChartOptions = { ...DEFAULT_OPTIONS, ...(panel.options ?? {}) };
  const block: LineBlock = {
    id,
    type: "line",
    runs,
    y: [panel.key],
    x: o.x,
    smoothing: Math.min(0.999, Math.max(0, o.smoothing)),
    log_y: o.log,
    title: isMetricAxis(o.x) ? `${panel.key} vs ${o.x}` : panel.key,
    group: view.group ?? null,
  };
  return block;
}
