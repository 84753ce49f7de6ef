// The media panel: for each run of the run set, the value logged under `key` at `step` (the last
// at or before it; null = the last one), drawn by the run page's MediaElement. A frozen report
// shows only media logged up to its `frozen_at`.

import { useEffect, useState } from "preact/hooks";
import { isAbort } from "../../api/client";
import { mediaItems, mediaKeys } from "../../api/media";
import type { MediaItem, RunInfo } from "../../api/types";
import { errorMessage } from "../../components/states";
import { itemIndexForStep, mediaView } from "../../pages/run/media";
import { MediaElement } from "../../pages/run/MediaView";
import { KeySelect, PanelFrame, RunSetField, StepField, TitleField, useEditorKeys, useRunSet } from "./common";
import type { MediaBlock, ReportRef } from "./types";

async function runMediaKeys(run: RunInfo, signal: AbortSignal): Promise<string[]> {
  return (await mediaKeys(run.entity, run.project, run.id, signal)).map((k) => k.key);
}

/** Runs shown side by side at most. */
export const MAX_MEDIA_RUNS = 12;

/** The item of `items` to show for `step` (null: the last), among those logged up to `until`. Pure. */
export function pickMedia(items: readonly MediaItem[], step: number | null, until: number | null): MediaItem | null {
  const kept = until === null ? items : items.filter((it) => it.ts <= until);
  if (kept.length === 0) return null;
  if (step === null) return kept[kept.length - 1] ?? null;
  return kept[itemIndexForStep(kept.map((it) => it.step), step)] ?? null;
}

function RunMedia({ run, block, until }: { run: RunInfo; block: MediaBlock; until: number | null }) {
  const [items, setItems] = useState<MediaItem[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const ctrl = new AbortController();
    setError(null);
    mediaItems(run.entity, run.project, run.id, block.key, ctrl.signal)
      .then(setItems)
      .catch((err: unknown) => {
        if (!isAbort(err)) setError(errorMessage(err));
      });
    return () => { ctrl.abort(); };
  }, [run.entity, run.project, run.id, run.updated_at, block.key]);
  const item = items === null ? null : pickMedia(items, block.step ?? null, until);
  return (
    <figure class="rp-media-item" data-testid="media-panel-item" data-run-id={run.id} data-step={item?.step ?? ""} data-state={error !== null ? "error" : items === null ? "loading" : item === null ? "empty" : "ready"}>
      {error !== null && <div class="field-error">{error}</div>}
      {item !== null && <MediaElement view={mediaView(item.value)} entity={run.entity} project={run.project} runId={run.id} label={`${block.key} at step ${item.step}`} />}
      {items !== null && item === null && <div class="muted">Nothing logged under {block.key}</div>}
      <figcaption class="muted">
        {run.name}
        {item !== null && ` · step ${item.step}`}
      </figcaption>
    </figure>
  );
}

export function MediaPanel({ block, report, editing, onChange }: { block: MediaBlock; report: ReportRef; editing: boolean; onChange: (b: MediaBlock) => void }) {
  const rs = useRunSet(report, block.runs);
  const runs = rs.runs.slice(0, MAX_MEDIA_RUNS);
  const keys = useEditorKeys(editing, runs[0], runMediaKeys);
  const set = (patch: Partial<MediaBlock>): void => { onChange({ ...block, ...patch }); };
  const editor = editing ? (
    <div class="rp-form" data-testid="media-editor">
      <TitleField value={block.title} onChange={(t) => { set({ title: t }); }} />
      <RunSetField value={block.runs} onChange={(r) => { set({ runs: r }); }} />
      <KeySelect label="Media key" value={block.key} keys={keys} testid="media-key" onChange={(key) => { set({ key }); }} />
      <StepField label="Step (empty: the last)" value={block.step} testid="media-step" onChange={(step) => { set({ step }); }} />
    </div>
  ) : undefined;
  return (
    <PanelFrame
      type="media"
      title={block.title ?? block.key}
      runs={block.runs}
      state={rs.state === "ready" && rs.runs.length === 0 ? "empty" : rs.state}
      error={rs.error}
      editor={editor}
      attrs={{ "data-runs": runs.map((r) => r.id).join(","), "data-key": block.key, "data-step": block.step ?? "" }}
    >
      <div class="rp-media">
        {runs.map((r) => (
          <RunMedia key={r.id} run={r} block={block} until={report.frozen_at} />
        ))}
      </div>
      {rs.runs.length > MAX_MEDIA_RUNS && <div class="report-panel-note muted">The first {MAX_MEDIA_RUNS} of {rs.runs.length} runs.</div>}
    </PanelFrame>
  );
}
