// A run's files: the list (name, size, download), the media payloads collapsed under `media/`,
// and a preview of the selected file (JSON pretty, diffs coloured, text and code, images).

import { useEffect, useState } from "preact/hooks";
import { isAbort } from "../../api/client";
import { fetchFile, listFiles } from "../../api/files";
import type { RunFile } from "../../api/types";
import { Empty, ErrorState, errorMessage, Loading } from "../../components/states";
import { TableHead } from "../../components/Table";
import { formatBytes } from "../../lib/format";
import { useAsync } from "../../lib/hooks";
import { downloadFile, useObjectUrl } from "./blob";
import { diffLineKind, FILE_COLUMNS, PREVIEW_LIMIT, prettyJson, previewKind, splitMedia } from "./files";

interface Props {
  entity: string;
  project: string;
  runId: string;
  selected: string | undefined;
  onSelect: (path: string | undefined) => void;
}

function DownloadButton({ entity, project, runId, path }: { entity: string; project: string; runId: string; path: string }) {
  const [error, setError] = useState<string | null>(null);
  return (
    <button
      type="button"
      class="btn btn-ghost btn-small"
      aria-label={`Download ${path}`}
      title={error ?? `Download ${path}`}
      data-testid="file-download"
      onClick={() => {
        setError(null);
        downloadFile(entity, project, runId, path).catch((err: unknown) => {
          setError(errorMessage(err));
        });
      }}
    >
      {error === null ? "Download" : "Retry download"}
    </button>
  );
}

function FileRow({ file, props }: { file: RunFile; props: Props }) {
  const current = props.selected === file.path;
  return (
    <tr data-testid="file-row" data-path={file.path} aria-selected={current} class={current ? "selected" : undefined}>
      <td>
        <button
          type="button"
          class={current ? "list-button selected mono" : "list-button mono"}
          aria-current={current}
          onClick={() => {
            props.onSelect(current ? undefined : file.path);
          }}
          data-testid="file-open"
        >
          {file.path}
        </button>
      </td>
      <td class="num">{formatBytes(file.size)}</td>
      <td>
        <DownloadButton entity={props.entity} project={props.project} runId={props.runId} path={file.path} />
      </td>
    </tr>
  );
}

function TextPreview({ text, kind }: { text: string; kind: "json" | "diff" | "text" }) {
  if (kind === "diff") {
    return (
      <pre class="file-text diff" data-testid="file-text">
        {text.split("\n").map((line, i) => (
          <span key={i} class={`diff-${diffLineKind(line)}`} data-diff={diffLineKind(line)}>
            {line}
            {"\n"}
          </span>
        ))}
      </pre>
    );
  }
  return (
    <pre class="file-text" data-testid="file-text">
      {kind === "json" ? prettyJson(text) : text}
    </pre>
  );
}

function Preview({ entity, project, runId, file }: { entity: string; project: string; runId: string; file: RunFile }) {
  const kind = previewKind(file.path);
  const image = useObjectUrl(entity, project, runId, kind === "image" ? file.path : null);
  const [text, setText] = useState<{ text: string; cut: boolean } | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    setText(null);
    setError(null);
    if (kind === "image" || kind === "none") return;
    const ctrl = new AbortController();
    fetchFile(entity, project, runId, file.path, ctrl.signal)
      .then(async (blob) => {
        const cut = blob.size > PREVIEW_LIMIT;
        const t = await (cut ? blob.slice(0, PREVIEW_LIMIT) : blob).text();
        if (!ctrl.signal.aborted) setText({ text: t, cut });
      })
      .catch((err: unknown) => {
        if (!isAbort(err)) setError(err);
      });
    return () => {
      ctrl.abort();
    };
  }, [entity, project, runId, file.path, kind]);

  let body;
  if (error !== null || image.error !== null) body = <ErrorState error={error ?? image.error} title="Cannot load the file" />;
  else if (kind === "none") body = <Empty title="No preview for this kind of file">Download it to look inside.</Empty>;
  else if (kind === "image") body = image.url === null ? <Loading label="Loading image…" /> : <img class="file-image" src={image.url} alt={file.path} data-testid="file-image" />;
  else if (text === null) body = <Loading label="Loading file…" />;
  else
    body = (
      <>
        {text.cut && <div class="notice">The preview shows the first {formatBytes(PREVIEW_LIMIT)}; download the file for all of it.</div>}
        <TextPreview text={text.text} kind={kind} />
      </>
    );
  return (
    <section class="file-preview card" data-testid="file-preview" data-path={file.path} data-kind={kind} aria-label={`Preview of ${file.path}`}>
      <div class="file-preview-head">
        <h2 class="section-title mono">{file.path}</h2>
        <span class="muted">{formatBytes(file.size)}</span>
        <span class="pg-spacer" />
        <DownloadButton entity={entity} project={project} runId={runId} path={file.path} />
      </div>
      {body}
    </section>
  );
}

export function FilesTab(props: Props) {
  const { entity, project, runId } = props;
  const files = useAsync((signal) => listFiles(entity, project, runId, signal), [entity, project, runId]);
  const [mediaOpen, setMediaOpen] = useState(false);
  if (files.data === undefined) {
    return files.error !== null ? <ErrorState error={files.error} onRetry={files.reload} title="Cannot list the files" /> : <Loading label="Loading files…" />;
  }
  if (files.data.length === 0) {
    return (
      <Empty title="No files saved for this run">
        <p>
          The environment snapshot (<code>metadata.json</code>, <code>requirements.txt</code>, <code>diff.patch</code>) and files saved with{" "}
          <code>run.save()</code> appear here.
        </p>
      </Empty>
    );
  }
  const { main, media } = splitMedia(files.data);
  const current = files.data.find((f) => f.path === props.selected);
  const mediaBytes = media.reduce((n, f) => n + f.size, 0);
  return (
    <div class="files-layout">
      <div class="card files-list">
        <table class="table" data-testid="files-list" aria-label="Run files">
          <TableHead columns={FILE_COLUMNS} />
          <tbody>
            {main.map((f) => (
              <FileRow key={f.path} file={f} props={props} />
            ))}
            {media.length > 0 && (
              <tr class="files-group" data-testid="files-media-group">
                <td colSpan={3}>
                  <button
                    type="button"
                    class="list-button"
                    aria-expanded={mediaOpen}
                    onClick={() => {
                      setMediaOpen((o) => !o);
                    }}
                    data-testid="files-media-toggle"
                  >
                    <span class={mediaOpen ? "pg-caret pg-caret-open" : "pg-caret"} aria-hidden="true">
                      ▸
                    </span>{" "}
                    media/ <span class="muted">
                      {media.length} {media.length === 1 ? "file" : "files"}, {formatBytes(mediaBytes)}
                    </span>
                  </button>
                </td>
              </tr>
            )}
            {mediaOpen && media.map((f) => <FileRow key={f.path} file={f} props={props} />)}
          </tbody>
        </table>
      </div>
      {current !== undefined ? (
        <Preview key={current.path} entity={entity} project={project} runId={runId} file={current} />
      ) : (
        <div class="file-preview card file-preview-hint muted">Select a file to preview it.</div>
      )}
    </div>
  );
}
