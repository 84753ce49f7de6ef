// A searchable two-column table of flattened keys and values (config, summary).

import { useMemo, useState } from "preact/hooks";
import type { Json } from "../api/types";
import { flatten } from "../lib/flatten";
import { formatValue } from "../lib/format";
import { Empty } from "./states";

/** Rows `key/nested -> value` with a filter box over keys and values. */
export function KeyValueTable({ data, label, testid }: { data: Record<string, Json>; label: string; testid?: string }) {
  const [q, setQ] = useState("");
  const rows = useMemo(() => flatten(data), [data]);
  const shown = useMemo(() => {
    const needle = q.trim().toLowerCase();
    if (needle === "") return rows;
    return rows.filter(([k, v]) => k.toLowerCase().includes(needle) || formatValue(v).toLowerCase().includes(needle));
  }, [rows, q]);
  if (rows.length === 0) return <Empty title={`No ${label.toLowerCase()} recorded for this run`} />;
  return (
    <div class="kv" data-testid={testid}>
      <div class="toolbar">
        <input
          class="input"
          type="search"
          value={q}
          placeholder={`Search ${label.toLowerCase()}…`}
          aria-label={`Search ${label.toLowerCase()}`}
          onInput={(e) => {
            setQ(e.currentTarget.value);
          }}
        />
        <span class="muted">
          {shown.length} of {rows.length} keys
        </span>
      </div>
      {shown.length === 0 ? (
        <Empty title="No key matches" />
      ) : (
        <table class="table kv-table">
          <thead>
            <tr>
              <th scope="col">Key</th>
              <th scope="col">Value</th>
            </tr>
          </thead>
          <tbody>
            {shown.map(([k, v]) => (
              <tr key={k} data-testid="kv-row" data-key={k}>
                <td class="mono kv-key">{k}</td>
                <td class="mono">{formatValue(v)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
