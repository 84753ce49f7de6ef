// The workspace's runs table: colour, name, state, tags, the sweep (when a run of the page has
// one: a link to the sweep and a button filtering by it), created, duration and optional
// config/summary columns; server-side sort; select for Compare; eye toggles for the charts.
// Keyboard: rows use a roving tabindex (arrows, Home/End move; Enter opens; Space selects).

import { useEffect, useRef, useState } from "preact/hooks";
import type { RunInfo } from "../../api/types";
import { StateBadge, Tag } from "../../components/Badge";
import { SortHeader } from "../../components/Table";
import { runColor } from "../../lib/colors";
import { formatDateTime, formatDuration, formatRelative, formatValue } from "../../lib/format";
import { href } from "../../lib/route";
import { columnValue, type ExtraColumn } from "./columns";
import { expandedRuns, groupedRows } from "./GroupRows";
import type { TableGrouping } from "./grouping";

export interface RunsTableProps {
  entity: string;
  project: string;
  runs: readonly RunInfo[];
  columns: readonly ExtraColumn[];
  sort: string;
  onSort: (sort: string) => void;
  selected: readonly string[];
  onToggleSelect: (id: string) => void;
  onSelectAll: (select: boolean) => void;
  isVisible: (id: string) => boolean;
  onToggleVisible: (id: string) => void;
  onOpen: (id: string) => void;
  busy: boolean;
  now: number;
  /** Keep only the runs of this sweep (`sweep = id`). */
  onFilterSweep?: (sweepId: string) => void;
  /** `false`: no select checkboxes or chart eye toggles (a read-only table, e.g. in a report). */
  controls?: boolean;
  /** Group rows (the workspace's "Group by"): a row per group; expanded groups show their runs. */
  grouping?: TableGrouping | undefined;
  /** The colour of a run's swatch: the charts' (`colorsOf` of the visible runs); default `runColor`. */
  colorOf?: ((id: string) => string) | undefined;
}

function EyeIcon({ open }: { open: boolean }) {
  return (
    <svg viewBox="0 0 20 20" width="16" height="16" aria-hidden="true" focusable="false">
      <path
        d="M1.5 10s3-6 8.5-6 8.5 6 8.5 6-3 6-8.5 6-8.5-6-8.5-6z"
        fill="none"
        stroke="currentColor"
        stroke-width="1.6"
        stroke-linejoin="round"
      />
      <circle cx="10" cy="10" r="2.6" fill={open ? "currentColor" : "none"} stroke="currentColor" stroke-width="1.6" />
      {!open && <path d="M3 17L17 3" stroke="currentColor" stroke-width="1.6" stroke-linecap="round" />}
    </svg>
  );
}

function SweepCell({ entity, project, sweepId, onFilter }: { entity: string; project: string; sweepId: string | null; onFilter: ((id: string) => void) | undefined }) {
  if (sweepId === null || sweepId === "") return <td class="col-sweep" data-testid="run-sweep" data-sweep="" />;
  return (
    <td class="col-sweep nowrap" data-testid="run-sweep" data-sweep={sweepId}>
      <a class="mono" href={href.sweep(entity, project, sweepId)} tabIndex={-1} title={`Sweep ${sweepId}`} data-testid="sweep-link">
        {sweepId}
      </a>
      {onFilter !== undefined && (
        <button
          type="button"
          class="btn btn-ghost btn-small sweep-filter"
          tabIndex={-1}
          aria-label={`Only the runs of sweep ${sweepId}`}
          title={`Only the runs of sweep ${sweepId}`}
          onClick={() => {
            onFilter(sweepId);
          }}
          data-testid="sweep-filter"
        >
          <svg viewBox="0 0 16 16" width="12" height="12" aria-hidden="true" focusable="false">
            <path d="M2 3h12L9.5 8.5V13l-3-1.5V8.5z" fill="currentColor" />
          </svg>
        </button>
      )}
    </td>
  );
}

/** The table; rows are `data-testid="run-row"` with `data-run-id`. */
export function RunsTable(props: RunsTableProps) {
  const { columns, sort, onSort, selected } = props;
  const runs = props.grouping === undefined ? props.runs : expandedRuns(props.grouping);
  const [focus, setFocus] = useState(0);
  const bodyRef = useRef<HTMLTableSectionElement>(null);
  const focusIndex = Math.min(focus, Math.max(0, runs.length - 1));

  useEffect(() => {
    if (focus !== focusIndex) setFocus(focusIndex);
  }, [focus, focusIndex]);

  const moveTo = (i: number): void => {
    const n = Math.max(0, Math.min(runs.length - 1, i));
    setFocus(n);
    const row = bodyRef.current?.querySelectorAll<HTMLElement>("tr[data-run-id]")[n];
    row?.focus();
  };

  const onRowKey = (e: KeyboardEvent, i: number, run: RunInfo): void => {
    if (e.target !== e.currentTarget) return; // keys inside a checkbox or link keep their meaning
    switch (e.key) {
      case "ArrowDown":
        e.preventDefault();
        moveTo(i + 1);
        break;
      case "ArrowUp":
        e.preventDefault();
        moveTo(i - 1);
        break;
      case "Home":
        e.preventDefault();
        moveTo(0);
        break;
      case "End":
        e.preventDefault();
        moveTo(runs.length - 1);
        break;
      case "Enter":
        e.preventDefault();
        props.onOpen(run.id);
        break;
      case " ":
        e.preventDefault();
        props.onToggleSelect(run.id);
        break;
      case "v":
      case "h":
        e.preventDefault();
        props.onToggleVisible(run.id);
        break;
    }
  };

  const withSweep = runs.some((r) => typeof r.sweep_id === "string" && r.sweep_id !== "");
  const pageSelected = runs.filter((r) => selected.includes(r.id)).length;
  const allChecked = runs.length > 0 && pageSelected === runs.length;

  return (
    <div class={props.busy ? "table-wrap runs-table-wrap busy" : "table-wrap runs-table-wrap"} aria-busy={props.busy}>
      <table class="table runs-table" data-testid="runs-table" aria-label="Runs" aria-rowcount={runs.length + 1}>
        <thead>
          <tr>
            {props.controls !== false && (
            <>
            <th scope="col" class="col-check">
              <input
                type="checkbox"
                aria-label={allChecked ? "Unselect the runs of this page" : "Select the runs of this page"}
                checked={allChecked}
                ref={(el) => {
                  if (el !== null) el.indeterminate = pageSelected > 0 && !allChecked;
                }}
                onChange={() => {
                  props.onSelectAll(!allChecked);
                }}
                data-testid="select-page"
              />
            </th>
            <th scope="col" class="col-eye">
              <span class="sr-only">Shown in charts</span>
            </th>
            </>
            )}
            <SortHeader field="name" sort={sort} onSort={onSort} class="col-name">
              Name
            </SortHeader>
            <SortHeader field="state" sort={sort} onSort={onSort}>
              State
            </SortHeader>
            <th scope="col">Tags</th>
            {withSweep && (
              <th scope="col" data-field="sweep">
                Sweep
              </th>
            )}
            <SortHeader field="created_at" sort={sort} onSort={onSort}>
              Created
            </SortHeader>
            <SortHeader field="runtime" sort={sort} onSort={onSort}>
              Duration
            </SortHeader>
            {columns.map((c) => (
              <SortHeader key={c.id} field={c.id} sort={sort} onSort={onSort} class="col-extra" title={`Sort by ${c.id}`}>
                <span class="col-source">{c.source === "config" ? "c" : "s"}</span>
                {c.key}
              </SortHeader>
            ))}
          </tr>
        </thead>
        <tbody ref={bodyRef}>
          {groupedRows(props.grouping, runs, { lead: props.controls === false ? 0 : 2, withSweep, columns }, (run, i) => {
            const visible = props.isVisible(run.id);
            const checked = selected.includes(run.id);
            const color = (props.colorOf ?? runColor)(run.id);
            return (
              <tr
                key={run.id}
                data-testid="run-row"
                data-run-id={run.id}
                data-state={run.state}
                data-visible={visible ? "true" : "false"}
                aria-selected={checked}
                aria-rowindex={i + 2}
                tabIndex={i === focusIndex ? 0 : -1}
                class={checked ? "row-selected" : undefined}
                onKeyDown={(e) => {
                  onRowKey(e, i, run);
                }}
                onFocus={(e) => {
                  if (e.target === e.currentTarget) setFocus(i);
                }}
              >
                {props.controls !== false && (
                <>
                <td class="col-check">
                  <input
                    type="checkbox"
                    tabIndex={-1}
                    checked={checked}
                    aria-label={`Select ${run.name} for comparison`}
                    onChange={() => {
                      props.onToggleSelect(run.id);
                    }}
                    data-testid="run-select"
                  />
                </td>
                <td class="col-eye">
                  <button
                    type="button"
                    tabIndex={-1}
                    class={visible ? "eye eye-on" : "eye"}
                    aria-pressed={visible}
                    aria-label={visible ? `Hide ${run.name} in the charts` : `Show ${run.name} in the charts`}
                    title={visible ? "Shown in the charts (click to hide)" : "Hidden from the charts (click to show)"}
                    onClick={() => {
                      props.onToggleVisible(run.id);
                    }}
                    data-testid="run-eye"
                  >
                    <EyeIcon open={visible} />
                  </button>
                </td>
                </>
                )}
                <td class="col-name">
                  <span class="swatch" style={{ background: visible ? color : "transparent", borderColor: color }} data-testid="run-color" data-color={color} />
                  <a
                    href={href.run(props.entity, props.project, run.id)}
                    class="run-link"
                    tabIndex={-1}
                    data-testid="run-name"
                    title={`${run.name} (${run.id})`}
                  >
                    {run.name}
                  </a>
                </td>
                <td>
                  <StateBadge state={run.state} />
                </td>
                <td class="col-tags">
                  {run.tags.map((t) => (
                    <Tag key={t} name={t} />
                  ))}
                </td>
                {withSweep && <SweepCell entity={props.entity} project={props.project} sweepId={run.sweep_id ?? null} onFilter={props.onFilterSweep} />}
                <td class="nowrap" title={formatDateTime(run.created_at)}>
                  {formatRelative(run.created_at, props.now)}
                </td>
                <td class="nowrap num" data-testid="run-duration">
                  {formatDuration(run.runtime)}
                </td>
                {columns.map((c) => {
                  const v = columnValue(run, c);
                  return (
                    <td key={c.id} class="mono num col-extra" data-field={c.id}>
                      {formatValue(v)}
                    </td>
                  );
                })}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
