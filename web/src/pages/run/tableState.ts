// The table viewer's state: page, server-side sort and filter. Pure: tested without a browser.

export type SortOrder = "asc" | "desc";

export interface TableState {
  offset: number;
  limit: number;
  sort: string | null;
  order: SortOrder;
  q: string;
}

export const TABLE_PAGE = 50;

export function initialTableState(limit = TABLE_PAGE): TableState {
  return { offset: 0, limit, sort: null, order: "asc", q: "" };
}

/** A click on a column header: ascending, then descending, then unsorted; back to the first page. */
export function clickSort(s: TableState, column: string): TableState {
  if (s.sort !== column) return { ...s, sort: column, order: "asc", offset: 0 };
  if (s.order === "asc") return { ...s, order: "desc", offset: 0 };
  return { ...s, sort: null, order: "asc", offset: 0 };
}

/** The `aria-sort` of a column. */
export function ariaSort(s: TableState, column: string): "ascending" | "descending" | "none" {
  if (s.sort !== column) return "none";
  return s.order === "asc" ? "ascending" : "descending";
}

/** A new filter text starts at the first page. */
export function withFilter(s: TableState, q: string): TableState {
  return q === s.q ? s : { ...s, q, offset: 0 };
}

export type PageMove = "first" | "prev" | "next" | "last";

/** The state after a pager button, for a result of `total` rows. */
export function movePage(s: TableState, move: PageMove, total: number): TableState {
  const last = Math.max(0, Math.ceil(total / s.limit) - 1) * s.limit;
  let offset: number;
  if (move === "first") offset = 0;
  else if (move === "prev") offset = Math.max(0, s.offset - s.limit);
  else if (move === "next") offset = Math.min(last, s.offset + s.limit);
  else offset = last;
  return offset === s.offset ? s : { ...s, offset };
}
