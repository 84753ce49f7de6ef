import { describe, expect, it } from "vitest";
import { ema } from "./ema";

describe("ema", () => {
  it("leaves values alone at weight 0", () => {
    const v = new Float64Array([1, 5, 3]);
    expect(Array.from(ema(v, 0))).toEqual([1, 5, 3]);
  });

  it("is debiased: a constant series stays constant from the first point", () => {
    const v = new Float64Array([2, 2, 2, 2]);
    for (const x of ema(v, 0.9)) expect(x).toBeCloseTo(2, 12);
  });

  it("matches the debiased recurrence", () => {
    const v = new Float64Array([1, 3]);
    const out = ema(v, 0.5);
    expect(out[0]).toBeCloseTo(1, 12);
    // acc = 0.5*1 = 0.5 -> 0.25 + 1.5 = 1.75; norm = 0.5 -> 0.75; 1.75 / 0.75
    expect(out[1]).toBeCloseTo(1.75 / 0.75, 12);
  });

  it("passes non-finite values through without poisoning the average", () => {
    const v = new Float64Array([1, Number.NaN, Number.POSITIVE_INFINITY, 1]);
    const out = ema(v, 0.8);
    expect(out[1]).toBeNaN();
    expect(out[2]).toBe(Number.POSITIVE_INFINITY);
    expect(out[3]).toBeCloseTo(1, 12);
  });

  it("can write in place", () => {
    const v = new Float64Array([0, 10]);
    const same = ema(v, 0.5, v);
    expect(same).toBe(v);
    expect(v[1]).toBeCloseTo(5 / 0.75, 12);
  });
});
