// The files of a version, one directory level at a time (`GET …/files?prefix=`), with
// breadcrumbs, "load more" past a page, downloads, and a preview of the selected file: text,
// JSON (indented), CSV (a table of the first rows) and images. Files are fetched with the API
// key and handed to the page as object URLs; references to outside storage are listed by URI.

import { useEffect, useState } from "preact/hooks";
import { artifactFileUrl, fetchArtifactFile, listArtifactFiles } from "../../api/artifacts";
import { isAbort } from "../../api/client";
import type { ArtifactFile, ArtifactFileListing } from "../../api/types";
import { Empty, ErrorState, errorMessage, Loading } from "../../components/states";
import { TableHead } from "../../components/Table";
import { formatBytes } from "../../lib/format";
import { saveBlob } from "../run/blob";
import { FILE_COLUMNS, PREVIEW_LIMIT, prettyJson } from "../run/files";
import { artifactPreviewKind, parseCsv } from "./preview";

/** Entries asked for per page of a directory. */
const PAGE = 500;
/** Rows of a CSV shown in its preview. */
const CSV_ROWS = 200;

interface Props {
  entity: string;
  project: string;
  name: string;
  /** The resolved version (`vN`): an alias may move while the page is open. */
  version: string;
  prefix: string;
  selected: string | undefined;
  onPrefix: (prefix: string) => void;
  onSelect: (path: string | undefined) => void;
}

function baseName(path: string): string {
  return path.split("/").pop() ?? path;
}

/** A download link: a real link to the file's URL, fetched with the API key when clicked. */
function DownloadLink({ props, path }: { props: Props; path: string }) {
  const [error, setError] = useState<string | null>(null);
  const url = artifactFileUrl(props.entity, props.project, props.name, props.version, path);
  return (
    <a
      class="btn btn-ghost btn-small"
      href={url}
      download={baseName(path)}
      aria-label={`Download ${path}`}
      title={error ?? `Download ${path}`}
      data-testid="artifact-file-download"
      data-path={path}
      onClick={(e) => {
        e.preventDefault();
        setError(null);
        fetchArtifactFile(props.entity, props.project, props.name, props.version, path)
          .then((blob) => {
            saveBlob(blob, baseName(path));
          })
          .catch((err: unknown) => {
            setError(errorMessage(err));
          });
      }}
    >
      {error === null ? "Download" : "Retry download"}
    </a>
  );
}

function Breadcrumbs({ props }: { props: Props }) {
  const parts = props.prefix.split("/").filter((s) => s !== "");
  return (
    <nav class="path-crumbs" aria-label="Folder" data-testid="file-crumbs">
      <ol>
        <li>
          {parts.length === 0 ? (
            <span aria-current="page" class="mono">
              {props.name}:{props.version}
            </span>
          ) : (
            <button type="button" class="link-button mono" onClick={() => { props.onPrefix(""); }} data-testid="file-crumb" data-prefix="">
              {props.name}:{props.version}
            </button>
          )}
        </li>
        {parts.map((p, i) => {
          const prefix = `${parts.slice(0, i + 1).join("/")}/`;
          return (
            <li key={prefix}>
              {i === parts.length - 1 ? (
                <span aria-current="page" class="mono">
                  {p}
                </span>
              ) : (
                <button type="button" class="link-button mono" onClick={() => { props.onPrefix(prefix); }} data-testid="file-crumb" data-prefix={prefix}>
                  {p}
                </button>
              )}
            </li>
          );
        })}
      </ol>
    </nav>
  );
}

function CsvTable({ text, tsv, cut }: { text: string; tsv: boolean; cut: boolean }) {
  const { rows, truncated } = parseCsv(text, CSV_ROWS + 1, tsv ? "\t" : ",");
  const [head, ...body] = rows;
  if (head === undefined) return <Empty title="The file is empty" />;
  return (
    <>
      {(truncated || cut) && <div class="notice">The preview shows the first {CSV_ROWS} rows; download the file for all of it.</div>}
      <div class="csv-wrap">
        <table class="table csv-table" data-testid="file-csv" data-rows={body.length}>
          <thead>
            <tr>
              {head.map((h, i) => (
                <th key={i} scope="col">
                  {h}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {body.map((r, i) => (
              <tr key={i}>
                {r.map((c, j) => (
                  <td key={j} class="mono">
                    {c}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

function Preview({ props, file }: { props: Props; file: ArtifactFile }) {
  const kind = file.ref !== undefined ? "none" : artifactPreviewKind(file.path);
  const [text, setText] = useState<{ text: string; cut: boolean } | null>(null);
  const [image, setImage] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const { entity, project, name, version } = props;
  useEffect(() => {
    setText(null);
    setImage(null);
    setError(null);
    if (kind === "none") return;
    const ctrl = new AbortController();
    let url: string | null = null;
    fetchArtifactFile(entity, project, name, version, file.path, ctrl.signal)
      .then(async (blob) => {
        if (kind === "image") {
          if (ctrl.signal.aborted) return;
          url = URL.createObjectURL(blob);
          setImage(url);
          return;
        }
        const cut = blob.size > PREVIEW_LIMIT;
        const t = await (cut ? blob.slice(0, PREVIEW_LIMIT) : blob).text();
        if (!ctrl.signal.aborted) setText({ text: t, cut });
      })
      .catch((err: unknown) => {
        if (!isAbort(err) && !ctrl.signal.aborted) setError(err);
      });
    return () => {
      ctrl.abort();
      if (url !== null) URL.revokeObjectURL(url);
    };
  }, [entity, project, name, version, file.path, kind]);

  let body;
  if (error !== null) body = <ErrorState error={error} title="Cannot load the file" />;
  else if (file.ref !== undefined)
    body = (
      <Empty title="A reference to outside storage">
        <p>
          The artifact records <code class="wrap">{file.ref}</code>; its bytes stay there.
        </p>
      </Empty>
    );
  else if (kind === "none") body = <Empty title="No preview for this kind of file">Download it to look inside.</Empty>;
  else if (kind === "image") body = image === null ? <Loading label="Loading image…" /> : <img class="file-image" src={image} alt={file.path} data-testid="file-image" />;
  else if (text === null) body = <Loading label="Loading file…" />;
  else if (kind === "csv") body = <CsvTable text={text.text} tsv={/\.tsv$/i.test(file.path)} cut={text.cut} />;
  else
    body = (
      <>
        {text.cut && <div class="notice">The preview shows the first {formatBytes(PREVIEW_LIMIT)}; download the file for all of it.</div>}
        <pre class="file-text" data-testid="file-text">
          {kind === "json" ? prettyJson(text.text) : text.text}
        </pre>
      </>
    );
  return (
    <section class="file-preview card" data-testid="file-preview" data-path={file.path} data-kind={kind} aria-label={`Preview of ${file.path}`}>
      <div class="file-preview-head">
        <h2 class="section-title mono">{file.path}</h2>
        <span class="muted">{formatBytes(file.size ?? -1)}</span>
        <span class="pg-spacer" />
        {file.ref === undefined && <DownloadLink props={props} path={file.path} />}
      </div>
      {body}
    </section>
  );
}

/** The pages of one directory, loaded one after the other. */
function useListing(props: Props): { listing: ArtifactFileListing | null; error: unknown; more: () => void; loadingMore: boolean; reload: () => void } {
  const { entity, project, name, version, prefix } = props;
  const [listing, setListing] = useState<ArtifactFileListing | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [nonce, setNonce] = useState(0);
  useEffect(() => {
    setListing(null);
    setError(null);
    setCursor(null);
  }, [entity, project, name, version, prefix, nonce]);
  useEffect(() => {
    const ctrl = new AbortController();
    listArtifactFiles(entity, project, name, version, { prefix, limit: PAGE, cursor }, ctrl.signal)
      .then((page) => {
        if (ctrl.signal.aborted) return;
        setListing((prev) =>
          cursor === null || prev === null ? page : { ...page, dirs: [...prev.dirs, ...page.dirs], files: [...prev.files, ...page.files] },
        );
      })
      .catch((err: unknown) => {
        if (!isAbort(err) && !ctrl.signal.aborted) setError(err);
      });
    return () => {
      ctrl.abort();
    };
  }, [entity, project, name, version, prefix, cursor, nonce]);
  return {
    listing,
    error,
    loadingMore: cursor !== null && listing !== null && listing.next_cursor === cursor,
    more: () => {
      if (listing?.next_cursor != null) setCursor(listing.next_cursor);
    },
    reload: () => {
      setNonce((n) => n + 1);
    },
  };
}

export function FileBrowser(props: Props) {
  const { listing, error, more, loadingMore, reload } = useListing(props);
  // a file named in the URL but not in the page loaded (yet) is previewed all the same
  const selected = props.selected;
  const current: ArtifactFile | null = selected === undefined ? null : (listing?.files.find((f) => f.path === selected) ?? { path: selected, size: null });

  let list;
  if (listing === null) {
    list = error !== null ? <ErrorState error={error} onRetry={reload} title="Cannot list the files" /> : <Loading label="Loading files…" />;
  } else if (listing.dirs.length === 0 && listing.files.length === 0) {
    list = <Empty title={props.prefix === "" ? "This version has no files" : "No files in this folder"} />;
  } else {
    list = (
      <table class="table" data-testid="artifact-files" aria-label={`Files of ${props.name}:${props.version}`} data-prefix={props.prefix}>
        <TableHead columns={FILE_COLUMNS} />
        <tbody>
          {listing.dirs.map((d) => (
            <tr key={`d:${d.name}`} data-testid="artifact-dir" data-name={d.name}>
              <td>
                <button
                  type="button"
                  class="list-button mono"
                  onClick={() => {
                    props.onPrefix(`${props.prefix}${d.name}/`);
                  }}
                  data-testid="artifact-dir-open"
                >
                  <span aria-hidden="true">▸ </span>
                  {d.name}/ <span class="muted">{d.files} {d.files === 1 ? "file" : "files"}</span>
                </button>
              </td>
              <td class="num">{formatBytes(d.size)}</td>
              <td />
            </tr>
          ))}
          {listing.files.map((f) => {
            const selected = f.path === props.selected;
            return (
              <tr key={`f:${f.path}`} data-testid="artifact-file" data-path={f.path} aria-selected={selected} class={selected ? "selected" : undefined}>
                <td>
                  <button
                    type="button"
                    class={selected ? "list-button selected mono" : "list-button mono"}
                    aria-current={selected}
                    onClick={() => {
                      props.onSelect(selected ? undefined : f.path);
                    }}
                    data-testid="artifact-file-open"
                  >
                    {baseName(f.path)}
                    {f.ref !== undefined && <span class="muted"> → {f.ref}</span>}
                  </button>
                </td>
                <td class="num">{formatBytes(f.size ?? -1)}</td>
                <td>{f.ref === undefined && <DownloadLink props={props} path={f.path} />}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    );
  }
  return (
    <div class="artifact-files-tab">
      <Breadcrumbs props={props} />
      <div class="files-layout">
        <div class="card files-list">
          {list}
          {listing?.next_cursor != null && (
            <button type="button" class="btn btn-small load-more" disabled={loadingMore} onClick={more} data-testid="artifact-files-more">
              {loadingMore ? "Loading…" : "Load more"}
            </button>
          )}
          {error !== null && listing !== null && (
            <div class="field-error" role="alert">
              {errorMessage(error)}
            </div>
          )}
        </div>
        {current !== null ? (
          <Preview key={current.path} props={props} file={current} />
        ) : (
          <div class="file-preview card file-preview-hint muted">Select a file to preview it.</div>
        )}
      </div>
    </div>
  );
}
