import { describe, expect, it } from "vitest";
import { compareRows } from "./compare";

describe("compareRows", () => {
  it("lines up flattened keys and marks differences", () => {
    const rows = compareRows([
      { lr: 0.1, model: { layers: 4, width: 128 }, opt: "adam" },
      { lr: 0.2, model: { layers: 4, width: 128 } },
    ]);
    expect(rows).toEqual([
      { key: "lr", values: [0.1, 0.2], differs: true },
      { key: "model/layers", values: [4, 4], differs: false },
      { key: "model/width", values: [128, 128], differs: false },
      { key: "opt", values: ["adam", undefined], differs: true },
    ]);
  });

  it("compares arrays and objects by value", () => {
    expect(compareRows([{ a: [1, 2] }, { a: [1, 2] }])[0]?.differs).toBe(false);
    expect(compareRows([{ a: [1, 2] }, { a: [2, 1] }])[0]?.differs).toBe(true);
  });
});
