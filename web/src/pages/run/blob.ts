// Run files shown in the page: fetched with the API key (an `<img src>` cannot send it) and
// handed to elements as object URLs, revoked when the element goes away or the path changes;
// downloads saved through a temporary object URL (run files and artifact files alike).

import { useEffect, useState } from "preact/hooks";
import { isAbort } from "../../api/client";
import { fetchFile } from "../../api/files";

export interface ObjectUrl {
  url: string | null;
  error: unknown;
}

/** An object URL of the run file at `path` (typed `mime` when given); null path: nothing. */
export function useObjectUrl(entity: string, project: string, runId: string, path: string | null, mime?: string): ObjectUrl {
  const [state, setState] = useState<ObjectUrl>({ url: null, error: null });
  useEffect(() => {
    setState({ url: null, error: null });
    if (path === null) return;
    const ctrl = new AbortController();
    let url: string | null = null;
    fetchFile(entity, project, runId, path, ctrl.signal)
      .then((blob) => {
        if (ctrl.signal.aborted) return;
        const typed = mime !== undefined && blob.type !== mime ? new Blob([blob], { type: mime }) : blob;
        url = URL.createObjectURL(typed);
        setState({ url, error: null });
      })
      .catch((err: unknown) => {
        if (!ctrl.signal.aborted && !isAbort(err)) setState({ url: null, error: err });
      });
    return () => {
      ctrl.abort();
      if (url !== null) URL.revokeObjectURL(url);
    };
  }, [entity, project, runId, path, mime]);
  return state;
}

/** Save a run file under its name (fetched with the key, then through a temporary object URL). */
export async function downloadFile(entity: string, project: string, runId: string, path: string): Promise<void> {
  saveBlob(await fetchFile(entity, project, runId, path), path.split("/").pop() ?? "file");
}

/** Save `blob` under `filename` through a temporary object URL. */
export function saveBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  a.style.display = "none";
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => {
    URL.revokeObjectURL(url);
  }, 10_000);
}
