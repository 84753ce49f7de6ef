import { describe, expect, it } from "vitest";
import type { SeriesData } from "../api/history";
import { buildChartData, type ChartRun } from "./build";
import { finiteRange, nearestFinite } from "./paths";

const f = (a: number[]): Float64Array => Float64Array.from(a);
const RUNS: ChartRun[] = [
  { id: "a", name: "A", color: "#1f77b4" },
  { id: "b", name: "B", color: "#e8590c" },
];

function s(step: number[], value: number[], downsampled = false): SeriesData {
  return {
    step: f(step),
    value: f(value),
    timestamp: f(step.map((x) => 100 + x)),
    min: downsampled ? f(value.map((v) => v - 1)) : null,
    max: downsampled ? f(value.map((v) => v + 1)) : null,
  };
}

describe("buildChartData", () => {
  it("lays out one main series per run on a shared x, counting drawable points", () => {
    const data = new Map([
      ["a", s([0, 1, 2], [1, 2, Number.NaN])],
      ["b", s([0, 2], [5, 6])],
    ]);
    const b = buildChartData(RUNS, (id) => data.get(id), () => null, "_step", 0);
    expect(b.points).toBe(4);
    expect(b.slots).toEqual([
      { band: null, raw: null, main: 1 },
      { band: null, raw: null, main: 2 },
    ]);
    expect(Array.from(b.data[0] as Float64Array)).toEqual([0, 1, 2]);
    const second = b.data[2] as Float64Array;
    expect(second[1]).toBeNaN();
    expect(second[2]).toBe(6);
  });

  it("adds envelope bands when a run is downsampled and the faint raw line when smoothing", () => {
    const data = new Map([
      ["a", s([0, 1, 2], [1, 2, 3], true)],
      ["b", s([0, 1, 2], [3, 3, 3])],
    ]);
    const b = buildChartData(RUNS, (id) => data.get(id), () => null, "_step", 0.5);
    expect(b.hasBand).toBe(true);
    expect(b.slots).toEqual([
      { band: 1, raw: 2, main: 3 },
      { band: 4, raw: 5, main: 6 },
    ]);
    expect(Array.from(b.data[1] as Float64Array)).toEqual([0, 1, 2]);
    expect(Array.from(b.upper[0] ?? [])).toEqual([2, 3, 4]);
    // a run without envelope gets a zero-height band (its own values)
    expect(Array.from(b.upper[1] ?? [])).toEqual([3, 3, 3]);
    expect(Array.from(b.data[2] as Float64Array)).toEqual([1, 2, 3]);
    expect((b.data[3] as Float64Array)[1]).toBeCloseTo((0.25 + 1) / 0.75, 12);
  });

  it("plots against another metric aligned by step, and handles runs without data", () => {
    const data = new Map([["a", s([0, 10, 20], [1, 2, 3])]]);
    const epoch = new Map([["a", s([0, 20], [0, 2])]]);
    const b = buildChartData(RUNS, (id) => data.get(id), (id) => epoch.get(id), "epoch", 0);
    expect(Array.from(b.x)).toEqual([0, 1, 2]);
    expect(b.points).toBe(3);
    expect(Array.from(b.runs[1]?.x ?? [])).toEqual([]);
  });
});

describe("path helpers", () => {
  it("finiteRange skips non-finite values and non-positive ones on log scales", () => {
    const cols = [f([Number.NaN, -1, 5, Number.POSITIVE_INFINITY]), f([0, 2, Number.NaN, 9])];
    expect(finiteRange(cols, 0, 3, false)).toEqual([-1, 9]);
    expect(finiteRange(cols, 0, 3, true)).toEqual([2, 9]);
    expect(finiteRange(cols, 0, 1, false)).toEqual([-1, 2]);
    expect(finiteRange([f([Number.NaN])], 0, 0, false)).toBeNull();
  });

  it("nearestFinite finds the closest drawable point", () => {
    const ys = f([Number.NaN, 1, Number.NaN, Number.NaN, 4, Number.NaN]);
    expect(nearestFinite(ys, 1)).toBe(1);
    expect(nearestFinite(ys, 2)).toBe(1);
    expect(nearestFinite(ys, 3)).toBe(4);
    expect(nearestFinite(ys, 5)).toBe(4);
    expect(nearestFinite(f([Number.NaN]), 0)).toBeNull();
  });
});
