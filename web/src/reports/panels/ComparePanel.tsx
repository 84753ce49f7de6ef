// The compare panel: the Compare page's tables (config and summary, one row per flattened key)
// over the run set, only the keys where the runs differ unless `diff_only` is false.

import type { Json, RunInfo } from "../../api/types";
import { CompareTable } from "../../pages/Compare";
import { PanelFrame, RunSetField, TitleField, useRunSet } from "./common";
import type { CompareBlock, ReportRef } from "./types";

const pickConfig = (r: RunInfo): Record<string, Json> => r.config;
const pickSummary = (r: RunInfo): Record<string, Json> => r.summary;

export function ComparePanel({ block, report, editing, onChange }: { block: CompareBlock; report: ReportRef; editing: boolean; onChange: (b: CompareBlock) => void }) {
  const rs = useRunSet(report, block.runs);
  const diffOnly = block.diff_only !== false;
  const set = (patch: Partial<CompareBlock>): void => { onChange({ ...block, ...patch }); };
  const editor = editing ? (
    <div class="rp-form" data-testid="compare-editor">
      <TitleField value={block.title} onChange={(t) => { set({ title: t }); }} />
      <RunSetField value={block.runs} onChange={(r) => { set({ runs: r }); }} />
      <label class="rp-field">
        <input type="checkbox" checked={diffOnly} data-testid="compare-diff-only" onChange={(e) => { set({ diff_only: e.currentTarget.checked }); }} />
        Only keys that differ
      </label>
    </div>
  ) : undefined;
  return (
    <PanelFrame
      type="compare"
      title={block.title ?? "Run comparison"}
      runs={block.runs}
      state={rs.state === "ready" && rs.runs.length === 0 ? "empty" : rs.state}
      error={rs.error}
      editor={editor}
      attrs={{ "data-runs": rs.runs.map((r) => r.id).join(","), "data-diff-only": diffOnly ? "true" : "false" }}
    >
      {rs.runs.length > 0 && (
        <div class="compare-tables">
          <CompareTable title="Config" runs={rs.runs} pick={pickConfig} onlyDiff={diffOnly} q="" testid="compare-config" />
          <CompareTable title="Summary" runs={rs.runs} pick={pickSummary} onlyDiff={diffOnly} q="" testid="compare-summary" />
        </div>
      )}
    </PanelFrame>
  );
}
