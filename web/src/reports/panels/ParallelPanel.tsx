// The parallel coordinates panel: the sweep page's ParallelCoords over the run set, one axis per
// config/summary column, lines coloured by the `color` column (drawn as the coloured axis).

import { useState } from "preact/hooks";
import type { Json } from "../../api/types";
import { ParallelCoords } from "../../pages/sweeps/ParallelCoords";
import { buildAxis, METRIC_AXIS, type Axis, type Brush, type PcRow } from "../../pages/sweeps/parallel";
import { fieldChoices, fieldOf, KeyChecks, KeySelect, PanelFrame, RunSetField, TitleField, useRunSet } from "./common";
import type { ParallelBlock, ReportRef } from "./types";
import type { RunInfo } from "../../api/types";

/** The axes and rows of a parallel block over `runs` (the colour column is the `@metric` axis). Pure. */
export function parallelData(block: ParallelBlock, runs: readonly RunInfo[]): { axes: Axis[]; rows: PcRow[] } {
  const color = block.color ?? "";
  const cols = color !== "" && !block.columns.includes(color) ? [...block.columns, color] : block.columns;
  const value = (r: RunInfo, c: string): Json | undefined => fieldOf(r, c) as Json | undefined;
  const rows: PcRow[] = runs.map((r, i) => {
    const values: Record<string, Json | undefined> = {};
    for (const c of cols) values[c === color ? METRIC_AXIS : c] = value(r, c);
    return { id: i, values };
  });
  const axes = cols.map((c) => buildAxis(c === color ? METRIC_AXIS : c, c, runs.map((r) => value(r, c))));
  return { axes, rows };
}

export function ParallelPanel({ block, report, editing, onChange }: { block: ParallelBlock; report: ReportRef; editing: boolean; onChange: (b: ParallelBlock) => void }) {
  const rs = useRunSet(report, block.runs);
  const [brushes, setBrushes] = useState<Brush[]>([]);
  const { axes, rows } = parallelData(block, rs.runs);
  const choices = fieldChoices(rs.keys);
  const set = (patch: Partial<ParallelBlock>): void => { onChange({ ...block, ...patch }); };
  const editor = editing ? (
    <div class="rp-form" data-testid="parallel-editor">
      <TitleField value={block.title} onChange={(t) => { set({ title: t }); }} />
      <RunSetField value={block.runs} onChange={(runs) => { set({ runs }); }} />
      <KeyChecks label="Columns (two or more)" value={block.columns} keys={choices} testid="parallel-columns" onChange={(columns) => { if (columns.length >= 2) set({ columns }); }} />
      <KeySelect label="Colour by" value={block.color ?? ""} keys={choices} testid="parallel-color" onChange={(color) => { set({ color }); }} />
    </div>
  ) : undefined;
  return (
    <PanelFrame
      type="parallel"
      title={block.title ?? "Parallel coordinates"}
      runs={block.runs}
      state={rs.state === "ready" && rs.runs.length === 0 ? "empty" : rs.state}
      error={rs.error}
      editor={editor}
      attrs={{ "data-runs": rs.runs.map((r) => r.id).join(","), "data-columns": block.columns.join(","), "data-color": block.color ?? "" }}
    >
      {rs.runs.length > 0 && <ParallelCoords axes={axes} rows={rows} brushes={brushes} onBrushes={setBrushes} goal="maximize" />}
      {rs.state === "ready" && rs.runs.length === 0 && <div class="report-panel-note muted">No runs match this run set.</div>}
    </PanelFrame>
  );
}
