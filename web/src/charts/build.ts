// One chart's uPlot data from the series of its runs: x transform, smoothing, envelope columns,
// then a single merge of the runs' x arrays. Pure: tested without a browser.

import type uPlot from "uplot";
import type { SeriesData } from "../api/history";
import { ema } from "../lib/ema";
import { alignRuns, sortByX, xValues, type RunColumns, type XAxis } from "./align";

/** A run as the charts see it: the page gives id, name and colour (and optionally its start). */
export interface ChartRun {
  id: string;
  name: string;
  color: string;
  /** Start of the run (Unix seconds), the zero of relative time; default: its first point. */
  start?: number;
  /** Whether the run is still running (live polling asks only for running runs when given). */
  running?: boolean;
}

/** Where each run's series sit in the uPlot series list (0 is x). */
export interface SeriesSlots {
  band: number | null;
  raw: number | null;
  main: number;
}

export interface Built {
  data: uPlot.AlignedData;
  x: Float64Array;
  /** Points drawn, over all runs (points with a finite x and a finite value). */
  points: number;
  /** Per run, its x and step columns in x order (to turn an x range into a step range). */
  runs: { x: Float64Array; step: Float64Array }[];
  /** Per run, the aligned max column of the envelope (null without envelope). */
  upper: (Float64Array | null)[];
  /** Every aligned y column (for the y range). */
  yCols: Float64Array[];
  slots: SeriesSlots[];
  hasBand: boolean;
  smoothed: boolean;
}

const EMPTY = new Float64Array(0);

/**
 * uPlot's data for `runs` on axis `x`: per run (in order) an envelope band (min column, when any
 * run is downsampled), the raw line (when smoothing) and the main line.
 */
export function buildChartData(
  runs: readonly ChartRun[],
  series: (runId: string) => SeriesData | null | undefined,
  metric: (runId: string) => SeriesData | null | undefined,
  x: XAxis,
  smoothing: number,
): Built {
  const smoothed = smoothing > 0;
  let hasBand = false;
  const inputs: (SeriesData | null)[] = runs.map((r) => {
    const s = series(r.id) ?? null;
    if (s !== null && s.min !== null) hasBand = true;
    return s;
  });
  // columns: step, value, main (smoothed or value), min, max
  const cols: RunColumns[] = runs.map((r, i) => {
    const s = inputs[i];
    if (s === null || s === undefined) return { x: EMPTY, cols: [EMPTY, EMPTY, EMPTY, EMPTY, EMPTY] };
    const xs = xValues(x, s, r.start, metric(r.id) ?? null);
    const main = smoothed ? ema(s.value, smoothing) : s.value;
    const lo = s.min ?? s.value;
    const hi = s.max ?? s.value;
    return sortByX({ x: xs, cols: [s.step, s.value, main, lo, hi] });
  });
  let points = 0;
  for (const c of cols) {
    const v = c.cols[1] as Float64Array;
    for (let i = 0; i < v.length; i++) if (Number.isFinite(v[i])) points++;
  }
  const aligned = alignRuns(cols.map((c) => ({ x: c.x, cols: c.cols.slice(1) })));
  const data: (Float64Array | number[])[] = [aligned.x];
  const slots: SeriesSlots[] = [];
  const upper: (Float64Array | null)[] = [];
  const yCols: Float64Array[] = [];
  aligned.cols.forEach((c) => {
    const [value, main, lo, hi] = c as [Float64Array, Float64Array, Float64Array, Float64Array];
    let band: number | null = null;
    let raw: number | null = null;
    if (hasBand) {
      band = data.length;
      data.push(lo);
      upper.push(hi);
      yCols.push(lo, hi);
    } else upper.push(null);
    if (smoothed) {
      raw = data.length;
      data.push(value);
      yCols.push(value);
    }
    slots.push({ band, raw, main: data.length });
    data.push(main);
    yCols.push(main);
  });
  return {
    data: data as unknown as uPlot.AlignedData,
    x: aligned.x,
    points,
    runs: cols.map((c) => ({ x: c.x, step: c.cols[0] as Float64Array })),
    upper,
    yCols,
    slots,
    hasBand,
    smoothed,
  };
}
