// A logged table, one page at a time from the server (`GET RUN/table`): header clicks sort on
// the server, the filter box searches every cell, the pager moves by pages. Only the current
// page is in the DOM, so 100,000 rows stay as fast as 50. Media cells show as thumbnails.

import { useEffect, useState } from "preact/hooks";
import { getTable } from "../../api/media";
import type { Json } from "../../api/types";
import { ErrorState, Loading } from "../../components/states";
import { useAsync } from "../../lib/hooks";
import { MediaElement } from "./MediaView";
import { isMediaDescriptor, mediaView } from "./media";
import { pageInfo, rangeLabel } from "./paging";
import { ariaSort, clickSort, initialTableState, movePage, withFilter, type PageMove } from "./tableState";

// Short: a filter answer is one page from the server's cached view, and a stale request is
// aborted when the next one starts (as the workspace's search does).
const FILTER_DEBOUNCE_MS = 20;

function Cell({ value, run }: { value: Json; run: { entity: string; project: string; runId: string } }) {
  if (isMediaDescriptor(value)) {
    return <MediaElement view={mediaView(value)} {...run} label="table cell" thumb />;
  }
  if (value === null) return <span class="muted">null</span>;
  if (typeof value === "object") return <code>{JSON.stringify(value)}</code>;
  return <>{String(value)}</>;
}

export function TableViewer({ entity, project, runId, path, title, onClose }: {
  entity: string;
  project: string;
  runId: string;
  path: string;
  title: string;
  onClose: () => void;
}) {
  const [state, setState] = useState(initialTableState);
  const [draft, setDraft] = useState("");
  useEffect(() => {
    const t = setTimeout(() => {
      setState((s) => withFilter(s, draft.trim()));
    }, FILTER_DEBOUNCE_MS);
    return () => {
      clearTimeout(t);
    };
  }, [draft]);
  const page = useAsync(
    (signal) =>
      getTable(entity, project, runId, path, { offset: state.offset, limit: state.limit, sort: state.sort ?? undefined, order: state.order, q: state.q }, signal),
    [entity, project, runId, path, state.offset, state.limit, state.sort, state.order, state.q],
  );
  const data = page.data;
  const total = data?.total ?? 0;
  const info = pageInfo(state.offset, state.limit, total);
  const move = (m: PageMove): void => {
    setState((s) => movePage(s, m, total));
  };
  const run = { entity, project, runId };
  return (
    <section class="table-viewer card" data-testid="table-viewer" data-path={path} data-total={data === undefined ? "" : total} data-state={page.loading ? "loading" : "ready"} aria-label={`Table ${title}`}>
      <div class="table-viewer-head">
        <h3 class="section-title">{title}</h3>
        <input
          class="input input-small search"
          type="search"
          placeholder="Filter rows…"
          aria-label="Filter the table's rows"
          value={draft}
          onInput={(e) => {
            setDraft(e.currentTarget.value);
          }}
          data-testid="table-filter"
        />
        <span class="pg-spacer" />
        <button type="button" class="btn btn-small" onClick={onClose} data-testid="table-close">
          Close table
        </button>
      </div>
      {page.error !== null && <ErrorState error={page.error} onRetry={page.reload} title="Cannot load the table" />}
      {data === undefined ? (
        page.error === null && <Loading label="Loading table…" />
      ) : (
        <div class="table-wrap table-scroll">
          <table class={page.loading ? "table busy" : "table"} data-testid="table-grid">
            <thead>
              <tr>
                <th scope="col" class="num muted">
                  #
                </th>
                {data.columns.map((c) => {
                  const dir = ariaSort(state, c);
                  return (
                    <th key={c} scope="col" aria-sort={dir} data-testid="table-header" data-column={c}>
                      <button
                        type="button"
                        class="th-button"
                        title={`Sort by ${c}`}
                        onClick={() => {
                          setState((s) => clickSort(s, c));
                        }}
                      >
                        <span class="th-label">{c}</span>
                        <span class="sort-icon" aria-hidden="true">
                          {dir === "ascending" ? "▲" : dir === "descending" ? "▼" : ""}
                        </span>
                      </button>
                    </th>
                  );
                })}
              </tr>
            </thead>
            <tbody>
              {data.rows.map((row, i) => {
                const id = data.row_ids[i] ?? state.offset + i;
                return (
                  <tr key={id} data-testid="table-row" data-row-id={id}>
                    <td class="num muted">{id}</td>
                    {row.map((cell, j) => (
                      <td key={j} data-column={data.columns[j]} data-num={typeof cell === "number" ? "" : undefined}>
                        <Cell value={cell} run={run} />
                      </td>
                    ))}
                  </tr>
                );
              })}
            </tbody>
          </table>
          {data.rows.length === 0 && <div class="log-empty">No row matches.</div>}
        </div>
      )}
      <nav class="pager" aria-label="Pages of the table">
        <button type="button" class="btn btn-small" disabled={!info.canPrev} onClick={() => { move("first"); }} aria-label="First page" data-testid="table-first">
          « First
        </button>
        <button type="button" class="btn btn-small" disabled={!info.canPrev} onClick={() => { move("prev"); }} aria-label="Previous page" data-testid="table-prev">
          ‹ Prev
        </button>
        <span class="muted" data-testid="table-range" role="status">
          {data === undefined ? "" : rangeLabel(info, total)}
        </span>
        <button type="button" class="btn btn-small" disabled={!info.canNext} onClick={() => { move("next"); }} aria-label="Next page" data-testid="table-next">
          Next ›
        </button>
        <button type="button" class="btn btn-small" disabled={!info.canNext} onClick={() => { move("last"); }} aria-label="Last page" data-testid="table-last">
          Last »
        </button>
      </nav>
    </section>
  );
}
