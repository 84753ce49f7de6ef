// From the server's columnar series to uPlot's aligned data: x transforms (step, wall time,
// relative time, another metric), and one merge of the runs' x arrays per fetch.

import type { SeriesData } from "../api/history";

/** The x axis of a chart: one of the three built-ins, or any other logged metric key. */
export type XAxis = string;

export const X_STEP = "_step";
export const X_WALL = "_timestamp";
export const X_RELATIVE = "_runtime";

/** Whether `x` is a custom step metric (another key used as x). */
export function isMetricAxis(x: XAxis): boolean {
  return x !== X_STEP && x !== X_WALL && x !== X_RELATIVE;
}

/** A readable name for an x axis. */
export function axisLabel(x: XAxis): string {
  if (x === X_STEP) return "Step";
  if (x === X_WALL) return "Wall time";
  if (x === X_RELATIVE) return "Relative time";
  return x;
}

/**
 * The value of a step metric at each of `steps`: its value at the same step when it was logged
 * there, else linearly interpolated between its neighbouring steps; NaN outside its step range.
 * Both step arrays ascend.
 */
export function valuesAtSteps(steps: Float64Array, mSteps: Float64Array, mValues: Float64Array): Float64Array {
  const n = steps.length;
  const m = mSteps.length;
  const out = new Float64Array(n);
  let j = 0;
  for (let i = 0; i < n; i++) {
    const s = steps[i] as number;
    while (j < m && (mSteps[j] as number) < s) j++;
    if (j < m && mSteps[j] === s) {
      out[i] = mValues[j] as number;
    } else if (j === 0 || j >= m) {
      out[i] = Number.NaN;
    } else {
      const s0 = mSteps[j - 1] as number;
      const s1 = mSteps[j] as number;
      const v0 = mValues[j - 1] as number;
      const v1 = mValues[j] as number;
      out[i] = v0 + ((v1 - v0) * (s - s0)) / (s1 - s0);
    }
  }
  return out;
}

/** Whether charts on axis `x` need each point's timestamp (wall or relative time). */
export function needsTimestamps(x: XAxis): boolean {
  return x === X_WALL || x === X_RELATIVE;
}

/**
 * The x values of one run's series for axis `x`. `start` is the run's start (Unix seconds) for
 * relative time (default: the series' first timestamp); `metric` is the series of the x metric
 * for a custom axis. Step and wall time return the series' own arrays (no copy); a series
 * fetched without timestamps has no x on a time axis (all NaN) until they arrive.
 */
export function xValues(x: XAxis, s: SeriesData, start?: number, metric?: SeriesData | null): Float64Array {
  if (x === X_STEP) return s.step;
  const ts = s.timestamp;
  if (needsTimestamps(x) && ts === null) return new Float64Array(s.step.length).fill(Number.NaN);
  if (x === X_WALL && ts !== null) return ts;
  if (x === X_RELATIVE && ts !== null) {
    let t0 = start;
    if (t0 === undefined || !Number.isFinite(t0)) {
      t0 = Number.NaN;
      for (const t of ts) {
        if (Number.isFinite(t)) {
          t0 = t;
          break;
        }
      }
    }
    const out = new Float64Array(ts.length);
    for (let i = 0; i < ts.length; i++) out[i] = (ts[i] as number) - t0;
    return out;
  }
  if (metric === undefined || metric === null) return new Float64Array(s.step.length).fill(Number.NaN);
  return valuesAtSteps(s.step, metric.step, metric.value);
}

/** One run's columns sharing one x array. */
export interface RunColumns {
  x: Float64Array;
  cols: Float64Array[];
}

/**
 * `run` with points whose x is not finite dropped and the rest ordered by ascending x (stable).
 * Returns `run` itself when it is already clean and sorted (the common case).
 */
export function sortByX(run: RunColumns): RunColumns {
  const { x, cols } = run;
  const n = x.length;
  let clean = true;
  let prev = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const v = x[i] as number;
    if (!Number.isFinite(v) || v < prev) {
      clean = false;
      break;
    }
    prev = v;
  }
  if (clean) return run;
  let m = 0;
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) if (Number.isFinite(x[i])) idx[m++] = i;
  const order = Array.from(idx.subarray(0, m)).sort((a, b) => (x[a] as number) - (x[b] as number) || a - b);
  const nx = new Float64Array(m);
  for (let k = 0; k < m; k++) nx[k] = x[order[k] as number] as number;
  const ncols = cols.map((c) => {
    const o = new Float64Array(m);
    for (let k = 0; k < m; k++) o[k] = c[order[k] as number] as number;
    return o;
  });
  return { x: nx, cols: ncols };
}

function sameArray(a: Float64Array, b: Float64Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The runs on one shared x: the union of their x values, each column NaN where its run has no point. */
export interface Aligned {
  x: Float64Array;
  /** Per run, its columns spread on `x`. */
  cols: Float64Array[][];
}

/**
 * Merge the runs' x arrays (each ascending, finite) into one ascending union and spread every
 * run's columns on it. When all runs share the same x (runs logged at the same steps), their
 * arrays are used as they are. A run with repeated x values keeps the last point of each.
 */
export function alignRuns(runs: readonly RunColumns[]): Aligned {
  if (runs.length === 0) return { x: new Float64Array(0), cols: [] };
  const first = (runs[0] as RunColumns).x;
  let shared = true;
  for (const r of runs) {
    if (!sameArray(r.x, first)) {
      shared = false;
      break;
    }
  }
  if (shared) {
    let dup = false;
    for (let i = 1; i < first.length; i++) {
      if (first[i] === first[i - 1]) {
        dup = true;
        break;
      }
    }
    if (!dup) return { x: first, cols: runs.map((r) => r.cols) };
  }
  let total = 0;
  for (const r of runs) total += r.x.length;
  const all = new Float64Array(total);
  let o = 0;
  for (const r of runs) {
    all.set(r.x, o);
    o += r.x.length;
  }
  all.sort();
  let n = 0;
  for (let i = 0; i < total; i++) {
    const v = all[i] as number;
    if (n === 0 || v !== all[n - 1]) all[n++] = v;
  }
  const x = all.slice(0, n);
  const cols = runs.map((r) => {
    const out = r.cols.map(() => new Float64Array(n).fill(Number.NaN));
    let j = 0;
    for (let i = 0; i < r.x.length; i++) {
      const v = r.x[i] as number;
      while ((x[j] as number) < v) j++;
      for (let c = 0; c < out.length; c++) (out[c] as Float64Array)[j] = (r.cols[c] as Float64Array)[i] as number;
    }
    return out;
  });
  return { x, cols };
}

/** Index of the first element of ascending `a` that is >= `v` (a.length when none is). */
export function lowerBound(a: Float64Array, v: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((a[mid] as number) < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The step range covering the points whose x lies in [x0, x1], over all runs (each given as its
 * x values and steps in the same order), widened by one point on each side so the refetched
 * range fills the view. `null` when no point falls in the range.
 */
export function stepRangeForX(
  runs: readonly { x: Float64Array; step: Float64Array }[],
  x0: number,
  x1: number,
): { minStep: number; maxStep: number } | null {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const r of runs) {
    const n = r.x.length;
    for (let i = 0; i < n; i++) {
      const v = r.x[i] as number;
      if (v >= x0 && v <= x1) {
        const a = r.step[i > 0 ? i - 1 : i] as number;
        const b = r.step[i < n - 1 ? i + 1 : i] as number;
        if (a < lo) lo = a;
        if (b > hi) hi = b;
      }
    }
  }
  return lo <= hi ? { minStep: lo, maxStep: hi } : null;
}
