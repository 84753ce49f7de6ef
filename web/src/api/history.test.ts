import { afterEach, describe, expect, it, vi } from "vitest";
import { decodeSeries, fetchHistory, MAX_RUNS_PER_REQUEST, SERIES_MEDIA_TYPE, toFloat64 } from "./history";

type Col = { name: string; type: "f8" | "f4"; values: number[] };

/** A binary answer built as the server lays it out (docs/server.md, "Binary series"). */
function encode(runs: { run: string; downsampled: boolean; series: { key: string; cols: Col[] }[] }[], missing: string[], pad = 0): ArrayBuffer {
  const chunks: { at: number; col: Col }[] = [];
  let size = pad; // a data section that does not start with the first column
  const header = {
    format: 1,
    samples: 100,
    runs: runs.map((r) => ({
      run: r.run,
      downsampled: r.downsampled,
      series: r.series.map((s) => {
        const out: Record<string, unknown> = { key: s.key, n: s.cols[0]?.values.length ?? 0 };
        for (const col of s.cols) {
          size = Math.ceil(size / 8) * 8;
          out[col.name] = [col.type, size];
          chunks.push({ at: size, col });
          size += col.values.length * (col.type === "f8" ? 8 : 4);
        }
        return out;
      }),
    })),
    missing,
  };
  const head = new TextEncoder().encode(JSON.stringify(header));
  const start = Math.ceil((12 + head.length) / 8) * 8;
  const buf = new ArrayBuffer(start + size);
  const bytes = new Uint8Array(buf);
  bytes.set([0x46, 0x57, 0x53, 0x52]);
  const view = new DataView(buf);
  view.setUint32(4, 1, true);
  view.setUint32(8, head.length, true);
  bytes.set(head, 12);
  for (const { at, col } of chunks) {
    col.values.forEach((v, i) => {
      if (col.type === "f8") view.setFloat64(start + at + i * 8, v, true);
      else view.setFloat32(start + at + i * 4, v, true);
    });
  }
  return buf;
}

describe("decodeSeries", () => {
  it("gives back the columns it was built from, float64 ones without a copy", () => {
    const buf = encode(
      [
        {
          run: "r1",
          downsampled: true,
          series: [
            {
              key: "train/loss \"quoted\" é",
              cols: [
                { name: "step", type: "f4", values: [0, 5, 9] },
                { name: "value", type: "f8", values: [0.1, Number.NaN, Number.POSITIVE_INFINITY] },
                { name: "min", type: "f8", values: [0.05, Number.NaN, -1e300] },
                { name: "max", type: "f4", values: [0.5, Number.NaN, Number.NEGATIVE_INFINITY] },
              ],
            },
          ],
        },
        {
          run: "r2",
          downsampled: false,
          series: [
            { key: "lr", cols: [{ name: "step", type: "f8", values: [1] }, { name: "value", type: "f4", values: [0.25] }, { name: "timestamp", type: "f8", values: [1.7e9 + 0.123] }] },
            { key: "empty", cols: [{ name: "step", type: "f8", values: [] }, { name: "value", type: "f8", values: [] }] },
          ],
        },
      ],
      ["gone"],
      4,
    );
    const res = decodeSeries(buf);
    expect(res.missing).toEqual(["gone"]);
    expect([...res.runs.keys()]).toEqual(["r1", "r2"]);
    const loss = res.runs.get("r1")?.get("train/loss \"quoted\" é");
    expect(loss).toBeDefined();
    if (loss === undefined) return;
    expect(Array.from(loss.step)).toEqual([0, 5, 9]);
    expect(loss.value[0]).toBe(0.1);
    expect(loss.value[1]).toBeNaN();
    expect(loss.value[2]).toBe(Number.POSITIVE_INFINITY);
    expect(loss.value.buffer).toBe(buf); // a view on the answer, not a copy
    expect(loss.timestamp).toBeNull();
    expect(loss.min?.[2]).toBe(-1e300);
    expect(loss.max?.[0]).toBe(0.5);
    expect(loss.max?.[2]).toBe(Number.NEGATIVE_INFINITY);
    const lr = res.runs.get("r2")?.get("lr");
    expect(lr?.value[0]).toBe(0.25);
    expect(lr?.value).toBeInstanceOf(Float64Array);
    expect(lr?.timestamp?.[0]).toBe(1.7e9 + 0.123);
    expect(lr?.min).toBeNull();
    expect(res.runs.get("r2")?.get("empty")?.step.length).toBe(0);
  });

  it("refuses what is not a whole answer", () => {
    const good = encode([{ run: "r", downsampled: false, series: [{ key: "k", cols: [{ name: "step", type: "f8", values: [1, 2] }, { name: "value", type: "f8", values: [3, 4] }] }] }], []);
    expect(() => decodeSeries(new ArrayBuffer(4))).toThrow(/magic/);
    const wrongVersion = good.slice(0);
    new DataView(wrongVersion).setUint32(4, 9, true);
    expect(() => decodeSeries(wrongVersion)).toThrow(/version 9/);
    expect(() => decodeSeries(good.slice(0, good.byteLength - 8))).toThrow(/outside/);
  });
});

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

  it("asks for the binary answer, shares the budget among requests and leaves timestamps out", async () => {
    const seen: { accept: string; body: { runs: string[]; budget?: number; timestamps?: boolean; min_samples?: number } }[] = [];
    vi.stubGlobal("fetch", (_url: URL, init: RequestInit) => {
      const headers = init.headers as Record<string, string>;
      const body = JSON.parse(init.body as string) as { runs: string[] };
      seen.push({ accept: headers.Accept ?? "", body });
      const buf = encode(
        body.runs.map((run) => ({ run, downsampled: false, series: [{ key: "loss", cols: [{ name: "step", type: "f4", values: [0, 1] }, { name: "value", type: "f8", values: [2, 3] }] }] })),
        [],
      );
      return Promise.resolve(new Response(buf, { status: 200, headers: { "Content-Type": SERIES_MEDIA_TYPE } }));
    });
    const runs = Array.from({ length: 150 }, (_, i) => `r${i}`);
    const res = await fetchHistory("e", "p", runs, ["loss"], 500, undefined, undefined, { timestamps: false, budget: 3000, minSamples: 50 });
    expect(seen).toHaveLength(2);
    expect(seen[0]?.accept.startsWith(SERIES_MEDIA_TYPE)).toBe(true);
    expect(seen.map((s) => s.body.budget)).toEqual([2000, 1000]);
    expect(seen[0]?.body).toMatchObject({ timestamps: false, min_samples: 50 });
    expect(res.runs.size).toBe(150);
    expect(Array.from(res.runs.get("r149")?.get("loss")?.value ?? [])).toEqual([2, 3]);
    expect(res.runs.get("r0")?.get("loss")?.timestamp).toBeNull();
  });

  it("asks nothing for no runs or no keys", async () => {
    const spy = vi.fn();
    vi.stubGlobal("fetch", spy);
    expect((await fetchHistory("e", "p", [], ["k"], 10)).runs.size).toBe(0);
    expect((await fetchHistory("e", "p", ["r"], [], 10)).runs.size).toBe(0);
    expect(spy).not.toHaveBeenCalled();
  });
});
