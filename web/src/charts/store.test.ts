import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { HistoryResult, SeriesData, StepRange } from "../api/history";
import { poll } from "../lib/poll";
import { appendTail, HistoryStore, type Fetcher } from "./store";

const f = (a: number[]): Float64Array => Float64Array.from(a);

function series(steps: number[], downsampled = false): SeriesData {
  const v = f(steps.map((s) => s * 2));
  return { step: f(steps), value: v, timestamp: f(steps.map((s) => 1000 + s)), min: downsampled ? v : null, max: downsampled ? v : null };
}

interface Call {
  runs: string[];
  keys: string[];
  samples: number;
  range: StepRange | undefined;
}

/** A history backend over in-memory runs: every run has `steps` points for every key. */
function backend(steps: () => number) {
  const calls: Call[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const fetcher: Fetcher = async (_e, _p, runs, keys, samples, range) => {
    calls.push({ runs: [...runs], keys: [...keys], samples, range });
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await Promise.resolve();
    inFlight--;
    const result: HistoryResult = { runs: new Map(), missing: [] };
    for (const r of runs) {
      const m = new Map<string, SeriesData>();
      for (const k of keys) {
        const all = Array.from({ length: steps() }, (_, i) => i).filter(
          (s) => (range?.minStep === undefined || s >= range.minStep) && (range?.maxStep === undefined || s <= range.maxStep),
        );
        if (all.length === 0) continue;
        if (samples > 0 && all.length > samples) {
          const step = Math.ceil(all.length / samples);
          const picked = all.filter((_, i) => i % step === step - 1 || i === all.length - 1);
          m.set(k, series(picked, true));
        } else m.set(k, series(all));
      }
      result.runs.set(r, m);
    }
    return result;
  };
  return { fetcher, calls, maxInFlight: () => maxInFlight };
}

async function settle(store: HistoryStore): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await Promise.resolve();
    await store.idle();
  }
}

describe("appendTail", () => {
  it("replaces from the tail's first step on", () => {
    const merged = appendTail(series([0, 1, 2, 3]), series([3, 4, 5]));
    expect(Array.from(merged?.step ?? [])).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it("reports nothing new when the tail repeats the last point", () => {
    expect(appendTail(series([0, 1, 2]), series([2]))).toBeNull();
    expect(appendTail(series([0, 1, 2]), series([]))).toBeNull();
  });

  it("extends the envelope of a downsampled head with the tail's values", () => {
    const merged = appendTail(series([0, 10, 20], true), series([20, 21]));
    expect(Array.from(merged?.min ?? [])).toEqual([0, 20, 40, 42]);
  });
});

describe("HistoryStore batching", () => {
  it("loads the keys of all panels in view with one request for all runs", async () => {
    const b = backend(() => 10);
    const store = new HistoryStore("e", "p", b.fetcher);
    store.setRuns(["r1", "r2"]);
    store.setPanelKeys("a", ["train/loss"]);
    store.setPanelKeys("b", ["train/acc"]);
    store.setPanelKeys("c", ["train/loss", "epoch"]);
    await settle(store);
    expect(b.calls).toHaveLength(1);
    expect(b.calls[0]?.runs).toEqual(["r1", "r2"]);
    expect(new Set(b.calls[0]?.keys)).toEqual(new Set(["train/loss", "train/acc", "epoch"]));
    expect(store.state("train/loss")).toBe("ready");
    expect(store.get("train/acc")?.get("r2")?.step.length).toBe(10);
  });

  it("fetches only what is missing: new runs, new keys; nothing for panels out of view", async () => {
    const b = backend(() => 5);
    const store = new HistoryStore("e", "p", b.fetcher);
    store.setRuns(["r1"]);
    store.setPanelKeys("a", ["k1"]);
    await settle(store);
    store.setPanelKeys("a", null);
    store.setPanelKeys("b", ["k2"]);
    await settle(store);
    expect(b.calls.map((c) => c.keys)).toEqual([["k1"], ["k2"]]);
    store.setRuns(["r1", "r2"]);
    await settle(store);
    expect(b.calls[2]).toMatchObject({ runs: ["r2"], keys: ["k2"] });
    expect(store.state("k1")).toBe("loading");
    expect(store.state("k1", ["r1"])).toBe("ready");
  });

  it("marks keys as failed and retries when a panel comes back into view", async () => {
    let fail = true;
    const b = backend(() => 3);
    const fetcher: Fetcher = (...args) => (fail ? Promise.reject(new Error("503: busy")) : b.fetcher(...args));
    const store = new HistoryStore("e", "p", fetcher);
    store.setRuns(["r1"]);
    store.setPanelKeys("a", ["k"]);
    await settle(store);
    expect(store.state("k")).toBe("error");
    expect(store.error("k")).toContain("busy");
    fail = false;
    store.setPanelKeys("a", ["k"]);
    await settle(store);
    expect(store.state("k")).toBe("ready");
  });

  it("reports an empty key when no run has data", async () => {
    const b = backend(() => 0);
    const store = new HistoryStore("e", "p", b.fetcher);
    store.setRuns(["r1"]);
    store.setPanelKeys("a", ["k"]);
    await settle(store);
    expect(store.state("k")).toBe("empty");
  });

  it("notifies subscribers of the keys that changed", async () => {
    const b = backend(() => 3);
    const store = new HistoryStore("e", "p", b.fetcher);
    const seen: string[] = [];
    store.subscribe("k", () => seen.push("k"));
    store.subscribe("other", () => seen.push("other"));
    store.setRuns(["r1"]);
    store.setPanelKeys("a", ["k"]);
    await settle(store);
    expect(seen.filter((s) => s === "k").length).toBeGreaterThan(0);
    expect(seen).not.toContain("other");
  });
});

describe("live polling (lib/poll.ts + HistoryStore.refresh)", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("asks only for new points, appends them, never overlaps requests", async () => {
    let steps = 10;
    const b = backend(() => steps);
    const store = new HistoryStore("e", "p", b.fetcher);
    store.setRuns(["r1", "r2"], ["r1"]);
    store.setPanelKeys("a", ["k"]);
    await settle(store);
    expect(b.calls).toHaveLength(1);

    const stop = poll(() => store.refresh(), 2000);
    await vi.advanceTimersByTimeAsync(0);
    // first tick: nothing new
    expect(b.calls[1]).toMatchObject({ runs: ["r1"], keys: ["k"], range: { minStep: 9 } });
    expect(store.get("k")?.get("r1")?.step.length).toBe(10);

    steps = 15;
    await vi.advanceTimersByTimeAsync(2000);
    expect(b.calls).toHaveLength(3);
    expect(b.calls[2]?.range).toEqual({ minStep: 9 });
    expect(store.get("k")?.get("r1")?.step.length).toBe(15);
    // the finished run is not polled
    expect(store.get("k")?.get("r2")?.step.length).toBe(10);

    await vi.advanceTimersByTimeAsync(2000);
    expect(b.calls[3]?.range).toEqual({ minStep: 14 });
    expect(b.maxInFlight()).toBe(1);
    stop();
    const n = b.calls.length;
    await vi.advanceTimersByTimeAsync(10000);
    expect(b.calls.length).toBe(n);
  });

  it("refetches a key whole (downsampled) once it grows past twice the samples", async () => {
    let steps = 150;
    const b = backend(() => steps);
    const store = new HistoryStore("e", "p", b.fetcher);
    store.setSamples(200);
    store.setRuns(["r1"]);
    store.setPanelKeys("a", ["k"]);
    await settle(store);
    expect(store.get("k")?.get("r1")?.min).toBeNull();

    const stop = poll(() => store.refresh(), 2000);
    await vi.advanceTimersByTimeAsync(0);
    steps = 500; // 350 new points: more than the samples, so the tail comes downsampled
    await vi.advanceTimersByTimeAsync(2000);
    const last = b.calls[b.calls.length - 1];
    expect(last?.range).toBeUndefined();
    const s = store.get("k")?.get("r1");
    expect(s?.min).not.toBeNull();
    expect(s?.step[s.step.length - 1]).toBe(499);
    stop();
  });

  it("pauses while the tab is hidden", async () => {
    const b = backend(() => 5);
    const store = new HistoryStore("e", "p", b.fetcher);
    store.setRuns(["r1"]);
    store.setPanelKeys("a", ["k"]);
    await settle(store);
    let hidden = false;
    const spy = vi.spyOn(document, "hidden", "get").mockImplementation(() => hidden);
    const stop = poll(() => store.refresh(), 2000);
    await vi.advanceTimersByTimeAsync(0);
    const n = b.calls.length;
    hidden = true;
    await vi.advanceTimersByTimeAsync(10000);
    expect(b.calls.length).toBe(n);
    const whileHidden = b.calls.length;
    hidden = false;
    document.dispatchEvent(new Event("visibilitychange"));
    await vi.advanceTimersByTimeAsync(0);
    expect(b.calls.length).toBe(whileHidden + 1);
    stop();
    spy.mockRestore();
  });
});

describe("HistoryStore timestamps and point budget", () => {
  it("asks timestamps only for keys on a time axis, with a budget shared by the runs", async () => {
    const calls: { keys: string[]; timestamps: boolean | undefined; budget: number | undefined }[] = [];
    const fetcher: Fetcher = (_e, _p, runs, keys, _samples, _range, _signal, opts) => {
      calls.push({ keys: [...keys], timestamps: opts?.timestamps, budget: opts?.budget });
      const result: HistoryResult = { runs: new Map(), missing: [] };
      for (const r of runs) {
        const m = new Map<string, SeriesData>();
        for (const k of keys) m.set(k, { ...series([0, 1]), timestamp: opts?.timestamps === false ? null : f([5, 6]) });
        result.runs.set(r, m);
      }
      return Promise.resolve(result);
    };
    const store = new HistoryStore("e", "p", fetcher);
    store.setSamples(500);
    store.setRuns(["r1", "r2"]);
    store.setPanelKeys("a", ["loss"]);
    store.setPanelKeys("b", ["acc"], true);
    await settle(store);
    expect(calls).toEqual([
      { keys: ["loss"], timestamps: false, budget: 5000 },
      { keys: ["acc"], timestamps: true, budget: 5000 },
    ]);
    expect(store.get("loss")?.get("r1")?.timestamp).toBeNull();
    expect(store.state("loss")).toBe("ready");
    // the loss panel moves to wall time: its series are fetched again, with timestamps
    store.setPanelKeys("a", ["loss"], true);
    expect(store.state("loss")).toBe("loading");
    await settle(store);
    expect(calls[2]).toEqual({ keys: ["loss"], timestamps: true, budget: 5000 });
    expect(Array.from(store.get("loss")?.get("r2")?.timestamp ?? [])).toEqual([5, 6]);
    expect(store.state("loss")).toBe("ready");
    store.dispose();
  });
});
