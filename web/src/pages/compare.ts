// Rows of the comparison tables: one per flattened key, with whether the runs differ.

import type { Json } from "../api/types";
import { flatten, jsonEqual } from "../lib/flatten";

export interface CompareRow {
  key: string;
  /** One value per run (undefined: the run has no such key). */
  values: (Json | undefined)[];
  differs: boolean;
}

/** The union of the flattened keys of `objects` (in first-seen order), one row each. */
export function compareRows(objects: readonly Record<string, Json>[]): CompareRow[] {
  const maps = objects.map((o) => new Map(flatten(o)));
  const keys: string[] = [];
  const seen = new Set<string>();
  for (const m of maps) {
    for (const k of m.keys()) {
      if (!seen.has(k)) {
        seen.add(k);
        keys.push(k);
      }
    }
  }
  return keys.map((key) => {
    const values = maps.map((m) => m.get(key));
    const first = values[0];
    const differs = values.some((v) => !jsonEqual(v, first));
    return { key, values, differs };
  });
}
