import { describe, expect, it } from "vitest";
import { parseTrial, type SweepParameter, type Trial } from "../../api/sweeps";
import { importanceBars } from "./importance";
import { decades } from "./SweepChart";
import { buildAxes, buildAxis, nudgeBrush, decodeBrushes, describeBrush, encodeBrushes, filterRows, makeBrush, METRIC_AXIS, passes, position, setBrush, ticks, valueAt, type PcRow } from "./parallel";
import { agentCommand, bestTrials, canWrite, flatParams, metricSeries, paramNames, runningBest, scatterPoints, trialState } from "./trials";

function trial(number: number, value: number | null, params: Record<string, unknown>, extra: Record<string, unknown> = {}): Trial {
  return parseTrial({ id: number + 100, number, run_id: `run${number}`, params, value, state: value === null ? "running" : "finished", ...extra });
}

const P = (name: string, distribution: string, rest: Partial<SweepParameter> = {}): SweepParameter => ({ name, distribution, values: null, min: null, max: null, ...rest });

describe("running best", () => {
  it("keeps the lowest so far when minimizing, skipping missing values", () => {
    expect(runningBest([3, null, 1, 2, 0.5], "minimize")).toEqual([3, 3, 1, 1, 0.5]);
  });
  it("keeps the highest so far when maximizing; null until a first value", () => {
    expect(runningBest([null, 0.2, 0.1, 0.9, 0.5], "maximize")).toEqual([null, 0.2, 0.2, 0.9, 0.9]);
  });
});

describe("trials", () => {
  const trials = [trial(0, 0.5, { lr: 0.1 }), trial(1, 0.2, { lr: 0.01 }), trial(2, null, { lr: 0.001 }), trial(3, 0.2, { lr: 0.05 }), trial(4, 0.9, { lr: 1 })];

  it("ranks the best trials by the goal, ties by trial number", () => {
    expect(bestTrials(trials, "minimize", 3).map((t) => t.number)).toEqual([1, 3, 0]);
    expect(bestTrials(trials, "maximize", 2).map((t) => t.number)).toEqual([4, 0]);
  });

  it("gives the metric over trials and the running best", () => {
    const s = metricSeries([...trials].reverse(), "minimize");
    expect(s.x).toEqual([0, 1, 2, 3, 4]);
    expect(s.y.map((v) => (Number.isNaN(v) ? null : v))).toEqual([0.5, 0.2, null, 0.2, 0.9]);
    expect(s.best).toEqual([0.5, 0.2, 0.2, 0.2, 0.2]);
    expect(s.points).toBe(4);
  });

  it("flattens nested parameters with dots and lists the names in the sweep's order", () => {
    expect(flatParams({ optimizer: { lr: 0.1, name: "adam" }, epochs: 3 })).toEqual({ "optimizer.lr": 0.1, "optimizer.name": "adam", epochs: 3 });
    const ts = [trial(0, 1, { optimizer: { lr: 0.1 }, extra: true })];
    expect(paramNames([P("epochs", "constant"), P("optimizer.lr", "uniform")], ts)).toEqual(["epochs", "optimizer.lr", "extra"]);
  });

  it("places scatter points by value, categories at their index", () => {
    const ts = [trial(0, 0.5, { opt: "sgd", lr: 0.1 }), trial(1, 0.3, { opt: "adam", lr: 0.01 }), trial(2, null, { opt: "adam", lr: 1 })];
    expect(scatterPoints(ts, "lr", null)).toEqual({ x: [0.01, 0.1], y: [0.3, 0.5], trials: [1, 0] });
    expect(scatterPoints(ts, "opt", ["adam", "sgd"])).toEqual({ x: [0, 1], y: [0.3, 0.5], trials: [1, 0] });
  });

  it("shows a trial's run state once the run exists (stopped included)", () => {
    expect(trialState(trial(0, 1, {}, { state: "stopped", run: { name: "a", state: "stopped", summary: {} } }))).toBe("stopped");
    expect(trialState(trial(0, 1, {}, { state: "queued", run: null }))).toBe("queued");
    expect(trialState(trial(0, 1, {}, { state: "running", run: null }))).toBe("running");
  });

  it("words the agent command for a server and for the local store", () => {
    const s = { entity: "lab", project: "mnist", id: "k3v9x0aa" };
    expect(agentCommand(s, false)).toBe("fwtrack agent lab/mnist/k3v9x0aa");
    expect(agentCommand(s, true)).toBe("fwtrack agent k3v9x0aa");
  });

  it("lets those who may write runs control sweeps", () => {
    expect(canWrite({ name: "ann", is_admin: false, teams: ["ml"] }, "ml")).toBe(true);
    expect(canWrite({ name: "ann", is_admin: false, teams: [] }, "ann")).toBe(true);
    expect(canWrite({ name: "ann", is_admin: false, teams: ["ml"] }, "bob")).toBe(false);
    expect(canWrite({ name: "root", is_admin: true, teams: [] }, "bob")).toBe(true);
    expect(canWrite(null, "bob")).toBe(false);
    // a team's viewer reads, never writes; an admin of the server writes everywhere
    expect(canWrite({ name: "ann", is_admin: false, teams: ["ml"], read_only: ["ml"] }, "ml")).toBe(false);
    expect(canWrite({ name: "ann", is_admin: false, teams: ["ml", "cv"], read_only: ["ml"] }, "cv")).toBe(true);
    expect(canWrite({ name: "ann", is_admin: false, teams: ["ml"], read_only: ["ml"] }, "ann")).toBe(true);
    expect(canWrite({ name: "root", is_admin: true, teams: ["ml"], read_only: ["ml"] }, "ml")).toBe(true);
  });
});

describe("axes", () => {
  it("scales a linear axis over its bounds and values", () => {
    const a = buildAxis("x", "x", [2, 4], P("x", "uniform", { min: 0, max: 10 }));
    expect(a).toMatchObject({ kind: "linear", min: 0, max: 10 });
    expect(position(a, 2.5)).toBe(0.25);
    expect(valueAt(a, 0.25)).toBe(2.5);
    expect(position(a, "2")).toBeNull();
    expect(position(a, null)).toBeNull();
  });

  it("scales log distributions logarithmically", () => {
    const a = buildAxis("lr", "lr", [0.01], P("lr", "log_uniform_values", { min: 0.001, max: 0.1 }));
    expect(a.kind).toBe("log");
    expect(position(a, 0.01)).toBeCloseTo(0.5, 10);
    expect(valueAt(a, 0.5)).toBeCloseTo(0.01, 10);
    expect(ticks(a, 3).map((t) => t.label)).toEqual(["0.001", "0.01", "0.1"]);
  });

  it("puts listed numbers spanning two decades or more on a log axis", () => {
    const a = buildAxis("lr", "lr", [0.01], P("lr", "categorical", { values: [0.001, 0.01, 0.1] }));
    expect(a.kind).toBe("log");
    expect(position(a, 0.01)).toBeCloseTo(0.5, 10);
    expect(buildAxis("n", "n", [], P("n", "categorical", { values: [16, 32, 64] })).kind).toBe("linear");
  });

  it("takes log_uniform's range from the values (its bounds are exponents)", () => {
    const a = buildAxis("lr", "lr", [Math.exp(-5), Math.exp(-1)], P("lr", "log_uniform", { min: -6, max: 0 }));
    expect(a.kind).toBe("log");
    expect(a.min).toBeCloseTo(Math.exp(-5), 12);
    expect(position(a, Math.exp(-3))).toBeCloseTo(0.5, 10);
  });

  it("spaces categories evenly in their declared order, unseen values after them", () => {
    const a = buildAxis("opt", "opt", ["sgd", "rmsprop"], P("opt", "categorical", { values: ["adam", "sgd"] }));
    expect(a.kind).toBe("category");
    expect(a.categories).toEqual(["adam", "sgd", "rmsprop"]);
    expect(position(a, "adam")).toBe(0);
    expect(position(a, "sgd")).toBe(0.5);
    expect(position(a, "rmsprop")).toBe(1);
    expect(position(a, "other")).toBeNull();
    const b = buildAxis("flag", "flag", [true, false]);
    expect(b.categories).toEqual(["false", "true"]);
    expect(position(b, true)).toBe(1);
  });

  it("puts a single value in the middle", () => {
    expect(position(buildAxis("c", "c", [3, 3]), 3)).toBe(0.5);
    expect(position(buildAxis("c", "c", ["only"]), "only")).toBe(0.5);
  });

  it("builds one axis per parameter then the metric", () => {
    const rows: PcRow[] = [{ id: 1, values: { a: 1, [METRIC_AXIS]: 0.5 } }];
    expect(buildAxes(["a"], [], rows, "loss").map((a) => [a.key, a.label])).toEqual([
      ["a", "a"],
      [METRIC_AXIS, "loss"],
    ]);
  });
});

describe("brushing", () => {
  const axes = [buildAxis("lr", "lr", [0, 10]), buildAxis("opt", "opt", ["adam", "sgd", "rms"]), buildAxis(METRIC_AXIS, "loss", [0, 1])];
  const rows: PcRow[] = [
    { id: 1, values: { lr: 1, opt: "adam", [METRIC_AXIS]: 0.1 } },
    { id: 2, values: { lr: 5, opt: "sgd", [METRIC_AXIS]: 0.5 } },
    { id: 3, values: { lr: 9, opt: "rms", [METRIC_AXIS]: 0.9 } },
    { id: 4, values: { lr: 6, opt: "sgd", [METRIC_AXIS]: null } },
  ];

  it("keeps everything without brushes", () => {
    expect(filterRows(rows, axes, [])).toEqual(new Set([1, 2, 3, 4]));
  });

  it("keeps the rows inside one brush", () => {
    expect(filterRows(rows, axes, [makeBrush("lr", 0.7, 0.4)])).toEqual(new Set([2, 4]));
  });

  it("keeps the rows inside every brush; no value on a brushed axis is outside", () => {
    const brushes = [makeBrush("lr", 0.4, 1), makeBrush(METRIC_AXIS, 0, 0.6)];
    expect(filterRows(rows, axes, brushes)).toEqual(new Set([2]));
  });

  it("brushes categories by their positions (undeclared ones sorted), the ends included", () => {
    expect(filterRows(rows, axes, [makeBrush("opt", 0.5, 1)])).toEqual(new Set([2, 3, 4]));
    expect(describeBrush(axes[1] as (typeof axes)[number], makeBrush("opt", 0.5, 1))).toBe("rms, sgd");
    expect(describeBrush(axes[0] as (typeof axes)[number], makeBrush("lr", 0.2, 0.5))).toBe("2 – 5");
  });

  it("ignores a brush on an axis that is gone", () => {
    expect(passes(rows[0] as PcRow, axes, [makeBrush("gone", 0, 0.1)])).toBe(true);
  });

  it("clamps and orders brush ends; replaces and removes brushes by axis", () => {
    expect(makeBrush("a", 1.3, -0.2)).toEqual({ key: "a", lo: 0, hi: 1 });
    const one = setBrush([], "a", makeBrush("a", 0, 0.5));
    const two = setBrush(one, "b", makeBrush("b", 0.1, 0.2));
    expect(setBrush(two, "a", makeBrush("a", 0.2, 0.3))).toEqual([makeBrush("b", 0.1, 0.2), makeBrush("a", 0.2, 0.3)]);
    expect(setBrush(two, "a", null)).toEqual([makeBrush("b", 0.1, 0.2)]);
  });

  it("moves and resizes a brush from the keyboard, inside the axis", () => {
    const start = nudgeBrush(null, "lr", "up");
    expect(start).toEqual(makeBrush("lr", 0.4, 0.6));
    const up = nudgeBrush(start, "lr", "up");
    expect(up.lo).toBeCloseTo(0.45, 10);
    expect(up.hi).toBeCloseTo(0.65, 10);
    const top = nudgeBrush(makeBrush("lr", 0.75, 0.98), "lr", "up");
    expect(top.hi).toBe(1);
    expect(top.lo).toBeCloseTo(0.77, 10);
    const bottom = nudgeBrush(makeBrush("lr", 0.02, 0.2), "lr", "down");
    expect(bottom.lo).toBe(0);
    expect(bottom.hi).toBeCloseTo(0.18, 10);
    expect(nudgeBrush(makeBrush("lr", 0.2, 0.3), "lr", "grow").hi).toBeCloseTo(0.35, 10);
    const thin = nudgeBrush(makeBrush("lr", 0.2, 0.26), "lr", "shrink");
    expect(thin.hi).toBeCloseTo(0.25, 10);
  });

  it("round-trips brushes through the URL parameter, skipping malformed items", () => {
    const b = [makeBrush("optimizer.lr", 0.25, 0.75), makeBrush(METRIC_AXIS, 0, 0.123456)];
    const s = encodeBrushes(b);
    expect(s).toBe("optimizer.lr:0.25:0.75,@metric:0:0.1235");
    expect(decodeBrushes(s)).toEqual([makeBrush("optimizer.lr", 0.25, 0.75), makeBrush(METRIC_AXIS, 0, 0.1235)]);
    expect(decodeBrushes("bad,x:1:y,a:b:0:1")).toEqual([makeBrush("a:b", 0, 1)]);
    expect(decodeBrushes(undefined)).toEqual([]);
  });
});

describe("importance bars", () => {
  it("orders by importance, scales to the largest and centres correlation", () => {
    const bars = importanceBars({
      metric: "loss",
      count: 10,
      detail: null,
      params: [
        { name: "b", importance: 0.2, correlation: -0.5 },
        { name: "a", importance: 0.8, correlation: 1 },
        { name: "c", importance: null, correlation: null },
      ],
    });
    expect(bars.map((b) => b.name)).toEqual(["a", "b", "c"]);
    expect(bars.map((b) => b.importanceWidth)).toEqual([1, 0.25, 0]);
    expect(bars[0]).toMatchObject({ correlationLeft: 0.5, correlationWidth: 0.5 });
    expect(bars[1]).toMatchObject({ correlationLeft: 0.25, correlationWidth: 0.25 });
    expect(bars[2]).toMatchObject({ correlationLeft: 0.5, correlationWidth: 0 });
  });

  it("has no bars while importance is unknown", () => {
    const bars = importanceBars({ metric: "loss", count: 1, detail: "needs 3", params: [{ name: "z", importance: null, correlation: null }, { name: "y", importance: null, correlation: null }] });
    expect(bars.map((b) => [b.name, b.importanceWidth])).toEqual([
      ["y", 0],
      ["z", 0],
    ]);
  });
});

describe("log axis ticks", () => {
  it("ticks every power of ten in range, else the ends", () => {
    expect(decades(0.0007, 0.13)).toEqual([0.001, 0.01, 0.1]);
    expect(decades(0.001, 0.1)).toEqual([0.001, 0.01, 0.1]);
    expect(decades(2, 5)).toEqual([2, 5]);
    expect(decades(0, 5)).toEqual([]);
  });
});
