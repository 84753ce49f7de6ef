// The logs viewer's cache: pages of lines fetched by offset for one search, what is missing
// for the rows in view, and the total that grows while a run writes. Pure.

import type { LogLine, LogPage } from "../../api/types";

export const LOG_PAGE = 500;

export type LogStream = "stdout" | "stderr" | undefined;

export class LogCache {
  readonly query: string;
  readonly pageSize: number;
  /** Only the lines of this stream (all when undefined). */
  readonly stream: LogStream;
  total = 0;
  /** Whether any answer arrived (the total is known). */
  known = false;
  private pages = new Map<number, LogLine[]>();
  private inFlight = new Set<number>();

  constructor(query = "", pageSize = LOG_PAGE, stream?: LogStream) {
    this.query = query;
    this.pageSize = pageSize;
    this.stream = stream;
  }

  /** The line at row `i` of the (filtered) log, when loaded. */
  line(i: number): LogLine | undefined {
    return this.pages.get(Math.floor(i / this.pageSize))?.[i % this.pageSize];
  }

  private complete(page: number): boolean {
    const lines = this.pages.get(page);
    if (lines === undefined) return false;
    return lines.length >= this.pageSize || page * this.pageSize + lines.length >= this.total;
  }

  /** Pages holding rows `[start, end)` that are neither loaded completely nor being fetched. */
  missing(start: number, end: number): number[] {
    const out: number[] = [];
    const hi = Math.min(end, this.total);
    if (hi <= start) return out;
    for (let p = Math.floor(start / this.pageSize); p <= Math.floor((hi - 1) / this.pageSize); p++) {
      if (!this.complete(p) && !this.inFlight.has(p)) out.push(p);
    }
    return out;
  }

  /** Pages to ask for rows `[start, end)`: the first page while the total is unknown. */
  wanted(start: number, end: number): number[] {
    if (!this.known) return this.inFlight.has(0) ? [] : [0];
    return this.missing(start, end);
  }

  /** Mark a page as requested (so overlapping scrolls don't ask twice). */
  begin(page: number): void {
    this.inFlight.add(page);
  }

  /** A request was aborted or failed: the page may be asked again. */
  fail(page: number): void {
    this.inFlight.delete(page);
  }

  /** Store the answer for `page`; the total is the server's (it only grows while a run writes). */
  put(page: number, answer: LogPage): void {
    this.inFlight.delete(page);
    this.pages.set(page, answer.lines);
    this.total = Math.max(answer.total, page * this.pageSize + answer.lines.length);
    this.known = true;
  }

  /** Offset from which to ask for new lines (the start of the last, possibly partial, page). */
  tailOffset(): number {
    if (this.total === 0) return 0;
    return Math.floor((this.total - 1) / this.pageSize) * this.pageSize;
  }
}

/** The search box's state: the text typed and the query applied (after the debounce). */
export interface LogSearch {
  draft: string;
  applied: string;
}

/** The query the server gets for a typed text (surrounding space ignored). */
export function searchQuery(draft: string): string {
  return draft.trim();
}

/** Whether typing `draft` needs a new query (after the debounce). */
export function needsSearch(s: LogSearch): boolean {
  return searchQuery(s.draft) !== s.applied;
}
