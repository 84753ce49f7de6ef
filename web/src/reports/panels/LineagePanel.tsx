// The lineage panel: the artifact page's lineage graph of `<name>:<version or alias>` in the
// report's project (an alias is resolved to its version first, so the graph marks it).

import { useState } from "preact/hooks";
import { getVersion } from "../../api/artifacts";
import { errorMessage } from "../../components/states";
import { useAsync } from "../../lib/hooks";
import { LineageGraph } from "../../pages/artifacts/LineageGraph";
import { PanelFrame, TitleField } from "./common";
import type { LineageBlock, ReportRef } from "./types";

/** `name:ref` split at its last colon (`ref` defaults to `latest`). Pure. */
export function parseArtifactRef(s: string): { name: string; ref: string } {
  const i = s.lastIndexOf(":");
  if (i <= 0) return { name: s.trim(), ref: "latest" };
  return { name: s.slice(0, i).trim(), ref: s.slice(i + 1).trim() || "latest" };
}

export function LineagePanel({ block, report, editing, onChange }: { block: LineageBlock; report: ReportRef; editing: boolean; onChange: (b: LineageBlock) => void }) {
  const { name, ref } = parseArtifactRef(block.artifact);
  const [depth, setDepth] = useState(2);
  const [draft, setDraft] = useState(block.artifact);
  const version = useAsync((signal) => getVersion(report.entity, report.project, name, ref, signal), [report.entity, report.project, name, ref]);
  const set = (patch: Partial<LineageBlock>): void => { onChange({ ...block, ...patch }); };
  const editor = editing ? (
    <div class="rp-form" data-testid="lineage-editor">
      <TitleField value={block.title} onChange={(t) => { set({ title: t }); }} />
      <label class="rp-field">
        Artifact (name:version or alias)
        <input
          class="input input-small mono"
          value={draft}
          data-testid="lineage-artifact"
          onInput={(e) => { setDraft(e.currentTarget.value); }}
          onBlur={() => { if (draft.trim() !== "" && draft !== block.artifact) set({ artifact: draft.trim() }); }}
          onKeyDown={(e) => {
            if (e.key === "Enter" && draft.trim() !== "") {
              e.preventDefault();
              set({ artifact: draft.trim() });
            }
          }}
        />
      </label>
    </div>
  ) : undefined;
  const resolved = version.data?.version ?? null;
  const state = version.error !== null ? "error" : resolved === null ? "loading" : "ready";
  return (
    <PanelFrame
      type="lineage"
      title={block.title ?? block.artifact}
      state={state}
      error={version.error === null ? null : `Cannot find artifact ${block.artifact}: ${errorMessage(version.error)}`}
      editor={editor}
      attrs={{ "data-artifact": block.artifact, "data-version": resolved ?? "" }}
    >
      {resolved !== null && <LineageGraph entity={report.entity} project={report.project} name={name} version={resolved} depth={depth} onDepth={setDepth} />}
    </PanelFrame>
  );
}
