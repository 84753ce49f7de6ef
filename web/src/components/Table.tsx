// Table pieces: sortable header cells (buttons with aria-sort).

import type { ComponentChildren } from "preact";

/** `created_at` -> ascending, `-created_at` -> descending, for `field`; else none. */
export function sortDirection(sort: string, field: string): "ascending" | "descending" | "none" {
  if (sort === field) return "ascending";
  if (sort === `-${field}`) return "descending";
  return "none";
}

/** The next sort after a click on `field`'s header: descending first, then ascending. */
export function nextSort(sort: string, field: string): string {
  if (sort === `-${field}`) return field;
  return `-${field}`;
}

/** A header cell whose button sorts by `field`; `aria-sort` tells the current direction. */
export function SortHeader({ field, sort, onSort, children, class: cls, title }: {
  field: string;
  sort: string;
  onSort: (next: string) => void;
  children: ComponentChildren;
  class?: string;
  title?: string;
}) {
  const dir = sortDirection(sort, field);
  return (
    <th scope="col" aria-sort={dir} class={cls} data-field={field}>
      <button
        type="button"
        class="th-button"
        title={title ?? `Sort by ${field}`}
        onClick={() => {
          onSort(nextSort(sort, field));
        }}
      >
        <span class="th-label">{children}</span>
        <span class="sort-icon" aria-hidden="true">
          {dir === "ascending" ? "▲" : dir === "descending" ? "▼" : ""}
        </span>
      </button>
    </th>
  );
}
