import { describe, expect, it } from "vitest";
import type { SeriesData } from "../api/history";
import { alignRuns, lowerBound, sortByX, stepRangeForX, valuesAtSteps, xValues, X_RELATIVE, X_STEP, X_WALL } from "./align";

const f = (a: number[]): Float64Array => Float64Array.from(a);
const arr = (a: Float64Array): number[] => Array.from(a);

function series(step: number[], value: number[], timestamp?: number[]): SeriesData {
  return { step: f(step), value: f(value), timestamp: f(timestamp ?? step.map((s) => 1000 + s)), min: null, max: null };
}

describe("x transforms", () => {
  const s = series([0, 10, 20], [1, 2, 3], [100, 105, 130]);

  it("uses the series' own arrays for step and wall time", () => {
    expect(xValues(X_STEP, s)).toBe(s.step);
    expect(xValues(X_WALL, s)).toBe(s.timestamp);
  });

  it("measures relative time from the run's start, else from its first point", () => {
    expect(arr(xValues(X_RELATIVE, s, 90))).toEqual([10, 15, 40]);
    expect(arr(xValues(X_RELATIVE, s))).toEqual([0, 5, 30]);
  });

  it("aligns a custom x metric by step, interpolating between its steps", () => {
    const epoch = series([0, 20], [0, 2]);
    expect(arr(xValues("epoch", s, undefined, epoch))).toEqual([0, 1, 2]);
    const late = series([10, 20], [5, 6]);
    const out = xValues("epoch", s, undefined, late);
    expect(out[0]).toBeNaN();
    expect(arr(out.subarray(1))).toEqual([5, 6]);
    expect(arr(xValues("epoch", s, undefined, null)).every(Number.isNaN)).toBe(true);
  });

  it("valuesAtSteps: exact matches, interpolation, NaN outside", () => {
    const out = valuesAtSteps(f([-1, 0, 5, 10, 11]), f([0, 10]), f([0, 100]));
    expect(out[0]).toBeNaN();
    expect(arr(out.subarray(1, 4))).toEqual([0, 50, 100]);
    expect(out[4]).toBeNaN();
  });
});

describe("sortByX", () => {
  it("returns clean sorted input as is", () => {
    const run = { x: f([1, 2, 3]), cols: [f([4, 5, 6])] };
    expect(sortByX(run)).toBe(run);
  });

  it("drops non-finite x and sorts stably", () => {
    const out = sortByX({ x: f([3, Number.NaN, 1, 3, 2]), cols: [f([30, 0, 10, 31, 20])] });
    expect(arr(out.x)).toEqual([1, 2, 3, 3]);
    expect(arr(out.cols[0] as Float64Array)).toEqual([10, 20, 30, 31]);
  });
});

describe("alignRuns", () => {
  it("shares x without copying when runs have the same steps", () => {
    const x = f([0, 1, 2]);
    const a = f([1, 2, 3]);
    const b = f([4, 5, 6]);
    const out = alignRuns([
      { x, cols: [a] },
      { x: f([0, 1, 2]), cols: [b] },
    ]);
    expect(out.x).toBe(x);
    expect(out.cols[0]?.[0]).toBe(a);
    expect(out.cols[1]?.[0]).toBe(b);
  });

  it("merges different x arrays once, with NaN where a run has no point", () => {
    const out = alignRuns([
      { x: f([0, 2, 4]), cols: [f([1, 2, 3]), f([10, 20, 30])] },
      { x: f([1, 2, 5]), cols: [f([7, 8, 9]), f([70, 80, 90])] },
    ]);
    expect(arr(out.x)).toEqual([0, 1, 2, 4, 5]);
    const [a, b] = out.cols as [Float64Array[], Float64Array[]];
    expect(arr(a[0] as Float64Array).map((v) => (Number.isNaN(v) ? null : v))).toEqual([1, null, 2, 3, null]);
    expect(arr(b[1] as Float64Array).map((v) => (Number.isNaN(v) ? null : v))).toEqual([null, 70, 80, null, 90]);
  });

  it("keeps the last point of repeated x values", () => {
    const out = alignRuns([{ x: f([0, 1, 1, 2]), cols: [f([1, 2, 3, 4])] }]);
    expect(arr(out.x)).toEqual([0, 1, 2]);
    expect(arr(out.cols[0]?.[0] as Float64Array)).toEqual([1, 3, 4]);
  });

  it("handles no runs and empty runs", () => {
    expect(alignRuns([]).x.length).toBe(0);
    const out = alignRuns([
      { x: f([]), cols: [f([])] },
      { x: f([3]), cols: [f([1])] },
    ]);
    expect(arr(out.x)).toEqual([3]);
    expect(out.cols[0]?.[0]?.[0]).toBeNaN();
  });
});

describe("ranges", () => {
  it("lowerBound", () => {
    const a = f([1, 3, 3, 7]);
    expect(lowerBound(a, 0)).toBe(0);
    expect(lowerBound(a, 3)).toBe(1);
    expect(lowerBound(a, 4)).toBe(3);
    expect(lowerBound(a, 9)).toBe(4);
  });

  it("turns an x range into the step range around it", () => {
    const runs = [
      { x: f([0, 10, 20, 30]), step: f([0, 100, 200, 300]) },
      { x: f([5, 15]), step: f([50, 150]) },
    ];
    expect(stepRangeForX(runs, 9, 21)).toEqual({ minStep: 0, maxStep: 300 });
    expect(stepRangeForX(runs, 14, 16)).toEqual({ minStep: 50, maxStep: 150 });
    expect(stepRangeForX(runs, 100, 200)).toBeNull();
  });
});
