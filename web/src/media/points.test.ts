import { describe, expect, it } from "vitest";
import { classColor, rgbOf } from "./overlay";
import { BOX_EDGES, loaderFor, parsePointCloud, unitColor } from "./points";

describe("parsePointCloud", () => {
  it("reads xyz, xyz+category and xyz+rgb points", () => {
    const c = parsePointCloud([[0, 0, 0], [2, 0, 0, 3], [0, 4, 0, 255, 0, 51], ["bad"]]);
    expect(c.count).toBe(3);
    expect([...c.positions]).toEqual([0, 0, 0, 2, 0, 0, 0, 4, 0]);
    const cat = rgbOf(classColor(3)).map((v) => v / 255);
    expect([...c.colors.slice(3, 6)].map((v) => Number(v.toFixed(4)))).toEqual(cat.map((v) => Number(v.toFixed(4))));
    expect([...c.colors.slice(6, 9)].map((v) => Number(v.toFixed(2)))).toEqual([1, 0, 0.2]);
    expect(c.center).toEqual([1, 2, 0]);
    expect(c.radius).toBeCloseTo(Math.hypot(2, 4) / 2);
  });

  it("reads W&B's lidar/beta scenes with boxes and vectors", () => {
    const corners = [[0, 0, 0], [0, 0, 1], [0, 1, 0], [0, 1, 1], [1, 0, 0], [1, 0, 1], [1, 1, 0], [1, 1, 1]];
    const c = parsePointCloud({
      type: "lidar/beta",
      points: [[0, 0, 0]],
      boxes: [{ corners, color: [255, 0, 0], label: "car", score: 0.5 }, { corners: [[0, 0, 0]], color: [1, 1, 1] }],
      vectors: [{ start: [0, 0, 0], end: [1, 1, 1] }, { start: [0] }],
    });
    expect(c.boxes).toEqual([{ corners, color: [1, 0, 0], label: "car", score: 0.5 }]);
    expect(c.vectors).toEqual([{ start: [0, 0, 0], end: [1, 1, 1], color: [1, 1, 0] }]);
    expect(c.radius).toBeCloseTo(Math.sqrt(3) / 2);
  });

  it("refuses what is not a point cloud", () => {
    expect(() => parsePointCloud({ meshes: [] })).toThrow(/not a point cloud/);
  });
});

describe("helpers", () => {
  it("has the 12 edges of a box in W&B's corner order", () => {
    expect(BOX_EDGES).toHaveLength(12);
    for (const [a, b] of BOX_EDGES) expect([1, 2, 4]).toContain(a ^ b);
  });

  it("takes colours in 0..1 or 0..255", () => {
    expect(unitColor([0.5, 0, 1], [0, 0, 0])).toEqual([0.5, 0, 1]);
    expect(unitColor([255, 0, 51], [0, 0, 0])).toEqual([1, 0, 0.2]);
    expect(unitColor("red", [0, 1, 0])).toEqual([0, 1, 0]);
  });

  it("names the loader of each format", () => {
    expect(["glb", "GLTF", "obj", "stl", "pts.json", "babylon"].map(loaderFor)).toEqual(["gltf", "gltf", "obj", "stl", "points", null]);
  });
});
