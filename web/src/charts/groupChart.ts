// One chart's uPlot data when its runs are grouped: per group a band (lower column, upper kept
// aside for the band path) and the aggregate line, plus the own lines of the runs of expanded
// groups. Same shape as buildChartData's result, so Chart.tsx draws it the same way. Pure.

import type { SeriesData } from "../api/history";
import { ema } from "../lib/ema";
import { alignRuns, sortByX, xValues, type RunColumns, type XAxis } from "./align";
import type { Built, ChartRun, SeriesSlots } from "./build";
import { aggregateGroup, type GroupAgg, type GroupBand } from "./group";

/** A group as a chart draws it (the page groups the runs: see group.ts groupRuns). */
export interface ChartGroup {
  key: string;
  name: string;
  color: string;
  /** Its runs (ids of the chart's runs). */
  runIds: readonly string[];
  /** Expanded: the runs' own lines are drawn too. */
  expanded: boolean;
}

/** The chart grid's grouping: groups, how they are drawn, and the legend's expand toggle. */
export interface ChartGrouping {
  groups: readonly ChartGroup[];
  agg: GroupAgg;
  band: GroupBand;
  onToggle?: (key: string) => void;
}

/** A group's drawn values (exposed on the chart element as `data-groups`, JSON; NaN is null). */
export interface GroupLine {
  key: string;
  name: string;
  count: number;
  x: number[];
  y: number[];
  lower: number[] | null;
  upper: number[] | null;
}

/** The legend / tooltip name of a group: its name and run count. */
export function groupLabel(name: string, count: number): string {
  return `${name} (${count} ${count === 1 ? "run" : "runs"})`;
}

/** A signature of what a grouping draws (the chart rebuilds when it changes). */
export function groupingSig(g: ChartGrouping | undefined): string {
  if (g === undefined) return "";
  return [g.agg, g.band, ...g.groups.map((x) => `${x.key}:${x.color}:${x.expanded ? 1 : 0}:${x.runIds.join(",")}`)].join("|");
}

/**
 * The chart data of grouped runs. `shown` lists what each slot draws (a group entry named by
 * groupLabel with the group's colour, or a run of an expanded group), in slot order.
 */
export function buildGroupedChartData(
  grouping: ChartGrouping,
  runs: readonly ChartRun[],
  series: (runId: string) => SeriesData | null | undefined,
  metric: (runId: string) => SeriesData | null | undefined,
  x: XAxis,
  smoothing: number,
): { built: Built; shown: ChartRun[]; lines: GroupLine[] } {
  const byId = new Map(runs.map((r) => [r.id, r]));
  const perRun = new Map<string, { x: Float64Array; step: Float64Array; value: Float64Array }>();
  let points = 0;
  for (const r of runs) {
    const s = series(r.id);
    if (s === null || s === undefined) continue;
    const xs = xValues(x, s, r.start, metric(r.id) ?? null);
    const c = sortByX({ x: xs, cols: [s.step, s.value] });
    const value = c.cols[1] as Float64Array;
    for (const v of value) if (Number.isFinite(v)) points++;
    perRun.set(r.id, { x: c.x, step: c.cols[0] as Float64Array, value });
  }
  const entries: RunColumns[] = [];
  const shown: ChartRun[] = [];
  const bandOf: boolean[] = [];
  const lines: GroupLine[] = [];
  for (const g of grouping.groups) {
    const members = g.runIds.filter((id) => byId.has(id));
    if (members.length === 0) continue;
    const agg = aggregateGroup(
      members.map((id) => perRun.get(id)).filter((s) => s !== undefined).map((s) => ({ x: s.x, y: s.value })),
      grouping.agg,
      grouping.band,
      smoothing,
    );
    const nan = new Float64Array(agg.x.length).fill(Number.NaN);
    entries.push({ x: agg.x, cols: [agg.lower ?? nan, agg.upper ?? nan, agg.y] });
    bandOf.push(agg.lower !== null);
    shown.push({ id: `group:${g.key}`, name: groupLabel(g.name, members.length), color: g.color });
    lines.push({
      key: g.key,
      name: g.name,
      count: members.length,
      x: [...agg.x],
      y: [...agg.y],
      lower: agg.lower === null ? null : [...agg.lower],
      upper: agg.upper === null ? null : [...agg.upper],
    });
    if (!g.expanded) continue;
    for (const id of members) {
      const s = perRun.get(id);
      const run = byId.get(id);
      if (s === undefined || run === undefined) continue;
      const blank = new Float64Array(s.x.length).fill(Number.NaN);
      entries.push({ x: s.x, cols: [blank, blank, smoothing > 0 ? ema(s.value, smoothing) : s.value] });
      bandOf.push(false);
      shown.push(run);
    }
  }
  const aligned = alignRuns(entries);
  const data: Float64Array[] = [aligned.x];
  const slots: SeriesSlots[] = [];
  const upper: (Float64Array | null)[] = [];
  const yCols: Float64Array[] = [];
  aligned.cols.forEach((c, i) => {
    const [lo, hi, main] = c as [Float64Array, Float64Array, Float64Array];
    let band: number | null = null;
    if (bandOf[i] === true) {
      band = data.length;
      data.push(lo);
      upper.push(hi);
      yCols.push(lo, hi);
    } else upper.push(null);
    slots.push({ band, raw: null, main: data.length });
    data.push(main);
    yCols.push(main);
  });
  return {
    built: {
      data,
      x: aligned.x,
      points,
      runs: [...perRun.values()].map((r) => ({ x: r.x, step: r.step })),
      upper,
      yCols,
      slots,
      hasBand: bandOf.includes(true),
      smoothed: false,
    },
    shown,
    lines,
  };
}
