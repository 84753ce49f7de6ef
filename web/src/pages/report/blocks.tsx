// The report page's blocks: markdown (textarea + live preview), image (upload or URL) and the
// live panels (the panels' own `PanelBlock`), each with its edit controls, and new blocks.

import { useEffect, useState } from "preact/hooks";
import { fetchAsset, uploadAsset } from "../../api/reports";
import { errorMessage } from "../../components/states";
import { renderMarkdown } from "../../lib/markdown";
import { BLOCK_NAMES, isPanelBlock, newBlockId, type Block, type BlockType, type ImageBlock, type MarkdownBlock, type Report } from "../../reports/doc";
import { PanelBlock } from "../../reports/panels";

/** The block types of the "Add block" menu, in its order. */
export const ADD_TYPES: readonly BlockType[] = ["markdown", "image", "line", "runs_table", "parallel", "scalar", "media", "histogram", "compare", "lineage"];

/** A new block of `type` with the fields the server requires filled with editable defaults. */
export function newBlock(type: BlockType): Block {
  const id = newBlockId();
  const runs = { filter: "" };
  switch (type) {
    case "markdown":
      return { id, type, text: "" };
    case "image":
      return { id, type, src: "", alt: "", caption: "" };
    case "line":
      return { id, type, runs, y: ["loss"] };
    case "runs_table":
      return { id, type, runs, columns: ["name", "state", "created_at"] };
    case "parallel":
      return { id, type, runs, columns: ["config.lr", "summary.loss"] };
    case "media":
      return { id, type, runs, key: "image" };
    case "histogram":
      return { id, type, runs, key: "weights" };
    case "scalar":
      return { id, type, runs, key: "summary.loss", style: "bar" };
    case "lineage":
      return { id, type, artifact: "dataset:latest" };
    case "compare":
      return { id, type, runs, diff_only: true };
  }
}

export function MarkdownView({ block }: { block: MarkdownBlock }) {
  // renderMarkdown's output is sanitized: the one HTML inserted from user text
  return <div class="md report-md" data-testid="markdown-view" dangerouslySetInnerHTML={{ __html: renderMarkdown(block.text) }} />;
}

export function MarkdownEditor({ block, onChange }: { block: MarkdownBlock; onChange: (b: Block) => void }) {
  const id = `md-${block.id}`;
  return (
    <div class="report-md-edit">
      <label class="report-field" for={id}>
        Markdown
      </label>
      <textarea
        id={id}
        class="input mono report-textarea"
        rows={Math.min(20, Math.max(4, block.text.split("\n").length + 1))}
        value={block.text}
        placeholder="# Heading, lists, `code`, links and $math$"
        onInput={(e) => { onChange({ ...block, text: e.currentTarget.value }); }}
        data-testid="markdown-input"
      />
      <div class="report-preview" aria-label="Preview">
        <MarkdownView block={block} />
      </div>
    </div>
  );
}

/** An image: an uploaded asset (fetched with the API key) or an https URL. */
export function ImageView({ block, report }: { block: ImageBlock; report: Report }) {
  const [url, setUrl] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setError(null);
    if (!block.src.startsWith("asset:")) {
      setUrl(block.src === "" ? null : block.src);
      return;
    }
    const ctrl = new AbortController();
    let objectUrl: string | null = null;
    fetchAsset(report.entity, report.project, report.id, block.src, ctrl.signal)
      .then((blob) => {
        objectUrl = URL.createObjectURL(blob);
        setUrl(objectUrl);
      })
      .catch((err: unknown) => {
        if (!ctrl.signal.aborted) setError(errorMessage(err));
      });
    return () => {
      ctrl.abort();
      if (objectUrl !== null) URL.revokeObjectURL(objectUrl);
    };
  }, [block.src, report.entity, report.project, report.id]);
  if (error !== null) return <div class="field-error">Cannot load the image: {error}</div>;
  if (url === null) return <div class="muted report-empty-block">No image yet.</div>;
  return (
    <figure class="report-figure" data-testid="image-view">
      <img src={url} alt={block.alt ?? ""} />
      {block.caption !== undefined && block.caption !== "" && <figcaption>{block.caption}</figcaption>}
    </figure>
  );
}

export function ImageEditor({ block, report, onChange }: { block: ImageBlock; report: Report; onChange: (b: Block) => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [urlDraft, setUrlDraft] = useState(block.src.startsWith("asset:") ? "" : block.src);
  const upload = async (file: File): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      const src = await uploadAsset(report.entity, report.project, report.id, file);
      onChange({ ...block, src, alt: block.alt === undefined || block.alt === "" ? file.name : block.alt });
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="report-image-edit">
      <ImageView block={block} report={report} />
      <div class="report-row">
        <label>
          Upload
          <input
            type="file"
            accept="image/png,image/jpeg,image/gif,image/webp"
            disabled={busy}
            onChange={(e) => {
              const file = e.currentTarget.files?.[0];
              if (file !== undefined) void upload(file);
            }}
            data-testid="image-upload"
          />
        </label>
        <form
          class="report-row"
          onSubmit={(e) => {
            e.preventDefault();
            const src = urlDraft.trim();
            if (!src.startsWith("https://")) {
              setError("an image URL must start with https://; hint: or upload the file");
              return;
            }
            setError(null);
            onChange({ ...block, src });
          }}
        >
          <label>
            or URL
            <input class="input input-small" type="url" value={urlDraft} placeholder="https://…" onInput={(e) => { setUrlDraft(e.currentTarget.value); }} />
          </label>
          <button type="submit" class="btn btn-small">
            Use URL
          </button>
        </form>
      </div>
      <div class="report-row">
        <label>
          Alt text
          <input class="input input-small" value={block.alt ?? ""} onInput={(e) => { onChange({ ...block, alt: e.currentTarget.value }); }} />
        </label>
        <label>
          Caption
          <input class="input input-small" value={block.caption ?? ""} onInput={(e) => { onChange({ ...block, caption: e.currentTarget.value }); }} />
        </label>
      </div>
      {busy && <span role="status">Uploading…</span>}
      {error !== null && (
        <div class="field-error" role="alert">
          {error}
        </div>
      )}
    </div>
  );
}

/** One block, as read or with its editor. */
export function BlockBody({ block, report, editing, onChange }: { block: Block; report: Report; editing: boolean; onChange: (b: Block) => void }) {
  if (block.type === "markdown") return editing ? <MarkdownEditor block={block} onChange={onChange} /> : <MarkdownView block={block} />;
  if (block.type === "image") return editing ? <ImageEditor block={block} report={report} onChange={onChange} /> : <ImageView block={block} report={report} />;
  if (isPanelBlock(block)) {
    return <PanelBlock block={block} report={{ entity: report.entity, project: report.project, frozen_at: report.frozen_at }} editing={editing} onChange={onChange} />;
  }
  const unknown: { type: string } = block;
  return <div class="muted">A block of an unknown type ({unknown.type}).</div>;
}

export function blockName(type: string): string {
  return BLOCK_NAMES[type] ?? type;
}
