// The column picker: a popover listing config.* and summary.* fields with checkboxes.

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { RunFields } from "../../api/types";
import { ErrorState, Loading } from "../../components/states";

export interface ColumnPickerProps {
  /** Loads the fields when the picker opens. */
  load: () => Promise<RunFields>;
  columns: readonly string[];
  onChange: (columns: string[]) => void;
}

/** A "Columns" button and its popover (Esc or a click outside closes it). */
export function ColumnPicker({ load, columns, onChange }: ColumnPickerProps) {
  const [open, setOpen] = useState(false);
  const [fields, setFields] = useState<RunFields | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [q, setQ] = useState("");
  const rootRef = useRef<HTMLDivElement>(null);
  const searchRef = useRef<HTMLInputElement>(null);
  const buttonRef = useRef<HTMLButtonElement>(null);

  const fetchFields = (): void => {
    setError(null);
    load()
      .then(setFields)
      .catch((err: unknown) => {
        setError(err);
      });
  };

  useEffect(() => {
    if (!open) return;
    fetchFields();
    searchRef.current?.focus();
    const onDown = (e: MouseEvent): void => {
      if (rootRef.current !== null && e.target instanceof Node && !rootRef.current.contains(e.target)) setOpen(false);
    };
    document.addEventListener("mousedown", onDown);
    return () => {
      document.removeEventListener("mousedown", onDown);
    };
    // the fields are loaded again on every opening (new keys appear as runs log)
  }, [open]);

  const all = useMemo(() => {
    if (fields === null) return [];
    return [...fields.config.map((k) => `config.${k}`), ...fields.summary.map((k) => `summary.${k}`)];
  }, [fields]);
  const shown = useMemo(() => {
    const needle = q.trim().toLowerCase();
    return needle === "" ? all : all.filter((f) => f.toLowerCase().includes(needle));
  }, [all, q]);

  const toggle = (id: string): void => {
    onChange(columns.includes(id) ? columns.filter((c) => c !== id) : [...columns, id]);
  };

  return (
    <div
      class="popover-root"
      ref={rootRef}
      onKeyDown={(e) => {
        if (e.key === "Escape" && open) {
          e.preventDefault();
          setOpen(false);
          buttonRef.current?.focus();
        }
      }}
    >
      <button
        type="button"
        class="btn btn-small"
        ref={buttonRef}
        aria-expanded={open}
        aria-haspopup="dialog"
        onClick={() => {
          setOpen(!open);
        }}
        data-testid="column-picker-button"
      >
        Columns{columns.length > 0 ? ` (${columns.length})` : ""}
      </button>
      {open && (
        <div class="popover" role="dialog" aria-label="Choose columns" data-testid="column-picker">
          <input
            ref={searchRef}
            class="input input-small"
            type="search"
            placeholder="Search fields…"
            aria-label="Search fields"
            value={q}
            onInput={(e) => {
              setQ(e.currentTarget.value);
            }}
          />
          <div class="popover-list">
            {error !== null ? (
              <ErrorState error={error} onRetry={fetchFields} />
            ) : fields === null ? (
              <Loading label="Loading fields…" />
            ) : shown.length === 0 ? (
              <div class="muted pad">{all.length === 0 ? "No config or summary fields yet" : "No field matches"}</div>
            ) : (
              shown.map((id) => (
                <label key={id} class="check-row" data-testid="column-option" data-field={id}>
                  <input
                    type="checkbox"
                    checked={columns.includes(id)}
                    onChange={() => {
                      toggle(id);
                    }}
                  />
                  <span class="mono">{id}</span>
                </label>
              ))
            )}
          </div>
          {columns.length > 0 && (
            <button
              type="button"
              class="btn btn-ghost btn-small"
              onClick={() => {
                onChange([]);
              }}
            >
              Clear columns
            </button>
          )}
        </div>
      )}
    </div>
  );
}
