// The histogram panel: the run page's HistogramView (a heatmap of the histograms over steps) for
// each run of the run set, up to `step` when one is chosen.

import { histogramKeys } from "../../api/histograms";
import { HistogramView } from "../../charts/HistogramView";
import { KeySelect, PanelFrame, RunSetField, StepField, TitleField, useEditorKeys, useRunSet } from "./common";
import type { HistogramBlock, ReportRef } from "./types";

/** Runs drawn at most (one heatmap each). */
export const MAX_HISTOGRAM_RUNS = 6;

export function HistogramPanel({ block, report, editing, onChange }: { block: HistogramBlock; report: ReportRef; editing: boolean; onChange: (b: HistogramBlock) => void }) {
  const rs = useRunSet(report, block.runs);
  const runs = rs.runs.slice(0, MAX_HISTOGRAM_RUNS);
  const keys = useEditorKeys(editing, runs[0], histogramKeys);
  const set = (patch: Partial<HistogramBlock>): void => { onChange({ ...block, ...patch }); };
  const editor = editing ? (
    <div class="rp-form" data-testid="histogram-editor">
      <TitleField value={block.title} onChange={(t) => { set({ title: t }); }} />
      <RunSetField value={block.runs} onChange={(r) => { set({ runs: r }); }} />
      <KeySelect label="Histogram key" value={block.key} keys={keys} testid="histogram-key" onChange={(key) => { set({ key }); }} />
      <StepField label="Up to step (empty: every step)" value={block.step} testid="histogram-step" onChange={(step) => { set({ step }); }} />
    </div>
  ) : undefined;
  return (
    <PanelFrame
      type="histogram"
      title={block.title ?? block.key}
      runs={block.runs}
      state={rs.state === "ready" && rs.runs.length === 0 ? "empty" : rs.state}
      error={rs.error}
      editor={editor}
      attrs={{ "data-runs": runs.map((r) => r.id).join(","), "data-key": block.key, "data-step": block.step ?? "" }}
    >
      {runs.map((r) => (
        <div key={r.id} class="rp-hist" data-testid="histogram-panel-run" data-run-id={r.id}>
          <div class="rp-hist-run muted">{r.name}</div>
          <HistogramView entity={r.entity} project={r.project} run={r.id} histKey={block.key} maxStep={block.step ?? null} />
        </div>
      ))}
      {rs.runs.length > MAX_HISTOGRAM_RUNS && <div class="report-panel-note muted">The first {MAX_HISTOGRAM_RUNS} of {rs.runs.length} runs.</div>}
    </PanelFrame>
  );
}
