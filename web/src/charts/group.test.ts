import { describe, expect, it } from "vitest";
import { aggregateGroup, groupColor, groupRuns, NONE_KEY, parseGrouping, type GroupableRun } from "./group";

const f = (xs: readonly number[]): Float64Array => Float64Array.from(xs);
const arr = (a: Float64Array | Uint32Array | null): number[] => (a === null ? [] : [...a]);

function run(id: string, config: GroupableRun["config"], metadata: GroupableRun["metadata"] = {}): GroupableRun {
  return { id, config, metadata };
}

describe("groupRuns", () => {
  const runs = [
    run("a", { lr: 0.1, optim: { name: "sgd" } }, { group: "g2", job_type: "train" }),
    run("b", { lr: 0.01, optim: { name: "adam" } }, { group: "g10" }),
    run("c", { optim: { name: "sgd" } }, { group: "g2" }),
    run("d", { lr: 0.1 }, {}),
    run("e", { lr: "0.1" }),
  ];

  it("groups by a config key: numbers ascending, then strings, the (none) group last", () => {
    const groups = groupRuns(runs, "config.lr");
    expect(groups.map((g) => g.name)).toEqual(["0.01", "0.1", "0.1", "(none)"]);
    expect(groups.map((g) => g.runs.map((r) => r.id))).toEqual([["b"], ["a", "d"], ["e"], ["c"]]);
    expect(groups[3]?.key).toBe(NONE_KEY);
    expect(groups[3]?.value).toBeUndefined();
  });

  it("groups by a nested config key with dots", () => {
    const groups = groupRuns(runs, "config.optim.name");
    expect(groups.map((g) => [g.name, g.runs.map((r) => r.id).join("")])).toEqual([
      ["adam", "b"],
      ["sgd", "ac"],
      ["(none)", "de"],
    ]);
  });

  it("groups by group and job_type (natural order of names)", () => {
    expect(groupRuns(runs, "group").map((g) => [g.name, g.runs.length])).toEqual([
      ["g2", 2],
      ["g10", 1],
      ["(none)", 2],
    ]);
    expect(groupRuns(runs, "job_type").map((g) => [g.name, g.runs.length])).toEqual([
      ["train", 1],
      ["(none)", 4],
    ]);
  });

  it("keeps a group's order and colour whatever other runs there are", () => {
    const all = groupRuns(runs, "config.lr");
    const some = groupRuns([runs[3] as GroupableRun, runs[1] as GroupableRun], "config.lr");
    expect(some.map((g) => g.name)).toEqual(["0.01", "0.1"]);
    expect(some[1]?.color).toBe(all[1]?.color);
    expect(some[1]?.color).toBe(groupColor("config.lr", "0.1"));
  });
});

describe("aggregateGroup", () => {
  it("aligns uneven steps: each x aggregates the runs that have a value there", () => {
    const a = { x: f([0, 1, 2, 3]), y: f([1, 2, 3, 4]) };
    const b = { x: f([0, 2, 4]), y: f([3, 6, 9]) };
    const g = aggregateGroup([a, b], "mean", "minmax");
    expect(arr(g.x)).toEqual([0, 1, 2, 3, 4]);
    expect(arr(g.y)).toEqual([2, 2, 4.5, 4, 9]);
    expect(arr(g.lower)).toEqual([1, 2, 3, 4, 9]);
    expect(arr(g.upper)).toEqual([3, 2, 6, 4, 9]);
    expect(arr(g.count)).toEqual([2, 1, 2, 1, 1]);
  });

  it("ignores missing values (NaN y, non-finite x) and keeps the last of a repeated x", () => {
    const a = { x: f([0, 1, Number.NaN, 2, 2]), y: f([1, Number.NaN, 100, 5, 7]) };
    const b = { x: f([2, 0, 1]), y: f([1, 3, Number.POSITIVE_INFINITY]) };
    const g = aggregateGroup([a, b], "mean", "minmax");
    expect(arr(g.x)).toEqual([0, 2]);
    expect(arr(g.y)).toEqual([2, 4]);
    expect(arr(g.lower)).toEqual([1, 1]);
    expect(arr(g.upper)).toEqual([3, 7]);
  });

  it("a one-run group is the run itself, with a zero-width band", () => {
    const a = { x: f([0, 1, 2]), y: f([0.5, 0.25, 0.125]) };
    for (const band of ["minmax", "std"] as const) {
      const g = aggregateGroup([a], "median", band);
      expect(arr(g.y)).toEqual([0.5, 0.25, 0.125]);
      expect(arr(g.lower)).toEqual([0.5, 0.25, 0.125]);
      expect(arr(g.upper)).toEqual([0.5, 0.25, 0.125]);
    }
  });

  it("median of an even count is the mean of the two middle values", () => {
    const runs = [10, 1, 4, 2].map((v) => ({ x: f([5]), y: f([v]) }));
    expect(arr(aggregateGroup(runs, "median", "none").y)).toEqual([3]);
    expect(arr(aggregateGroup(runs.slice(0, 3), "median", "none").y)).toEqual([4]);
    expect(aggregateGroup(runs, "median", "none").lower).toBeNull();
  });

  it("std is the population standard deviation around the mean", () => {
    // values 2, 4, 4, 4, 5, 5, 7, 9: mean 5, population std 2 (sample std would be 2.138...)
    const runs = [2, 4, 4, 4, 5, 5, 7, 9].map((v) => ({ x: f([0]), y: f([v]) }));
    const g = aggregateGroup(runs, "mean", "std");
    expect(arr(g.y)).toEqual([5]);
    expect(arr(g.lower)).toEqual([3]);
    expect(arr(g.upper)).toEqual([7]);
    // with the median line the band stays centred on the mean
    const m = aggregateGroup(runs, "median", "std");
    expect(arr(m.y)).toEqual([4.5]);
    expect(arr(m.lower)).toEqual([3]);
  });

  it("smooths each run before aggregating", () => {
    const a = { x: f([0, 1]), y: f([0, 10]) };
    const b = { x: f([0, 1]), y: f([10, 10]) };
    // debiased EMA with weight 0.5: a -> [0, 20/3], b -> [10, 10]
    const g = aggregateGroup([a, b], "mean", "minmax", 0.5);
    expect(g.y[0]).toBe(5);
    expect(g.y[1]).toBeCloseTo((20 / 3 + 10) / 2, 12);
    expect(g.lower?.[1]).toBeCloseTo(20 / 3, 12);
  });

  it("no runs: empty", () => {
    const g = aggregateGroup([], "mean", "std");
    expect(g.x.length).toBe(0);
  });
});

describe("parseGrouping", () => {
  it("accepts the contract's shape, fills defaults, refuses bad keys", () => {
    expect(parseGrouping({ by: "config.lr" })).toEqual({ by: "config.lr", agg: "mean", band: "minmax" });
    expect(parseGrouping({ by: "group", agg: "median", band: "std" })).toEqual({ by: "group", agg: "median", band: "std" });
    expect(parseGrouping({ by: "summary.loss" })).toBeNull();
    expect(parseGrouping({ by: "config." })).toBeNull();
    expect(parseGrouping(null)).toBeNull();
  });
});

describe("group colours", () => {
  it("are distinct among the groups shown together", () => {
    const runs: GroupableRun[] = Array.from({ length: 40 }, (_, i) => ({ id: `r${i}`, config: { seed: i } }));
    const groups = groupRuns(runs, "config.seed");
    expect(groups).toHaveLength(40);
    expect(new Set(groups.map((g) => g.color)).size).toBe(40);
  });
});
