// uPlot path builders for series held in Float64Arrays where NaN means "no point here" (the
// holes left by aligning runs on one x, and values that cannot be drawn). Lines span the holes;
// many points per pixel column are reduced to that column's first, min, max and last.

import type uPlot from "uplot";

function finiteOn(v: number, log: boolean): boolean {
  return Number.isFinite(v) && (!log || v > 0);
}

function xData(u: uPlot): Float64Array {
  return u.data[0] as unknown as Float64Array;
}

function yData(u: uPlot, i: number): Float64Array {
  return u.data[i] as unknown as Float64Array;
}

/** A line through the finite points of a series (positive ones on a log scale), decimated per pixel column. */
export function linePaths(log: boolean): uPlot.Series.PathBuilder {
  return (u, si, i0, i1) => {
  const xs = xData(u);
  const ys = yData(u, si);
  const s = u.series[si];
  const xKey = u.series[0]?.scale ?? "x";
  const yKey = s?.scale ?? "y";
  const stroke = new Path2D();
  let colX = Number.NaN;
  let first = 0;
  let lo = 0;
  let hi = 0;
  let last = 0;
  let started = false;
  const flush = (): void => {
    if (Number.isNaN(colX)) return;
    if (!started) {
      stroke.moveTo(colX, first);
      started = true;
    } else stroke.lineTo(colX, first);
    if (lo !== hi) {
      stroke.lineTo(colX, lo);
      stroke.lineTo(colX, hi);
    }
    stroke.lineTo(colX, last);
  };
  for (let i = i0; i <= i1; i++) {
    const y = ys[i] as number;
    if (!finiteOn(y, log)) continue;
    const px = Math.round(u.valToPos(xs[i] as number, xKey, true));
    const py = u.valToPos(y, yKey, true);
    if (px !== colX) {
      flush();
      colX = px;
      first = lo = hi = last = py;
    } else {
      if (py < lo) lo = py;
      else if (py > hi) hi = py;
      last = py;
    }
  }
  flush();
  return { stroke, fill: null, clip: null, band: null, flags: 0 };
  };
}

/**
 * A filled band between this series (the min column) and `upper` (the max column, same length),
 * over the points where both are finite: the min/max envelope of a downsampled series.
 */
export function bandPaths(upper: () => Float64Array | null, log: boolean): uPlot.Series.PathBuilder {
  return (u, si, i0, i1) => {
    const xs = xData(u);
    const lows = yData(u, si);
    const highs = upper();
    const xKey = u.series[0]?.scale ?? "x";
    const yKey = u.series[si]?.scale ?? "y";
    const fill = new Path2D();
    if (highs !== null) {
      const idx: number[] = [];
      for (let i = i0; i <= i1; i++) {
        if (finiteOn(lows[i] as number, log) && finiteOn(highs[i] as number, log)) idx.push(i);
      }
      if (idx.length > 1) {
        let firstPt = true;
        for (const i of idx) {
          const px = u.valToPos(xs[i] as number, xKey, true);
          const py = u.valToPos(lows[i] as number, yKey, true);
          if (firstPt) {
            fill.moveTo(px, py);
            firstPt = false;
          } else fill.lineTo(px, py);
        }
        for (let k = idx.length - 1; k >= 0; k--) {
          const i = idx[k] as number;
          fill.lineTo(u.valToPos(xs[i] as number, xKey, true), u.valToPos(highs[i] as number, yKey, true));
        }
        fill.closePath();
      }
    }
    return { stroke: new Path2D(), fill, clip: null, band: null, flags: 0 };
  };
}

/**
 * The finite min and max of `columns` over indices i0..i1 (positive values only for a log
 * scale); null when there is none.
 */
export function finiteRange(
  columns: readonly Float64Array[],
  i0: number,
  i1: number,
  log: boolean,
): [number, number] | null {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const c of columns) {
    const end = Math.min(i1, c.length - 1);
    for (let i = Math.max(0, i0); i <= end; i++) {
      const v = c[i] as number;
      if (finiteOn(v, log)) {
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    }
  }
  return lo <= hi ? [lo, hi] : null;
}

/** The index nearest to `idx` holding a finite value in `ys` (null when none does). */
export function nearestFinite(ys: Float64Array, idx: number): number | null {
  const n = ys.length;
  if (idx >= 0 && idx < n && Number.isFinite(ys[idx])) return idx;
  for (let d = 1; d < n; d++) {
    const a = idx - d;
    const b = idx + d;
    if (a < 0 && b >= n) break;
    if (a >= 0 && a < n && Number.isFinite(ys[a])) return a;
    if (b >= 0 && b < n && Number.isFinite(ys[b])) return b;
  }
  return null;
}
