// Parameter importance as W&B shows it: a row per parameter, most important first, a bar of its
// importance (scaled to the largest) and a bar of its correlation with the metric (left of the
// middle when negative). Pure.

import type { Importance } from "../../api/sweeps";

export interface ImportanceBar {
  name: string;
  importance: number | null;
  correlation: number | null;
  /** Width of the importance bar, 0..1 of the column (the most important parameter fills it). */
  importanceWidth: number;
  /** Where the correlation bar starts and how wide it is, as fractions of the column (0.5 = no correlation). */
  correlationLeft: number;
  correlationWidth: number;
}

/** The rows of the importance table, most important first (unknown importance last, by name). */
export function importanceBars(imp: Importance): ImportanceBar[] {
  const max = Math.max(0, ...imp.params.map((p) => p.importance ?? 0));
  const rows = imp.params.map((p): ImportanceBar => {
    const c = p.correlation === null ? 0 : Math.max(-1, Math.min(1, p.correlation));
    return {
      name: p.name,
      importance: p.importance,
      correlation: p.correlation,
      importanceWidth: p.importance === null || max <= 0 ? 0 : Math.max(0, p.importance) / max,
      correlationLeft: c < 0 ? 0.5 + c / 2 : 0.5,
      correlationWidth: Math.abs(c) / 2,
    };
  });
  return rows.sort((a, b) => {
    if (a.importance === null && b.importance === null) return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
    if (a.importance === null) return 1;
    if (b.importance === null) return -1;
    return b.importance - a.importance || (a.name < b.name ? -1 : 1);
  });
}
