// The console of a run: a virtual list over pages of lines fetched by offset (only the rows in
// view are in the DOM, however long the log), stderr marked, a server-side search and a
// "follow" toggle that polls for new lines while the run is running and stays at the bottom.

import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import { isAbort } from "../../api/client";
import { getLogs } from "../../api/logs";
import type { LogLine } from "../../api/types";
import { ErrorState } from "../../components/states";
import { poll } from "../../lib/poll";
import { LOG_PAGE, LogCache, needsSearch, searchQuery, type LogStream } from "./logState";
import { visibleRange } from "./paging";

export const LOG_ROW_HEIGHT = 20;
const FOLLOW_MS = 1000;
const SEARCH_DEBOUNCE_MS = 150;

function timeOf(ts: number): string {
  if (!Number.isFinite(ts)) return "";
  const d = new Date(ts * 1000);
  const p = (n: number): string => String(n).padStart(2, "0");
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function Row({ line, index }: { line: LogLine | undefined; index: number }) {
  const top = index * LOG_ROW_HEIGHT;
  if (line === undefined) {
    return (
      <div class="log-line log-pending" style={{ top }} aria-hidden="true">
        <span class="log-num" />
        <span class="log-text">…</span>
      </div>
    );
  }
  const err = line.stream === "stderr";
  return (
    <div
      class={err ? "log-line log-stderr" : "log-line"}
      style={{ top }}
      data-testid="log-line"
      data-n={line.n}
      data-stream={line.stream}
      role="listitem"
    >
      <span class="log-num">{line.n + 1}</span>
      <span class="log-ts" title={new Date(line.ts * 1000).toLocaleString()}>
        {timeOf(line.ts)}
      </span>
      {err && <span class="log-tag">stderr</span>}
      <span class="log-text">{line.text}</span>
    </div>
  );
}

export function LogsTab({ entity, project, runId, running }: { entity: string; project: string; runId: string; running: boolean }) {
  const [draft, setDraft] = useState("");
  const [applied, setApplied] = useState("");
  const [stream, setStream] = useState<LogStream>(undefined);
  const [follow, setFollow] = useState(running);
  const [nonce, setNonce] = useState(0);
  const [version, setVersion] = useState(0);
  const [error, setError] = useState<unknown>(null);
  const [view, setView] = useState({ top: 0, height: 600 });
  const scrollRef = useRef<HTMLDivElement>(null);
  const bump = (): void => {
    setVersion((v) => v + 1);
  };

  // search: debounced into the applied query, which starts a new cache
  useEffect(() => {
    if (!needsSearch({ draft, applied })) return;
    const t = setTimeout(() => {
      setApplied(searchQuery(draft));
    }, SEARCH_DEBOUNCE_MS);
    return () => {
      clearTimeout(t);
    };
  }, [draft, applied]);
  // one cache per query (a retry starts a fresh one too)
  const cache = useMemo(() => new LogCache(applied, LOG_PAGE, stream), [applied, stream, entity, project, runId, nonce]);
  const firstCache = useRef(true);
  useEffect(() => {
    if (firstCache.current) {
      firstCache.current = false;
      return;
    }
    setError(null);
    const el = scrollRef.current;
    if (el !== null) el.scrollTop = 0;
  }, [cache]);

  // fetch the pages of the rows in view (the first page when nothing is known yet)
  const range = cache.known ? visibleRange(view.top, view.height, LOG_ROW_HEIGHT, cache.total) : { start: 0, end: 1 };
  const wanted = cache.wanted(range.start, range.end);
  const wantedKey = wanted.join(",");
  // one abort signal per cache: a new search (or leaving the tab) drops what is in flight,
  // scrolling does not (a page asked for stays wanted by the rows around it)
  const abortRef = useRef<AbortController | null>(null);
  useEffect(() => {
    const ctrl = new AbortController();
    abortRef.current = ctrl;
    return () => {
      ctrl.abort();
    };
  }, [cache]);
  useEffect(() => {
    const ctrl = abortRef.current;
    if (wanted.length === 0 || ctrl === null || ctrl.signal.aborted) return;
    for (const page of wanted) {
      cache.begin(page);
      getLogs(entity, project, runId, { offset: page * cache.pageSize, limit: cache.pageSize, q: cache.query, stream: cache.stream }, ctrl.signal)
        .then((answer) => {
          cache.put(page, answer);
          bump();
        })
        .catch((err: unknown) => {
          cache.fail(page);
          if (!isAbort(err) && !ctrl.signal.aborted) setError(err);
        });
    }
  }, [cache, wantedKey, entity, project, runId]);

  // follow: poll the last page for new lines while the run is running
  useEffect(() => {
    if (!follow || !running) return;
    return poll(async (signal) => {
      // the first page is on its way (the rows in view ask for it)
      if (!cache.known) return;
      const page = Math.floor(cache.tailOffset() / cache.pageSize);
      const answer = await getLogs(entity, project, runId, { offset: page * cache.pageSize, limit: cache.pageSize, q: cache.query, stream: cache.stream }, signal);
      cache.put(page, answer);
      bump();
    }, FOLLOW_MS);
  }, [follow, running, cache, entity, project, runId]);

  // keep the bottom in view while following
  useLayoutEffect(() => {
    const el = scrollRef.current;
    if (!follow || el === null) return;
    const bottom = Math.max(0, el.scrollHeight - el.clientHeight);
    if (Math.abs(el.scrollTop - bottom) > 1) el.scrollTop = bottom;
  }, [follow, version, cache]);

  useEffect(() => {
    const el = scrollRef.current;
    if (el === null) return;
    const measure = (): void => {
      setView({ top: el.scrollTop, height: el.clientHeight });
    };
    measure();
    if (typeof ResizeObserver === "undefined") return;
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => {
      ro.disconnect();
    };
  }, []);

  const rows = [];
  if (cache.known) {
    for (let i = range.start; i < range.end; i++) rows.push(<Row key={i} index={i} line={cache.line(i)} />);
  }
  const total = cache.total;
  const filtered = applied !== "" || stream !== undefined;
  const totalText = !cache.known ? "Loading…" : `${total.toLocaleString("en-US")} ${filtered ? (total === 1 ? "matching line" : "matching lines") : total === 1 ? "line" : "lines"}`;

  return (
    <div class="logs card" data-testid="logs-view" data-total={cache.known ? total : ""} data-query={applied} data-stream={stream ?? ""}>
      <div class="logs-toolbar">
        <input
          class="input input-small search"
          type="search"
          placeholder="Search the console…"
          aria-label="Search the console output"
          value={draft}
          onInput={(e) => {
            setDraft(e.currentTarget.value);
          }}
          data-testid="logs-search"
        />
        <select
          class="input input-small"
          aria-label="Console stream"
          value={stream ?? ""}
          onChange={(e) => {
            const v = e.currentTarget.value;
            setStream(v === "stdout" || v === "stderr" ? v : undefined);
          }}
          data-testid="logs-stream"
        >
          <option value="">stdout and stderr</option>
          <option value="stdout">stdout only</option>
          <option value="stderr">stderr only</option>
        </select>
        <span class="muted" data-testid="logs-total" role="status">
          {totalText}
        </span>
        <span class="pg-spacer" />
        <label class="logs-follow" title={running ? "Poll for new lines and stay at the bottom" : "The run has ended: its console is complete"}>
          <input
            type="checkbox"
            checked={follow}
            onChange={(e) => {
              setFollow(e.currentTarget.checked);
            }}
            data-testid="logs-follow"
          />
          Follow
        </label>
      </div>
      {error !== null && (
        <ErrorState
          error={error}
          title="Cannot load the console"
          onRetry={() => {
            setError(null);
            setNonce((n) => n + 1);
          }}
        />
      )}
      <div
        ref={scrollRef}
        class="log-scroll"
        tabIndex={0}
        role="region"
        aria-label="Console output"
        onScroll={(e) => {
          const el = e.currentTarget;
          setView({ top: el.scrollTop, height: el.clientHeight });
          // scrolling up by hand stops following
          if (follow && el.scrollHeight - el.clientHeight - el.scrollTop > LOG_ROW_HEIGHT * 3) setFollow(false);
        }}
      >
        {cache.known && total === 0 ? (
          <div class="log-empty" data-testid="logs-empty">
            {!filtered ? "No console output recorded for this run." : applied === "" ? `No ${stream ?? ""} output.` : `No line contains “${applied}”.`}
          </div>
        ) : (
          <div class="log-inner" role="list" aria-label="Console lines" style={{ height: total * LOG_ROW_HEIGHT }}>
            {rows}
          </div>
        )}
      </div>
    </div>
  );
}
