// Paging math shared by the logs viewer (a virtual list over pages fetched by offset) and the
// table viewer (one page in the DOM). Pure: tested without a browser.

/** Where a page of `limit` rows at `offset` sits in `total` rows. */
export interface PageInfo {
  /** 1-based number of the first row shown (0 when there is none). */
  first: number;
  /** 1-based number of the last row shown. */
  last: number;
  /** 0-based page index and page count (at least 1). */
  page: number;
  pages: number;
  /** Offset of the last page. */
  lastOffset: number;
  canPrev: boolean;
  canNext: boolean;
}

export function pageInfo(offset: number, limit: number, total: number): PageInfo {
  const size = Math.max(1, Math.floor(limit));
  const n = Math.max(0, Math.floor(total));
  const pages = Math.max(1, Math.ceil(n / size));
  const lastOffset = (pages - 1) * size;
  const off = clampOffset(offset, size, n);
  return {
    first: n === 0 ? 0 : off + 1,
    last: Math.min(n, off + size),
    page: Math.floor(off / size),
    pages,
    lastOffset,
    canPrev: off > 0,
    canNext: off + size < n,
  };
}

/** `offset` moved onto a page boundary inside `[0, lastOffset]`. */
export function clampOffset(offset: number, limit: number, total: number): number {
  const size = Math.max(1, Math.floor(limit));
  const lastOffset = Math.max(0, Math.ceil(Math.max(0, total) / size) - 1) * size;
  const o = Number.isFinite(offset) ? Math.floor(Math.max(0, offset) / size) * size : 0;
  return Math.min(o, lastOffset);
}

/** `rows a–b of N` (en dash, thousands separated). */
export function rangeLabel(info: PageInfo, total: number, noun = "rows"): string {
  const f = (v: number): string => v.toLocaleString("en-US");
  if (total === 0) return `no ${noun}`;
  return `${noun} ${f(info.first)}–${f(info.last)} of ${f(total)}`;
}

/** Rows `[start, end)` of a list of `total` rows of `rowHeight` px seen through a viewport. */
export function visibleRange(scrollTop: number, viewHeight: number, rowHeight: number, total: number, overscan = 10): { start: number; end: number } {
  if (total <= 0 || rowHeight <= 0) return { start: 0, end: 0 };
  const top = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const bottom = Math.ceil((Math.max(0, scrollTop) + Math.max(0, viewHeight)) / rowHeight) + overscan;
  const start = Math.min(top, total);
  return { start, end: Math.min(total, Math.max(start, bottom)) };
}

/** The page indices (of `pageSize` rows) holding rows `[start, end)`. */
export function pagesFor(start: number, end: number, pageSize: number): number[] {
  if (end <= start || pageSize <= 0) return [];
  const out: number[] = [];
  for (let p = Math.floor(start / pageSize); p <= Math.floor((end - 1) / pageSize); p++) out.push(p);
  return out;
}
