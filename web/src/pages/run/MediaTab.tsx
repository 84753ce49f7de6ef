// Media logged by a run (`GET RUN/media/keys`): one panel per key with a step slider (and
// previous/next) over its values, fetched once the panel comes into view; tables open the
// table viewer above the panels.

import { useRef, useState } from "preact/hooks";
import { ApiError } from "../../api/client";
import { mediaItems, mediaKeys } from "../../api/media";
import type { MediaKey } from "../../api/types";
import { Empty, ErrorState, Loading } from "../../components/states";
import { useAsync, useSeen } from "../../lib/hooks";
import { MediaElement } from "./MediaView";
import { mediaView } from "./media";
import { TableViewer } from "./TableViewer";

interface RunRef {
  entity: string;
  project: string;
  runId: string;
}

function MediaPanel({ run, mk, onOpenTable }: { run: RunRef; mk: MediaKey; onOpenTable: (path: string, title: string) => void }) {
  // panels fetch their values once they come near the viewport (runs may log many keys)
  const rootRef = useRef<HTMLElement>(null);
  const seen = useSeen(rootRef);
  const items = useAsync(
    (signal) => (seen ? mediaItems(run.entity, run.project, run.runId, mk.key, signal) : new Promise<never>(() => undefined)),
    [run.entity, run.project, run.runId, mk.key, mk.count, seen],
  );
  const [picked, setPicked] = useState<number | null>(null);
  const list = items.data ?? [];
  const n = list.length;
  const index = n === 0 ? -1 : Math.min(n - 1, Math.max(0, picked ?? n - 1));
  const item = index >= 0 ? list[index] : undefined;
  const id = `media-${mk.key.replace(/[^A-Za-z0-9_-]/g, "_")}`;
  const go = (i: number): void => {
    setPicked(Math.min(n - 1, Math.max(0, i)));
  };
  return (
    <section ref={rootRef} class="media-panel card" data-testid="media-panel" data-key={mk.key} data-type={mk.type} data-count={n} aria-labelledby={`${id}-h`}>
      <div class="media-head">
        <h3 class="media-title mono" id={`${id}-h`}>
          {mk.key}
        </h3>
        <span class="muted">{mk.type}</span>
      </div>
      {items.data === undefined ? (
        items.error !== null ? <ErrorState error={items.error} onRetry={items.reload} /> : <Loading label="Loading…" />
      ) : item === undefined ? (
        <Empty title="Nothing logged under this key yet" />
      ) : (
        <>
          {n > 1 ? (
            <div class="media-steps">
              <button type="button" class="btn btn-small" aria-label={`Previous step of ${mk.key}`} disabled={index <= 0} onClick={() => { go(index - 1); }} data-testid="media-prev">
                ‹
              </button>
              <input
                type="range"
                min={0}
                max={n - 1}
                step={1}
                value={index}
                aria-label={`Step of ${mk.key}`}
                aria-valuetext={`step ${item.step}`}
                onInput={(e) => {
                  go(Number(e.currentTarget.value));
                }}
                data-testid="media-step"
              />
              <button type="button" class="btn btn-small" aria-label={`Next step of ${mk.key}`} disabled={index >= n - 1} onClick={() => { go(index + 1); }} data-testid="media-next">
                ›
              </button>
              <span class="muted media-step-label" data-testid="media-step-label" data-step={item.step}>
                step {item.step} ({index + 1} of {n})
              </span>
            </div>
          ) : (
            <div class="media-steps">
              <span class="muted media-step-label" data-testid="media-step-label" data-step={item.step}>
                step {item.step}
              </span>
            </div>
          )}
          <MediaElement
            view={mediaView(item.value)}
            entity={run.entity}
            project={run.project}
            runId={run.runId}
            label={`${mk.key} at step ${item.step}`}
            onOpenTable={(path) => {
              onOpenTable(path, `${mk.key} at step ${item.step}`);
            }}
          />
        </>
      )}
    </section>
  );
}

export function MediaTab({ entity, project, runId, table, onTable }: RunRef & {
  /** The table open in the viewer (its path), from the URL. */
  table: string | undefined;
  onTable: (path: string | undefined) => void;
}) {
  const keys = useAsync(
    (signal) =>
      mediaKeys(entity, project, runId, signal).catch((err: unknown) => {
        // a server without media routes: nothing to show
        if (err instanceof ApiError && err.status === 404 && !err.detail.includes("run")) return [];
        throw err;
      }),
    [entity, project, runId],
  );
  const [title, setTitle] = useState<string>("Table");
  const run = { entity, project, runId };
  if (keys.data === undefined) {
    return keys.error !== null ? <ErrorState error={keys.error} onRetry={keys.reload} /> : <Loading label="Loading media…" />;
  }
  if (keys.data.length === 0) {
    return (
      <Empty title="No media logged for this run">
        <p>
          Log <code>fwtrack.Image</code>, <code>Audio</code>, <code>Video</code>, <code>Html</code>, <code>Object3D</code> or <code>Table</code> values (
          <code>{'fwtrack.log({"samples": fwtrack.Image(x)})'}</code>) to see them here by step.
        </p>
      </Empty>
    );
  }
  return (
    <div class="media-tab">
      {table !== undefined && (
        <TableViewer
          key={table}
          entity={entity}
          project={project}
          runId={runId}
          path={table}
          title={title}
          onClose={() => {
            onTable(undefined);
          }}
        />
      )}
      <div class="media-grid" data-testid="media-panels">
        {keys.data.map((mk) => (
          <MediaPanel
            key={mk.key}
            run={run}
            mk={mk}
            onOpenTable={(path, t) => {
              setTitle(t);
              onTable(path);
              window.scrollTo({ top: 0 });
            }}
          />
        ))}
      </div>
    </div>
  );
}
