// The runs table panel: the workspace's RunsTable (read-only: no select or eye columns) over the
// run set, with the block's config/summary columns and sort (the server sorts).

import { useState } from "preact/hooks";
import { useNow } from "../../lib/hooks";
import { href, navigate } from "../../lib/route";
import { parseColumn, type ExtraColumn } from "../../pages/workspace/columns";
import { RunsTable } from "../../pages/workspace/RunsTable";
import { fieldChoices, KeyChecks, PanelFrame, RunSetField, TitleField, useRunSet } from "./common";
import type { ReportRef, RunsTableBlock } from "./types";

export function RunsTablePanel({ block, report, editing, onChange }: { block: RunsTableBlock; report: ReportRef; editing: boolean; onChange: (b: RunsTableBlock) => void }) {
  const [viewSort, setViewSort] = useState<string | null>(null);
  const sort = viewSort ?? block.sort ?? block.runs.sort ?? "-created_at";
  const rs = useRunSet(report, { ...block.runs, sort });
  const now = useNow(30_000);
  const columns = (block.columns ?? []).map(parseColumn).filter((c): c is ExtraColumn => c !== null);
  const set = (patch: Partial<RunsTableBlock>): void => { onChange({ ...block, ...patch }); };
  const editor = editing ? (
    <div class="rp-form" data-testid="runs-table-editor">
      <TitleField value={block.title} onChange={(t) => { set({ title: t }); }} />
      <RunSetField value={block.runs} onChange={(runs) => { set({ runs }); }} />
      <KeyChecks label="Columns" value={columns.map((c) => c.id)} keys={fieldChoices(rs.keys)} testid="table-columns" onChange={(cols) => { set({ columns: cols }); }} />
    </div>
  ) : undefined;
  return (
    <PanelFrame
      type="runs_table"
      title={block.title ?? "Runs"}
      runs={block.runs}
      state={rs.state === "ready" && rs.runs.length === 0 ? "empty" : rs.state}
      error={rs.error}
      editor={editor}
      attrs={{ "data-runs": rs.runs.map((r) => r.id).join(","), "data-total": rs.total, "data-sort": sort }}
    >
      {rs.runs.length > 0 && (
        <RunsTable
          entity={report.entity}
          project={report.project}
          runs={rs.runs}
          columns={columns}
          sort={sort}
          onSort={(s) => {
            if (editing) {
              setViewSort(null);
              set({ sort: s });
            } else setViewSort(s);
          }}
          selected={[]}
          onToggleSelect={() => undefined}
          onSelectAll={() => undefined}
          isVisible={() => true}
          onToggleVisible={() => undefined}
          onOpen={(id) => {
            navigate(href.run(report.entity, report.project, id));
          }}
          busy={rs.state === "loading"}
          now={now}
          controls={false}
        />
      )}
      {rs.state === "ready" && rs.runs.length === 0 && <div class="report-panel-note muted">No runs match this run set.</div>}
    </PanelFrame>
  );
}
