// The panel blocks of a report document (docs/reports.md, "Document"): run sets, grouping and
// one interface per panel type, as the server validates them. The report editor's doc.ts adds
// the markdown and image blocks and builds its Block union from `PanelBlockData`.

/**
 * The runs a panel shows: a saved filter (`{"filter": ...}`, live) or an explicit list of run ids
 * (`{"ids": [...]}`); exactly one of the two.
 */
export interface RunSet {
  filter?: string;
  ids?: string[];
  /** At most 500; default 50. */
  limit?: number;
  /** A runs-list sort field, `-` for descending; default `-created_at`. */
  sort?: string;
  /** A frozen report keeps the filter its ids were resolved from here. */
  frozen_from?: string;
}

/** How runs are grouped: by a config key, `group` or `job_type`. */
export interface Grouping {
  by: string;
  agg: "mean" | "median";
  band: "minmax" | "std" | "none";
}

/** Fields every block has: its id (made by the client), its type and the server-set revision. */
export interface BlockBase {
  id: string;
  type: string;
  /** The report version that last changed this block (set by the server). */
  rev?: number;
  title?: string;
}

export interface LineBlock extends BlockBase {
  type: "line";
  runs: RunSet;
  /** The metrics drawn (at least one). */
  y: string[];
  /** `_step` | `_runtime` | `_timestamp` | a metric key; default `_step`. */
  x?: string;
  /** EMA weight 0..0.999, as the workspace smooths. */
  smoothing?: number;
  log_y?: boolean;
  group?: Grouping | null;
}

export interface RunsTableBlock extends BlockBase {
  type: "runs_table";
  runs: RunSet;
  /** `name`, `state`, `created_at`, `config.<k>`, `summary.<k>`, ... */
  columns?: string[];
  sort?: string;
}

export interface ParallelBlock extends BlockBase {
  type: "parallel";
  runs: RunSet;
  /** `config.<k>` / `summary.<k>` columns, at least two. */
  columns: string[];
  /** The column that colours the lines. */
  color?: string;
}

export interface MediaBlock extends BlockBase {
  type: "media";
  runs: RunSet;
  key: string;
  /** null: the last step. */
  step?: number | null;
}

export interface HistogramBlock extends BlockBase {
  type: "histogram";
  runs: RunSet;
  key: string;
  /** null: every step. */
  step?: number | null;
}

export type ScalarAgg = "mean" | "min" | "max" | "last";

export interface ScalarBlock extends BlockBase {
  type: "scalar";
  runs: RunSet;
  /** `summary.<k>` or `config.<k>`. */
  key: string;
  style?: "bar" | "number";
  agg?: ScalarAgg;
  group?: Grouping | null;
}

export interface LineageBlock extends BlockBase {
  type: "lineage";
  /** `<name>:<version or alias>` in the report's project. */
  artifact: string;
}

export interface CompareBlock extends BlockBase {
  type: "compare";
  runs: RunSet;
  /** Only the rows where the runs differ (default true). */
  diff_only?: boolean;
}

/** Every live panel block. */
export type PanelBlockData =
  | LineBlock
  | RunsTableBlock
  | ParallelBlock
  | MediaBlock
  | HistogramBlock
  | ScalarBlock
  | LineageBlock
  | CompareBlock;

export type PanelBlockType = PanelBlockData["type"];

export const PANEL_TYPES: readonly PanelBlockType[] = ["line", "runs_table", "parallel", "media", "histogram", "scalar", "lineage", "compare"];

/** Whether a block of a report is one of the panel blocks (markdown and image blocks are not). */
export function isPanelBlock(block: { type: string }): block is PanelBlockData {
  return (PANEL_TYPES as readonly string[]).includes(block.type);
}

/** The report a panel lives in: frozen reports read histories up to `frozen_at`. */
export interface ReportRef {
  entity: string;
  project: string;
  frozen_at: number | null;
}
