import { describe, expect, it } from "vitest";
import { json, runInfo, stubFetch } from "../api/test-utils";
import { describeRunSet, historyFetcher, resolveRunSet, runSetKeys, runSetLimit, runSetQuery } from "./runset";

const stub = stubFetch("k");

describe("run sets", () => {
  it("resolves a filter through the runs list with its filter, sort and limit", async () => {
    stub.answer = () => json({ runs: [runInfo({ id: "a" }), runInfo({ id: "b" })], total: 7 });
    const res = await resolveRunSet("e", "p", { filter: " config.lr > 0.01 and tags ~ baseline ", sort: "-summary.loss", limit: 2 });
    expect(res.runs.map((r) => r.id)).toEqual(["a", "b"]);
    expect(res.total).toBe(7);
    const url = stub.calls[0]?.url;
    expect(url?.pathname).toBe("/api/v1/runs/e/p");
    expect(url?.searchParams.get("filter")).toBe("config.lr > 0.01 and tags ~ baseline");
    expect(url?.searchParams.get("sort")).toBe("-summary.loss");
    expect(url?.searchParams.get("limit")).toBe("2");
    expect(url?.searchParams.get("ids")).toBeNull();
  });

  it("defaults to the 50 newest runs; an empty filter asks for all", async () => {
    stub.answer = () => json({ runs: [], total: 0 });
    await resolveRunSet("e", "p", { filter: "" });
    const url = stub.calls[0]?.url;
    expect(url?.searchParams.get("filter")).toBeNull();
    expect(url?.searchParams.get("sort")).toBe("-created_at");
    expect(url?.searchParams.get("limit")).toBe("50");
  });

  it("resolves explicit ids in their order and names the missing ones", async () => {
    stub.answer = () => json({ runs: [runInfo({ id: "b" }), runInfo({ id: "a" })], total: 2 });
    const res = await resolveRunSet("e", "p", { ids: ["a", "gone", "b"] });
    expect(res.runs.map((r) => r.id)).toEqual(["a", "b"]);
    expect(res.missing).toEqual(["gone"]);
    expect(stub.calls[0]?.url.searchParams.get("ids")).toBe("a,gone,b");
    expect(stub.calls[0]?.url.searchParams.get("limit")).toBe("3");
  });

  it("asks nothing for an empty id list", async () => {
    const res = await resolveRunSet("e", "p", { ids: [] });
    expect(res.runs).toEqual([]);
    expect(stub.calls).toHaveLength(0);
  });

  it("clamps limits to 1..500 and cuts id lists to the limit", () => {
    expect(runSetLimit({ filter: "", limit: 10_000 })).toBe(500);
    expect(runSetLimit({ filter: "", limit: 0 })).toBe(1);
    expect(runSetQuery({ ids: ["a", "b", "c"], limit: 2 }).ids).toEqual(["a", "b"]);
  });

  it("describes run sets", () => {
    expect(describeRunSet({ filter: "" })).toBe("all runs");
    expect(describeRunSet({ filter: "config.lr > 0.01" })).toBe("config.lr > 0.01");
    expect(describeRunSet({ ids: ["a"] })).toBe("1 run");
    expect(describeRunSet({ ids: ["a", "b"], frozen_from: "tags ~ x" })).toBe("2 runs (frozen from tags ~ x)");
  });

  it("a frozen report's history requests carry until=frozen_at; a live one's do not", async () => {
    stub.answer = () => json({ runs: [], missing: [] });
    await historyFetcher(1_700_000_123.5)("e", "p", ["a"], ["loss"], 100, { minStep: 3 });
    await historyFetcher(null)("e", "p", ["a"], ["loss"], 100);
    const bodies = stub.calls.map((c) => JSON.parse(typeof c.init.body === "string" ? c.init.body : "{}") as Record<string, unknown>);
    expect(bodies[0]).toMatchObject({ runs: ["a"], keys: ["loss"], min_step: 3, until: 1_700_000_123.5 });
    expect(bodies[1]).not.toHaveProperty("until");
    expect(stub.calls[0]?.url.pathname).toBe("/api/v1/history/e/p");
  });

  it("offers the runs' metric keys (no system or underscore keys) and config/summary fields", () => {
    const keys = runSetKeys([
      runInfo({ id: "a", keys: ["train/loss", "system/cpu", "_runtime"], config: { lr: 0.1, opt: { name: "adam" } }, summary: { "train/loss": 0.2 } }),
      runInfo({ id: "b", keys: ["eval/acc", "train/loss"], config: { lr: 0.2 } }),
    ]);
    expect(keys.metrics).toEqual(["eval/acc", "train/loss"]);
    expect(keys.config).toEqual(["lr", "opt.name"]);
    expect(keys.summary).toEqual(["train/loss"]);
  });
});
