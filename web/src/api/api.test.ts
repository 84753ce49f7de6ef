import { describe, expect, it, vi } from "vitest";
import { signInWithKey, login, signOut } from "./auth";
import { ApiError, onUnauthorized, request, storeApiKey, storedApiKey } from "./client";
import { histogramKeys, parseHistogramKeys } from "./histograms";
import { fieldsOf, getRun, getRuns, listRuns, runFields } from "./runs";
import { json, runInfo, stubFetch, type FetchCall } from "./test-utils";

const server = stubFetch();

function header(call: FetchCall | undefined, name: string): string | undefined {
  return (call?.init.headers as Record<string, string> | undefined)?.[name];
}

describe("request", () => {
  it("sends the stored key and reads the server's error detail", async () => {
    storeApiKey("fwk_test");
    server.answer = () => json({ detail: "no project 'x'; hint: check the name" }, 404);
    const err = await request("/projects").catch((e: unknown) => e);
    expect(header(server.calls[0], "Authorization")).toBe("Bearer fwk_test");
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(404);
    expect((err as ApiError).detail).toBe("no project 'x'; hint: check the name");
  });

  it("sends no Authorization header without a key (fwtrack ui)", async () => {
    server.answer = () => json({ name: "local", is_admin: true, teams: [] });
    await request("/viewer");
    expect(header(server.calls[0], "Authorization")).toBeUndefined();
  });

  it("reports a 401 to the global handler, except for auth: false", async () => {
    const seen: string[] = [];
    onUnauthorized((d) => seen.push(d));
    server.answer = () => json({ detail: "unknown API key" }, 401);
    await expect(request("/projects")).rejects.toBeInstanceOf(ApiError);
    await expect(request("/viewer", { auth: false })).rejects.toBeInstanceOf(ApiError);
    expect(seen).toEqual(["unknown API key"]);
  });

  it("turns a network failure into a readable error", async () => {
    vi.stubGlobal("fetch", () => Promise.reject(new TypeError("Failed to fetch")));
    const err = (await request("/projects").catch((e: unknown) => e)) as ApiError;
    expect(err.status).toBe(0);
    expect(err.detail).toMatch(/cannot reach the server/);
  });
});

describe("runs", () => {
  it("builds the list query", async () => {
    server.answer = () => json({ runs: [], total: 0 });
    await listRuns("a b", "p", { filter: " config.lr > 0.1 ", search: "", sort: "-name", limit: 50, offset: 100 });
    const url = server.calls[0]?.url;
    expect(url?.pathname).toBe("/api/v1/runs/a%20b/p");
    expect(url?.searchParams.get("filter")).toBe("config.lr > 0.1");
    expect(url?.searchParams.has("search")).toBe(false);
    expect(url?.searchParams.get("sort")).toBe("-name");
    expect(url?.searchParams.get("limit")).toBe("50");
    expect(url?.searchParams.get("offset")).toBe("100");
  });

  it("derives fields from runs: nested config paths with '.', summary keys whole", () => {
    const runs = [runInfo({ config: { lr: 1, model: { layers: 2 } }, summary: { "train/loss": 1 } }), runInfo({ config: { opt: "sgd" }, summary: { "gpu.0": 1 } })];
    expect(fieldsOf(runs)).toEqual({ config: ["lr", "model.layers", "opt"], summary: ["gpu.0", "train/loss"] });
  });

  it("uses the fields endpoint, or the loaded runs when the server has none", async () => {
    server.answer = () => json({ config: ["a"], summary: ["b"] });
    expect(await runFields("e", "p", [])).toEqual({ config: ["a"], summary: ["b"] });
    expect(server.calls[0]?.url.pathname).toBe("/api/v1/runs/e/p/fields");
    server.answer = () => json({ detail: "Not Found" }, 404);
    expect(await runFields("e", "p", [runInfo({ config: { x: 1 } })])).toEqual({ config: ["x"], summary: [] });
  });
});

describe("runs by id", () => {
  it("answers the runs of ids in their order, and the missing ones", async () => {
    server.answer = () => json({ runs: [runInfo({ id: "b" }), runInfo({ id: "a" })], total: 2 });
    const got = await getRuns("e", "p", ["a", "gone", "b"]);
    expect(got.runs.map((r) => r.id)).toEqual(["a", "b"]);
    expect(got.missing).toEqual(["gone"]);
    expect(server.calls[0]?.url.searchParams.get("ids")).toBe("a,gone,b");
  });

  it("reaches a run with the id 'fields' through the list", async () => {
    server.answer = () => json({ runs: [runInfo({ id: "fields" })], total: 1 });
    expect((await getRun("e", "p", "fields")).id).toBe("fields");
    expect(server.calls[0]?.url.pathname).toBe("/api/v1/runs/e/p");
    server.answer = () => json({ runs: [], total: 0 });
    await expect(getRun("e", "p", "fields")).rejects.toBeInstanceOf(ApiError);
  });
});

describe("histograms", () => {
  it("parses the key list of the server's 404", () => {
    expect(parseHistogramKeys("run 'r' has no histograms under 'x'; it has: 'train/w', \"it's\", 'b'")).toEqual(["train/w", "it's", "b"]);
    expect(parseHistogramKeys("run 'r' has no histograms under 'x'; it has: none")).toEqual([]);
    expect(parseHistogramKeys("run 'r' has no histograms under 'x'")).toEqual([]);
  });

  it("lists a run's histogram keys", async () => {
    server.answer = () => json({ keys: ["a", "b"] });
    expect(await histogramKeys(runInfo({}))).toEqual(["a", "b"]);
    expect(server.calls[0]?.url.pathname).toBe("/api/v1/runs/e/p/r/histograms/keys");
  });

  it("falls back to the key list of the 404 on servers without the keys route", async () => {
    server.answer = (url) =>
      url.pathname.endsWith("/keys") ? json({ detail: "Not Found" }, 404) : json({ detail: "run 'r' has no histograms under '\\x00'; it has: 'w'" }, 404);
    expect(await histogramKeys(runInfo({}))).toEqual(["w"]);
    expect(server.calls[1]?.url.pathname).toBe("/api/v1/runs/e/p/r/histograms");
  });
});

describe("auth", () => {
  it("stores a key only after the server accepted it", async () => {
    server.answer = () => json({ detail: "unknown API key" }, 401);
    await expect(signInWithKey("fwk_bad")).rejects.toBeInstanceOf(ApiError);
    expect(storedApiKey()).toBeNull();
    expect(header(server.calls[0], "Authorization")).toBe("Bearer fwk_bad");
    server.answer = () => json({ name: "ann", is_admin: false, teams: [] });
    expect((await signInWithKey(" fwk_good ")).name).toBe("ann");
    expect(storedApiKey()).toBe("fwk_good");
    signOut();
    expect(storedApiKey()).toBeNull();
  });

  it("logs in with a password and stores the new key", async () => {
    server.answer = (url) => (url.pathname.endsWith("/login") ? json({ api_key: "fwk_new" }) : json({ name: "ann", is_admin: false, teams: [] }));
    expect((await login("ann", "pw")).name).toBe("ann");
    expect(JSON.parse(server.calls[0]?.init.body as string)).toEqual({ username: "ann", password: "pw" });
    expect(storedApiKey()).toBe("fwk_new");
    await expect(login("", "")).rejects.toBeInstanceOf(ApiError);
  });
});
