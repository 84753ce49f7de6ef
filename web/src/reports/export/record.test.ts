import { afterEach, describe, expect, it, vi } from "vitest";

import { ApiError, isReplaying, pendingRequests, request, requestBlob, setRecorder, setReplay } from "../../api/client";
import { json, stubFetch } from "../../api/test-utils";
import { fromBase64, recorderInto, replayFrom, toBase64, type Answers } from "./record";

const net = stubFetch("fwk_test");

afterEach(() => {
  setRecorder(null);
  setReplay(null);
});

describe("recording", () => {
  it("keeps every GET answer by path and query while on, nothing while off", async () => {
    net.answer = (url) => (url.pathname.endsWith("/blob") ? new Response(new Uint8Array([0, 1, 254, 255]), { headers: { "Content-Type": "image/png" } }) : json({ at: url.search }));
    await request("/runs/e/p", { query: { limit: 5 } });
    const answers: Answers = {};
    setRecorder(recorderInto(answers));
    await request("/runs/e/p", { query: { limit: 50, filter: "config.lr > 0.01" } });
    await requestBlob("/media/e/p/r/blob");
    await request("/runs/e/p", { method: "POST", body: { x: 1 } });
    setRecorder(null);
    await request("/runs/e/p/other");
    expect(Object.keys(answers).sort()).toEqual(["/api/v1/media/e/p/r/blob", "/api/v1/runs/e/p?limit=50&filter=config.lr+%3E+0.01"]);
    expect(JSON.parse(answers["/api/v1/runs/e/p?limit=50&filter=config.lr+%3E+0.01"]?.text ?? "")).toEqual({ at: "?limit=50&filter=config.lr+%3E+0.01" });
    expect(answers["/api/v1/media/e/p/r/blob"]).toEqual({ type: "image/png", b64: toBase64(new Uint8Array([0, 1, 254, 255])) });
    expect(pendingRequests()).toBe(0);
  });

  it("counts requests pending until they are answered", async () => {
    let release: (r: Response) => void = () => undefined;
    vi.stubGlobal("fetch", () => new Promise<Response>((ok) => (release = ok)));
    const p = request("/slow");
    await Promise.resolve();
    expect(pendingRequests()).toBe(1);
    release(json({ ok: true }));
    await p;
    expect(pendingRequests()).toBe(0);
  });
});

describe("replay", () => {
  it("answers recorded GETs without the network, refuses writes and unknown paths", async () => {
    const answers: Answers = {
      "/api/v1/reports/e/p/abc": { type: "application/json", text: JSON.stringify({ title: "T" }) },
      "/api/v1/media/e/p/r/x?step=3": { type: "image/png", b64: toBase64(new Uint8Array([137, 80, 78, 71])) },
    };
    setReplay(replayFrom(answers));
    expect(isReplaying()).toBe(true);
    expect(await request("/reports/e/p/abc")).toEqual({ title: "T" });
    const blob = await requestBlob("/media/e/p/r/x", { query: { step: 3 } });
    expect(blob.type).toBe("image/png");
    expect(Array.from(new Uint8Array(await blob.arrayBuffer()))).toEqual([137, 80, 78, 71]);
    await expect(request("/reports/e/p/abc", { method: "PATCH", body: {} })).rejects.toMatchObject({ status: 403 });
    const missing = await request("/reports/e/p/other").catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ApiError);
    expect((missing as ApiError).status).toBe(404);
    expect((missing as ApiError).detail).toContain("/api/v1/reports/e/p/other is not part of this exported report");
    expect(net.calls).toHaveLength(0);
    // names of Object.prototype are no answers
    expect(replayFrom({})("constructor")).toBeNull();
    expect(replayFrom({})("__proto__")).toBeNull();
  });

  it("round-trips what was recorded", async () => {
    net.answer = (url) => json({ path: url.pathname, q: url.searchParams.get("keys") });
    const answers: Answers = {};
    setRecorder(recorderInto(answers));
    const live = await request("/history/e/p/r", { query: { keys: "a,b", samples: 1000 } });
    setRecorder(null);
    const calls = net.calls.length;
    setReplay(replayFrom(JSON.parse(JSON.stringify(answers)) as Answers));
    expect(await request("/history/e/p/r", { query: { keys: "a,b", samples: 1000 } })).toEqual(live);
    expect(net.calls).toHaveLength(calls);
  });

  it("base64 keeps every byte", () => {
    const bytes = new Uint8Array(70_000).map((_, i) => (i * 7) % 256);
    expect(Array.from(fromBase64(toBase64(bytes)))).toEqual(Array.from(bytes));
  });
});

describe("history replay", () => {
  const series = (v: number) => ({ step: [0, 1], value: [v, v / 2], timestamp: [10, 11] });
  const post = (body: unknown) => `POST /api/v1/history/e/p ${JSON.stringify(body)}`;

  it("records the POST that reads histories by its body, and answers a request batched differently", async () => {
    net.answer = (url, init) => {
      if (!url.pathname.startsWith("/api/v1/history/")) return json({});
      const body = JSON.parse(init.body as string) as { runs: string[]; keys: string[] };
      return json({
        runs: body.runs.filter((r) => r !== "gone").map((r) => ({ run: r, series: Object.fromEntries(body.keys.filter((k) => k !== "absent").map((k) => [k, series(r.length + k.length)])), downsampled: false })),
        missing: body.runs.filter((r) => r === "gone"),
      });
    };
    const answers: Answers = {};
    setRecorder(recorderInto(answers));
    await request("/history/e/p", { method: "POST", body: { runs: ["a", "bb"], keys: ["loss"], samples: 500 } });
    await request("/history/e/p", { method: "POST", body: { runs: ["a", "bb", "gone"], keys: ["acc", "absent"], samples: 500 } });
    await request("/reports/e/p/x", { method: "PATCH", body: {} });
    setRecorder(null);
    expect(Object.keys(answers).sort()).toEqual([post({ runs: ["a", "bb", "gone"], keys: ["acc", "absent"], samples: 500 }), post({ runs: ["a", "bb"], keys: ["loss"], samples: 500 })]);
    const calls = net.calls.length;
    setReplay(replayFrom(answers));
    // recorded as such
    expect(await request("/history/e/p", { method: "POST", body: { runs: ["a", "bb"], keys: ["loss"], samples: 500 } })).toEqual({
      runs: [{ run: "a", series: { loss: series(5) }, downsampled: false }, { run: "bb", series: { loss: series(6) }, downsampled: false }],
      missing: [],
    });
    // both keys at once, another sample count: composed
    expect(await request("/history/e/p", { method: "POST", body: { runs: ["bb", "gone"], keys: ["loss", "acc", "absent"], samples: 800 } })).toEqual({
      runs: [{ run: "bb", series: { loss: series(6), acc: series(5) }, downsampled: false }],
      missing: ["gone"],
    });
    // a key never read, a run never read, a frozen moment never read: not answered
    await expect(request("/history/e/p", { method: "POST", body: { runs: ["a"], keys: ["lr"], samples: 500 } })).rejects.toMatchObject({ status: 404 });
    await expect(request("/history/e/p", { method: "POST", body: { runs: ["c"], keys: ["loss"], samples: 500 } })).rejects.toMatchObject({ status: 404 });
    await expect(request("/history/e/p", { method: "POST", body: { runs: ["a"], keys: ["loss"], samples: 500, until: 5 } })).rejects.toMatchObject({ status: 404 });
    // other POSTs are writes: refused
    await expect(request("/reports/e/p", { method: "POST", body: {} })).rejects.toMatchObject({ status: 403 });
    expect(net.calls).toHaveLength(calls);
  });
});
