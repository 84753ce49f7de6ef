// One media value drawn: images and gif videos as <img> (with their boxes and masks over them),
// audio and video with controls, html in a sandboxed iframe without scripts, tables as a button
// that opens the table viewer, 3D objects in a three.js view (loaded on first use), galleries as
// a grid. Payloads come through object URLs (the API key cannot ride on a `src`).

import { lazy, Suspense } from "preact/compat";
import { useEffect, useState } from "preact/hooks";
import { isAbort } from "../../api/client";
import { fetchFile } from "../../api/files";
import { VegaChart } from "../../charts/vega/VegaChart";
import { ErrorState, Loading } from "../../components/states";
import { ImageOverlay } from "../../media/ImageOverlay";
import { useObjectUrl } from "./blob";
import type { MediaView } from "./media";

// three.js comes with the 3D view only: its chunk loads when a 3D object is shown
const Object3DView = lazy(() => import("../../media/Object3DView").then((m) => ({ default: m.Object3DView })));

interface RunRef {
  entity: string;
  project: string;
  runId: string;
}

function HtmlFrame({ entity, project, runId, path, label }: RunRef & { path: string; label: string }) {
  const [html, setHtml] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    const ctrl = new AbortController();
    setHtml(null);
    fetchFile(entity, project, runId, path, ctrl.signal)
      .then((b) => b.text())
      .then((t) => {
        if (!ctrl.signal.aborted) setHtml(t);
      })
      .catch((err: unknown) => {
        if (!isAbort(err)) setError(err);
      });
    return () => {
      ctrl.abort();
    };
  }, [entity, project, runId, path]);
  if (error !== null) return <ErrorState error={error} title="Cannot load the html" />;
  // sandbox="" : no scripts, no forms, no same-origin access to the dashboard
  return <iframe class="media-html" sandbox="" srcdoc={html ?? ""} title={label} data-testid="media-html" data-loaded={html !== null} />;
}

export function MediaElement({ view, entity, project, runId, label, thumb = false, onOpenTable }: RunRef & {
  view: MediaView;
  /** Alt text / accessible name (the key and step). */
  label: string;
  /** Small, inside a table cell. */
  thumb?: boolean;
  onOpenTable?: (path: string) => void;
}) {
  const path = view.kind === "image" || view.kind === "audio" || view.kind === "video" ? view.path : null;
  const mime = view.kind === "image" || view.kind === "audio" || view.kind === "video" ? view.mime : undefined;
  const obj = useObjectUrl(entity, project, runId, path, mime);
  const caption = view.kind === "unknown" ? null : view.caption;
  let body;
  if (obj.error !== null) body = <ErrorState error={obj.error} title="Cannot load the media" />;
  else {
    switch (view.kind) {
      case "image":
        body =
          obj.url !== null && view.overlays !== undefined && !thumb && view.width !== null && view.height !== null ? (
            <ImageOverlay
              run={{ entity, project, runId }}
              src={obj.url}
              width={view.width}
              height={view.height}
              overlays={view.overlays}
              alt={caption ?? label}
              path={view.path}
            />
          ) : obj.url === null ? (
            <div class="media-placeholder" style={view.width !== null && !thumb ? { aspectRatio: `${view.width} / ${view.height ?? view.width}` } : undefined} />
          ) : (
            <img
              class={thumb ? "media-thumb" : "media-image"}
              src={obj.url}
              alt={caption ?? label}
              width={thumb ? undefined : (view.width ?? undefined)}
              data-testid={thumb ? "table-thumb" : "media-image"}
              data-path={view.path}
            />
          );
        break;
      case "audio":
        body = <audio controls preload="metadata" src={obj.url ?? undefined} aria-label={caption ?? label} data-testid="media-audio" data-path={view.path} />;
        break;
      case "video":
        body = <video controls preload="metadata" src={obj.url ?? undefined} aria-label={caption ?? label} class={thumb ? "media-thumb" : "media-video"} data-testid="media-video" data-path={view.path} />;
        break;
      case "html":
        body = thumb ? <span class="muted">html</span> : <HtmlFrame entity={entity} project={project} runId={runId} path={view.path} label={caption ?? label} />;
        break;
      case "table":
        body = (
          <button
            type="button"
            class="btn btn-small"
            onClick={() => onOpenTable?.(view.path)}
            disabled={onOpenTable === undefined}
            data-testid="media-table-open"
            data-path={view.path}
          >
            Open table ({view.nrows.toLocaleString("en-US")} rows × {view.columns.length} columns)
          </button>
        );
        break;
      case "gallery":
        body = (
          <div class="media-gallery" data-testid="media-gallery" data-count={view.items.length}>
            {view.items.map((item, i) => (
              <MediaElement key={i} view={item} entity={entity} project={project} runId={runId} label={`${label}, item ${i + 1}`} thumb={thumb} onOpenTable={onOpenTable} />
            ))}
          </div>
        );
        break;
      case "custom-chart":
        body = thumb ? <span class="muted">chart</span> : <VegaChart entity={entity} project={project} runId={runId} chart={view.chart} label={label} />;
        break;
      case "object3d":
        body = thumb ? (
          <span class="muted" data-testid="object3d-thumb">
            3D {view.format}
            {view.points !== null ? ` (${view.points.toLocaleString("en-US")} points)` : ""}
          </span>
        ) : (
          <Suspense fallback={<Loading label="Loading the 3D viewer…" />}>
            <Object3DView entity={entity} project={project} runId={runId} path={view.path} format={view.format} label={caption ?? label} />
          </Suspense>
        );
        break;
      default:
        body = <span class="muted">{view.type} values are not shown here yet</span>;
    }
  }
  if (thumb) return body;
  return (
    <figure class="media-figure">
      {body}
      {caption !== null && view.kind !== "gallery" && (
        <figcaption class="media-caption" data-testid="media-caption">
          {caption}
        </figcaption>
      )}
    </figure>
  );
}
