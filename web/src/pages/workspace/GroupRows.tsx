// The runs table's group rows (the workspace's "Group by"): one row per group, with its colour,
// name, run count, the mean duration and the aggregate of each shown column (the common value
// when the group's runs agree, else the mean of the numeric values); its button expands the
// group to its runs' rows, which follow it.

import type { VNode } from "preact";
import type { Json, RunInfo } from "../../api/types";
import { formatDuration, formatNumber, formatValue } from "../../lib/format";
import { columnValue, type ExtraColumn } from "./columns";
import type { TableGrouping } from "./grouping";

/** The runs the table shows as rows: those of the expanded groups, in group order. */
export function expandedRuns(g: TableGrouping): RunInfo[] {
  return g.groups.flatMap((x) => (g.expanded.has(x.key) ? x.runs : []));
}

/** A group's aggregate of one column: the common value, else the mean of the numbers, else "". */
export function aggregateCell(values: readonly (Json | undefined)[]): string {
  const present = values.filter((v) => v !== undefined && v !== null);
  if (present.length === 0) return "";
  const first = JSON.stringify(present[0]);
  if (present.length === values.length && present.every((v) => JSON.stringify(v) === first)) return formatValue(present[0]);
  const nums = present.filter((v): v is number => typeof v === "number" && Number.isFinite(v));
  if (nums.length === 0) return "";
  return `${formatNumber(nums.reduce((a, b) => a + b, 0) / nums.length)} (mean)`;
}

/**
 * The table body's rows: without grouping, `render` of each run; with it, each group's row
 * followed (when expanded) by `render` of its runs. `i` counts the run rows only.
 */
export function groupedRows(
  g: TableGrouping | undefined,
  runs: readonly RunInfo[],
  layout: { lead: number; withSweep: boolean; columns: readonly ExtraColumn[] },
  render: (run: RunInfo, i: number) => VNode,
): VNode[] {
  if (g === undefined) return runs.map(render);
  const out: VNode[] = [];
  let i = 0;
  for (const group of g.groups) {
    const open = g.expanded.has(group.key);
    const runtimes = group.runs.map((r) => r.runtime).filter((v) => Number.isFinite(v));
    out.push(
      <tr key={`group:${group.key}`} class="group-row" data-testid="group-row" data-group={group.key} data-count={group.runs.length} data-expanded={open ? "true" : "false"}>
        {layout.lead > 0 && <td colSpan={layout.lead} />}
        <td class="col-name">
          <button
            type="button"
            class="btn btn-ghost btn-small group-toggle"
            aria-expanded={open}
            aria-label={`${open ? "Collapse" : "Expand"} group ${group.name} (${group.runs.length} runs)`}
            onClick={() => { g.onToggle(group.key); }}
            data-testid="group-toggle"
          >
            <span class={open ? "pg-caret pg-caret-open" : "pg-caret"} aria-hidden="true">
              ▸
            </span>
            <span class="swatch" style={{ background: group.color, borderColor: group.color }} data-testid="group-color" data-color={group.color} />
            <span data-testid="group-name">{group.name}</span>
          </button>
          <span class="muted group-count" data-testid="group-count">
            {group.runs.length} {group.runs.length === 1 ? "run" : "runs"}
          </span>
        </td>
        <td />
        <td />
        {layout.withSweep && <td />}
        <td />
        <td class="nowrap num" data-testid="group-duration">
          {runtimes.length === 0 ? "" : formatDuration(runtimes.reduce((a, b) => a + b, 0) / runtimes.length)}
        </td>
        {layout.columns.map((c) => (
          <td key={c.id} class="mono num col-extra" data-field={c.id}>
            {aggregateCell(group.runs.map((r) => columnValue(r, c)))}
          </td>
        ))}
      </tr>,
    );
    if (open) for (const run of group.runs) out.push(render(run, i++));
  }
  return out;
}
