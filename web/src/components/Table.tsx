// Table pieces: a header row from a list of columns, sortable header cells (buttons with
// aria-sort), a table in a card with a column of row actions.

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

/** A header cell: its label, and the cell's class and hover text when it has them. */
export interface Column {
  label: string;
  class?: string;
  title?: string;
  /** Named for screen readers only (a column of marks or buttons). */
  srOnly?: boolean;
}

/** The header row of a table: a cell a column (a plain label, or a `Column`). */
export function TableHead({ columns }: { columns: readonly (string | Column)[] }) {
  return (
    <thead>
      <tr>
        {columns.map((c, i) => {
          const col = typeof c === "string" ? { label: c } : c;
          return (
            <th key={i} scope="col" class={col.class} title={col.title}>
              {col.srOnly === true ? <span class="sr-only">{col.label}</span> : col.label}
            </th>
          );
        })}
      </tr>
    </thead>
  );
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

/**
 * A table in a card: a header cell a column (see `TableHead`) and, with `actions`, a last one over the rows'
 * buttons (named "Actions" for screen readers only), then `children`, the rows.
 */
export function CardTable({ columns, actions = false, testId, label, labelledBy, children }: {
  columns: readonly (string | Column)[];
  actions?: boolean;
  testId: string;
  label?: string;
  labelledBy?: string;
  children: ComponentChildren;
}) {
  return (
    <div class="table-wrap card">
      <table class="table" data-testid={testId} aria-label={label} aria-labelledby={labelledBy}>
        <TableHead columns={actions ? [...columns, { label: "Actions", srOnly: true }] : columns} />
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}

/** The last cell of a row of a `CardTable` with `actions`: the row's buttons. */
export function ActionsCell({ children }: { children: ComponentChildren }) {
  return (
    <td>
      <div class="row-actions">{children}</div>
    </td>
  );
}
