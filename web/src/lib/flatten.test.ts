import { describe, expect, it } from "vitest";
import { flatten, getPath, jsonEqual } from "./flatten";

describe("flatten", () => {
  it("joins nested keys with /", () => {
    expect(flatten({ lr: 0.1, model: { layers: 4, act: { name: "relu" } }, tags: [1, 2], empty: {} })).toEqual([
      ["lr", 0.1],
      ["model/layers", 4],
      ["model/act/name", "relu"],
      ["tags", [1, 2]],
      ["empty", {}],
    ]);
    expect(flatten({ a: { b: 1 } }, ".")).toEqual([["a.b", 1]]);
  });
});

describe("getPath", () => {
  it("walks dotted paths and prefers a literal key", () => {
    const o = { model: { layers: 4 }, "train/loss": 0.5, "gpu.0.util": 80 };
    expect(getPath(o, "model.layers")).toBe(4);
    expect(getPath(o, "train/loss")).toBe(0.5);
    expect(getPath(o, "gpu.0.util")).toBe(80);
    expect(getPath(o, "model.missing")).toBeUndefined();
    expect(getPath(o, "train/loss.x")).toBeUndefined();
  });
});

describe("jsonEqual", () => {
  it("compares deeply", () => {
    expect(jsonEqual(1, 1)).toBe(true);
    expect(jsonEqual(1, "1")).toBe(false);
    expect(jsonEqual([1, { a: 2 }], [1, { a: 2 }])).toBe(true);
    expect(jsonEqual(null, undefined)).toBe(false);
    expect(jsonEqual(undefined, undefined)).toBe(true);
  });
});
