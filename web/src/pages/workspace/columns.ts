// The runs table's optional columns: `config.<path>` and `summary.<key>` field ids.

import type { Json, RunInfo } from "../../api/types";
import { getPath } from "../../lib/flatten";

export interface ExtraColumn {
  /** The field id, also the server's sort/filter field: `config.model.layers`, `summary.train/loss`. */
  id: string;
  source: "config" | "summary";
  /** The key inside the source object. */
  key: string;
}

/** The column of a field id, or null when it is neither `config.*` nor `summary.*`. */
export function parseColumn(id: string): ExtraColumn | null {
  for (const source of ["config", "summary"] as const) {
    const prefix = `${source}.`;
    if (id.startsWith(prefix) && id.length > prefix.length) return { id, source, key: id.slice(prefix.length) };
  }
  return null;
}

/** The value of a column in a run. */
export function columnValue(run: RunInfo, col: ExtraColumn): Json | undefined {
  const obj = col.source === "config" ? run.config : run.summary;
  return getPath(obj, col.key);
}
