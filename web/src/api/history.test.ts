import { afterEach, describe, expect, it, vi } from "vitest";
import { fetchHistory, MAX_RUNS_PER_REQUEST, toFloat64 } from "./history";

describe("toFloat64", () => {
  it("reads the server's spellings of non-finite values once", () => {
    const out = toFloat64([1.5, "NaN", "Infinity", "-Infinity", null]);
    expect(out).toBeInstanceOf(Float64Array);
    expect(out[0]).toBe(1.5);
    expect(out[1]).toBeNaN();
    expect(out[2]).toBe(Number.POSITIVE_INFINITY);
    expect(out[3]).toBe(Number.NEGATIVE_INFINITY);
    expect(out[4]).toBeNaN();
  });
});

describe("fetchHistory", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it("posts one request per 100 runs and converts the columnar answer", async () => {
    const bodies: { runs: string[]; keys: string[]; samples: number; min_step?: number; max_step?: number }[] = [];
    vi.stubGlobal("fetch", (url: URL, init: RequestInit) => {
      expect(url.pathname).toBe("/api/v1/history/team%201/proj");
      expect(init.method).toBe("POST");
      const body = JSON.parse(init.body as string) as { runs: string[]; keys: string[]; samples: number };
      bodies.push(body);
      const answer = {
        runs: body.runs.filter((r) => r !== "gone").map((run) => ({
          run,
          downsampled: true,
          series: { loss: { step: [0, 5], value: [1, "NaN"], timestamp: [10, 11], min: [0.5, "NaN"], max: [1.5, "NaN"] } },
        })),
        missing: body.runs.filter((r) => r === "gone"),
      };
      return Promise.resolve(new Response(JSON.stringify(answer), { status: 200, headers: { "Content-Type": "application/json" } }));
    });
    const runs = [...Array.from({ length: MAX_RUNS_PER_REQUEST + 1 }, (_, i) => `r${i}`), "gone"];
    const res = await fetchHistory("team 1", "proj", runs, ["loss"], 300.4, { minStep: 5, maxStep: Number.NaN });
    expect(bodies).toHaveLength(2);
    expect(bodies[0]?.runs).toHaveLength(MAX_RUNS_PER_REQUEST);
    expect(bodies[0]).toMatchObject({ keys: ["loss"], samples: 300, min_step: 5 });
    expect(bodies[0]?.max_step).toBeUndefined();
    expect(res.missing).toEqual(["gone"]);
    const loss = res.runs.get("r100")?.get("loss");
    expect(Array.from(loss?.step ?? [])).toEqual([0, 5]);
    expect(loss?.value[1]).toBeNaN();
    expect(loss?.min?.[0]).toBe(0.5);
  });

  it("asks nothing for no runs or no keys", async () => {
    const spy = vi.fn();
    vi.stubGlobal("fetch", spy);
    expect((await fetchHistory("e", "p", [], ["k"], 10)).runs.size).toBe(0);
    expect((await fetchHistory("e", "p", ["r"], [], 10)).runs.size).toBe(0);
    expect(spy).not.toHaveBeenCalled();
  });
});
