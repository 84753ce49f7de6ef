// A report's live panel blocks: `PanelBlock` draws a block of any panel type (line, runs_table,
// parallel, media, histogram, scalar, lineage, compare) over its run set and, while `editing`,
// its inline config form; every change is handed to `onChange` as a new block.

import { ErrorBoundary } from "../../components/ErrorBoundary";
import { ComparePanel } from "./ComparePanel";
import { HistogramPanel } from "./HistogramPanel";
import { LineagePanel } from "./LineagePanel";
import { LinePanel } from "./LinePanel";
import { MediaPanel } from "./MediaPanel";
import { ParallelPanel } from "./ParallelPanel";
import { RunsTablePanel } from "./RunsTablePanel";
import { ScalarPanel } from "./ScalarPanel";
import type { PanelBlockData, ReportRef } from "./types";
import "./panels.css";

export type { PanelBlockData, PanelBlockType, ReportRef, RunSet, Grouping } from "./types";
export { isPanelBlock, PANEL_TYPES } from "./types";
export { blockFromWorkspacePanel, runSetFromView, type WorkspacePanel, type WorkspaceView } from "./fromWorkspace";

export interface PanelBlockProps {
  block: PanelBlockData;
  report: ReportRef;
  editing: boolean;
  onChange: (block: PanelBlockData) => void;
}

function Panel({ block, report, editing, onChange }: PanelBlockProps) {
  switch (block.type) {
    case "line":
      return <LinePanel block={block} report={report} editing={editing} onChange={onChange} />;
    case "runs_table":
      return <RunsTablePanel block={block} report={report} editing={editing} onChange={onChange} />;
    case "parallel":
      return <ParallelPanel block={block} report={report} editing={editing} onChange={onChange} />;
    case "media":
      return <MediaPanel block={block} report={report} editing={editing} onChange={onChange} />;
    case "histogram":
      return <HistogramPanel block={block} report={report} editing={editing} onChange={onChange} />;
    case "scalar":
      return <ScalarPanel block={block} report={report} editing={editing} onChange={onChange} />;
    case "lineage":
      return <LineagePanel block={block} report={report} editing={editing} onChange={onChange} />;
    case "compare":
      return <ComparePanel block={block} report={report} editing={editing} onChange={onChange} />;
  }
}

/** One panel block of a report (see the module comment). */
export function PanelBlock(props: PanelBlockProps) {
  return (
    <div class="report-panel-wrap" data-testid="panel-block" data-block-id={props.block.id} data-block-type={props.block.type} data-editing={props.editing ? "true" : "false"}>
      <ErrorBoundary resetKey={JSON.stringify(props.block)}>
        <Panel {...props} />
      </ErrorBoundary>
    </div>
  );
}
