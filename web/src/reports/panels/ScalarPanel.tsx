// The scalar panel: a summary or config value of the run set, as bars (one per run, or one per
// group with the group's mean or median) or as one number (the agg over the runs).

import { groupRuns } from "../../charts/group";
import type { RunInfo } from "../../api/types";
import { colorsOf } from "../../lib/colors";
import { formatNumber } from "../../lib/format";
import { fieldChoices, fieldOf, GroupingField, KeySelect, PanelFrame, RunSetField, TitleField, useRunSet } from "./common";
import type { Grouping, ReportRef, ScalarAgg, ScalarBlock } from "./types";

export interface Bar {
  id: string;
  label: string;
  color: string;
  value: number;
  /** Runs behind the bar (1 for a run's bar). */
  count: number;
}

function numeric(v: unknown): number | null {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "boolean") return v ? 1 : 0;
  return null;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** The bars of a scalar block: per run, or per group (its agg over the runs with a value). Pure. */
export function scalarBars(runs: readonly RunInfo[], key: string, group: Grouping | null | undefined): Bar[] {
  if (group === null || group === undefined) {
    const bars: Bar[] = [];
    const colorOf = colorsOf(runs.map((r) => r.id));
    for (const r of runs) {
      const v = numeric(fieldOf(r, key));
      if (v !== null) bars.push({ id: r.id, label: r.name, color: colorOf(r.id), value: v, count: 1 });
    }
    return bars;
  }
  const bars: Bar[] = [];
  for (const g of groupRuns(runs, group.by)) {
    const vs = g.runs.map((r) => numeric(fieldOf(r, key))).filter((v): v is number => v !== null);
    if (vs.length === 0) continue;
    bars.push({ id: g.key, label: g.name, color: g.color, value: group.agg === "median" ? median(vs) : mean(vs), count: vs.length });
  }
  return bars;
}

/** The number of a scalar block: `agg` over the runs' values ("last": the newest run's). Pure. */
export function scalarNumber(runs: readonly RunInfo[], key: string, agg: ScalarAgg): number | null {
  const vals = runs.map((r) => ({ at: r.created_at, v: numeric(fieldOf(r, key)) })).filter((x): x is { at: number; v: number } => x.v !== null);
  if (vals.length === 0) return null;
  const vs = vals.map((x) => x.v);
  switch (agg) {
    case "min":
      return Math.min(...vs);
    case "max":
      return Math.max(...vs);
    case "last":
      return vals.reduce((a, b) => (b.at > a.at ? b : a)).v;
    default:
      return mean(vs);
  }
}

function Bars({ bars }: { bars: readonly Bar[] }) {
  const max = Math.max(0, ...bars.map((b) => b.value));
  const min = Math.min(0, ...bars.map((b) => b.value));
  const span = max - min || 1;
  return (
    <div class="rp-bars" role="list">
      {bars.map((b) => {
        const left = ((Math.min(0, b.value) - min) / span) * 100;
        const width = (Math.abs(b.value) / span) * 100;
        return (
          <div key={b.id} class="rp-bar-row" role="listitem" data-testid="scalar-bar" data-id={b.id} data-label={b.label} data-value={b.value} data-count={b.count}>
            <span class="rp-bar-label" title={b.label}>
              {b.label}
            </span>
            <span class="rp-bar-track">
              <span class="rp-bar" style={{ left: `${left}%`, width: `${Math.max(0.5, width)}%`, background: b.color }} />
            </span>
            <span class="rp-bar-value mono">{formatNumber(b.value)}</span>
          </div>
        );
      })}
    </div>
  );
}

export function ScalarPanel({ block, report, editing, onChange }: { block: ScalarBlock; report: ReportRef; editing: boolean; onChange: (b: ScalarBlock) => void }) {
  const rs = useRunSet(report, block.runs);
  const style = block.style ?? "bar";
  const agg = block.agg ?? "mean";
  const set = (patch: Partial<ScalarBlock>): void => { onChange({ ...block, ...patch }); };
  const bars = style === "bar" ? scalarBars(rs.runs, block.key, block.group) : [];
  const value = style === "number" ? scalarNumber(rs.runs, block.key, agg) : null;
  const editor = editing ? (
    <div class="rp-form" data-testid="scalar-editor">
      <TitleField value={block.title} onChange={(t) => { set({ title: t }); }} />
      <RunSetField value={block.runs} onChange={(r) => { set({ runs: r }); }} />
      <KeySelect label="Value" value={block.key} keys={fieldChoices(rs.keys)} testid="scalar-key" onChange={(key) => { set({ key }); }} />
      <label class="rp-field">
        Style
        <select class="input input-small" value={style} data-testid="scalar-style" onChange={(e) => { set({ style: e.currentTarget.value === "number" ? "number" : "bar" }); }}>
          <option value="bar">Bars</option>
          <option value="number">Number</option>
        </select>
      </label>
      {style === "number" ? (
        <label class="rp-field">
          Over the runs
          <select
            class="input input-small"
            value={agg}
            data-testid="scalar-agg"
            onChange={(e) => {
              const v = e.currentTarget.value;
              set({ agg: v === "min" || v === "max" || v === "last" ? v : "mean" });
            }}
          >
            <option value="mean">mean</option>
            <option value="min">min</option>
            <option value="max">max</option>
            <option value="last">last (newest run)</option>
          </select>
        </label>
      ) : (
        <GroupingField value={block.group} configKeys={rs.keys.config} onChange={(group) => { set({ group }); }} />
      )}
    </div>
  ) : undefined;
  return (
    <PanelFrame
      type="scalar"
      title={block.title ?? block.key}
      runs={block.runs}
      state={rs.state === "ready" && rs.runs.length === 0 ? "empty" : rs.state}
      error={rs.error}
      editor={editor}
      attrs={{
        "data-runs": rs.runs.map((r) => r.id).join(","),
        "data-key": block.key,
        "data-style": style,
        "data-agg": agg,
        "data-value": value === null ? "" : value,
        "data-values": JSON.stringify(bars.map((b) => ({ id: b.id, label: b.label, value: b.value }))),
      }}
    >
      {rs.state === "ready" && style === "bar" && (bars.length === 0 ? <div class="report-panel-note muted">No run has a number under {block.key}.</div> : <Bars bars={bars} />)}
      {rs.state === "ready" && style === "number" && (
        <div class="rp-number" data-testid="scalar-number" data-value={value === null ? "" : value}>
          <span class="rp-number-value mono">{value === null ? "—" : formatNumber(value)}</span>
          <span class="muted">
            {agg} of {block.key} over {rs.runs.length} {rs.runs.length === 1 ? "run" : "runs"}
          </span>
        </div>
      )}
    </PanelFrame>
  );
}
