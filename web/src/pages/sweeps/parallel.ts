// Parallel coordinates, the pure part: one axis per parameter plus the metric, each scaled to
// 0 (bottom) .. 1 (top) (linear, log, or evenly spaced categories), and brushes (position
// ranges on axes) that keep the rows passing every brushed axis. No UI code here.

import type { SweepParameter } from "../../api/sweeps";
import type { Json } from "../../api/types";
import { categoryLabel } from "./trials";

/** The key of the metric's axis (parameter names never start with `@`). */
export const METRIC_AXIS = "@metric";

const LOG_DISTRIBUTIONS = new Set(["log_uniform", "log_uniform_values", "q_log_uniform", "q_log_uniform_values", "inv_log_uniform", "inv_log_uniform_values"]);

export interface Axis {
  key: string;
  label: string;
  kind: "linear" | "log" | "category";
  /** Numeric axes: the range shown (min at the bottom). */
  min: number;
  max: number;
  /** Category axes: the labels, bottom to top. */
  categories: string[];
}

/** One line: a trial's values by axis key (`METRIC_AXIS` for the metric). */
export interface PcRow {
  id: number;
  values: Record<string, Json | undefined>;
}

/** A brushed range on one axis, as positions (0 bottom .. 1 top), `lo <= hi`. */
export interface Brush {
  key: string;
  lo: number;
  hi: number;
}

function isNum(v: Json | undefined): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

/** One axis over the values seen (and, for a parameter, its declared values or bounds). */
export function buildAxis(key: string, label: string, seen: readonly (Json | undefined)[], param?: SweepParameter): Axis {
  const declared: Json[] = param?.values ?? [];
  const present = seen.filter((v) => v !== undefined && v !== null);
  const all = [...declared, ...present];
  const numericAxis = all.length > 0 && all.every(isNum);
  if (!numericAxis) {
    const categories: string[] = [];
    for (const v of all) {
      const c = categoryLabel(v);
      if (!categories.includes(c)) categories.push(c);
    }
    // declared values keep their order; values only seen are sorted after them
    const extra = categories.slice(declared.length).sort();
    return { key, label, kind: "category", min: 0, max: Math.max(0, categories.length - 1), categories: [...categories.slice(0, declared.length), ...extra] };
  }
  const nums = all;
  if (param?.min !== null && param?.min !== undefined && param.values === null) nums.push(param.min);
  if (param?.max !== null && param?.max !== undefined && param.values === null) nums.push(param.max);
  let min = Math.min(...nums);
  let max = Math.max(...nums);
  // log_uniform's bounds are exponents: the values, not the bounds, set the range
  if (param?.distribution === "log_uniform" || param?.distribution === "q_log_uniform") {
    const vals = present.filter(isNum);
    if (vals.length > 0) {
      min = Math.min(...vals);
      max = Math.max(...vals);
    }
  }
  // a log distribution, or listed values spanning two decades or more (0.001, 0.01, 0.1)
  const wide = param?.values !== null && param?.values !== undefined && min > 0 && max / min >= 100;
  const log = param !== undefined && (LOG_DISTRIBUTIONS.has(param.distribution) || wide) && min > 0;
  return { key, label, kind: log ? "log" : "linear", min, max, categories: [] };
}

/** The axes: one per parameter name (in order), then the metric's. */
export function buildAxes(names: readonly string[], parameters: readonly SweepParameter[], rows: readonly PcRow[], metricName: string): Axis[] {
  const byName = new Map(parameters.map((p) => [p.name, p]));
  const axes = names.map((n) => buildAxis(n, n, rows.map((r) => r.values[n]), byName.get(n)));
  axes.push(buildAxis(METRIC_AXIS, metricName, rows.map((r) => r.values[METRIC_AXIS])));
  return axes;
}

/** Where `v` sits on `axis`, 0 (bottom) .. 1 (top); null when it cannot be placed. */
export function position(axis: Axis, v: Json | undefined): number | null {
  if (v === undefined || v === null) return null;
  if (axis.kind === "category") {
    const i = axis.categories.indexOf(categoryLabel(v));
    if (i < 0) return null;
    return axis.categories.length === 1 ? 0.5 : i / (axis.categories.length - 1);
  }
  if (!isNum(v)) return null;
  if (axis.kind === "log") {
    if (v <= 0) return null;
    const lo = Math.log(axis.min);
    const hi = Math.log(axis.max);
    return hi === lo ? 0.5 : (Math.log(v) - lo) / (hi - lo);
  }
  return axis.max === axis.min ? 0.5 : (v - axis.min) / (axis.max - axis.min);
}

/** The value at position `p` of a numeric axis (the inverse of `position`). */
export function valueAt(axis: Axis, p: number): number {
  if (axis.kind === "log") return Math.exp(Math.log(axis.min) + p * (Math.log(axis.max) - Math.log(axis.min)));
  return axis.min + p * (axis.max - axis.min);
}

/** Tick labels of an axis with their positions (categories: each; numeric: `n` evenly). */
export function ticks(axis: Axis, n = 5): { pos: number; label: string }[] {
  if (axis.kind === "category") return axis.categories.map((c, i) => ({ pos: axis.categories.length === 1 ? 0.5 : i / (axis.categories.length - 1), label: c }));
  if (axis.min === axis.max) return [{ pos: 0.5, label: formatTick(axis.min) }];
  const out: { pos: number; label: string }[] = [];
  for (let i = 0; i < n; i++) {
    const p = i / (n - 1);
    out.push({ pos: p, label: formatTick(valueAt(axis, p)) });
  }
  return out;
}

/** A short label for a tick value. */
export function formatTick(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1).replace("e+", "e");
  return String(Number(v.toPrecision(3)));
}

/** A brush from two positions in any order, clamped to 0..1. */
export function makeBrush(key: string, a: number, b: number): Brush {
  const clamp = (x: number): number => Math.max(0, Math.min(1, x));
  return { key, lo: clamp(Math.min(a, b)), hi: clamp(Math.max(a, b)) };
}

/** True when the row lies inside every brush (a row without a value on a brushed axis does not). */
export function passes(row: PcRow, axes: readonly Axis[], brushes: readonly Brush[]): boolean {
  for (const b of brushes) {
    const axis = axes.find((a) => a.key === b.key);
    if (axis === undefined) continue; // a brush on an axis that is gone filters nothing
    const p = position(axis, row.values[b.key]);
    if (p === null) return false;
    // a hair of slack so a brush drawn exactly to an end or a category keeps it
    if (p < b.lo - 1e-9 || p > b.hi + 1e-9) return false;
  }
  return true;
}

/** The ids of the rows inside every brush (all ids without brushes). */
export function filterRows(rows: readonly PcRow[], axes: readonly Axis[], brushes: readonly Brush[]): Set<number> {
  return new Set(rows.filter((r) => passes(r, axes, brushes)).map((r) => r.id));
}

/** `brushes` with the brush of `brush.key` replaced by `brush` (or removed, given null for that key). */
export function setBrush(brushes: readonly Brush[], key: string, brush: Brush | null): Brush[] {
  const rest = brushes.filter((b) => b.key !== key);
  return brush === null ? rest : [...rest, brush];
}

/** What a brush keeps, in the axis's terms: `[lo, hi]` values, or the categories inside. */
export function describeBrush(axis: Axis, b: Brush): string {
  if (axis.kind === "category") {
    const inside = axis.categories.filter((c) => {
      const p = position(axis, c);
      return p !== null && p >= b.lo - 1e-9 && p <= b.hi + 1e-9;
    });
    return inside.join(", ");
  }
  return `${formatTick(valueAt(axis, b.lo))} – ${formatTick(valueAt(axis, b.hi))}`;
}

/** A colour for a metric position 0..1 (better at 1 when maximizing): blue (low) to orange (high). */
export function lineColor(p: number | null): string {
  if (p === null) return "#9aa3ad";
  const c = Math.max(0, Math.min(1, p));
  const lo = [47, 91, 211];
  const hi = [222, 110, 25];
  const mix = lo.map((l, i) => Math.round(l + c * ((hi[i] as number) - l)));
  return `rgb(${mix.join(",")})`;
}

/** Brushes as a URL parameter: `lr:0.25:0.75,@metric:0:0.5` (positions to 4 places). */
export function encodeBrushes(brushes: readonly Brush[]): string {
  const r = (x: number): string => String(Math.round(x * 10_000) / 10_000);
  return brushes.map((b) => `${b.key}:${r(b.lo)}:${r(b.hi)}`).join(",");
}

/** The brushes of a URL parameter; malformed items are skipped. */
export function decodeBrushes(raw: string | undefined): Brush[] {
  if (raw === undefined || raw === "") return [];
  const out: Brush[] = [];
  for (const item of raw.split(",")) {
    const m = /^(.+):([0-9.eE+-]+):([0-9.eE+-]+)$/.exec(item);
    if (m === null) continue;
    const lo = Number(m[2]);
    const hi = Number(m[3]);
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) continue;
    out.push(makeBrush(m[1] as string, lo, hi));
  }
  return out;
}

/** A brush moved from the keyboard: `up`/`down` move it, `grow`/`shrink` its top end; none yet starts one in the middle. */
export function nudgeBrush(brush: Brush | null, key: string, action: "up" | "down" | "grow" | "shrink", step = 0.05): Brush {
  const b = brush ?? makeBrush(key, 0.4, 0.6);
  if (brush === null) return b;
  const width = b.hi - b.lo;
  switch (action) {
    case "up": {
      const hi = Math.min(1, b.hi + step);
      return makeBrush(key, hi - width, hi);
    }
    case "down": {
      const lo = Math.max(0, b.lo - step);
      return makeBrush(key, lo, lo + width);
    }
    case "grow":
      return makeBrush(key, b.lo, Math.min(1, b.hi + step));
    case "shrink":
      return makeBrush(key, b.lo, Math.max(b.lo + step, b.hi - step));
  }
}
