import { describe, expect, it } from "vitest";
import { ApiError } from "./client";
import { allowedActions, controlSweep, getImportance, getSweep, listSweeps, listTrials, locateSweep, parseSweep, parseTrial, sweepsPath } from "./sweeps";
import { json, stubFetch } from "./test-utils";

const server = stubFetch("fwk_test");

function trial(partial: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 7,
    number: 2,
    attempt: 0,
    run_id: "ab12cd34",
    past_run_ids: [],
    params: { optimizer: { lr: 0.01 }, epochs: 3 },
    state: "finished",
    value: 0.25,
    history_len: 3,
    agent_id: 1,
    stop_requested: false,
    created_at: 1765000000,
    started_at: 1765000001,
    ended_at: 1765000009,
    run: { name: "brisk-fox", state: "finished", summary: { loss: 0.25 } },
    ...partial,
  };
}

function sweep(partial: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: "k3v9x0aa",
    entity: "lab",
    project: "mnist",
    name: "lr search",
    description: null,
    method: "grid",
    state: "running",
    config: { method: "grid", metric: { name: "loss", goal: "minimize" } },
    metric: { name: "loss", goal: "minimize", target: null },
    created_at: 1765000000,
    updated_at: 1765000100,
    created_by: "admin",
    run_cap: null,
    seed: 42,
    counts: { queued: 0, running: 1, finished: 2, failed: 0, stopped: 1, crashed: 0, total: 4 },
    grid_size: 12,
    best: trial(),
    agents: [{ id: 1, host: "box", pid: 123, state: "running", heartbeat_at: 1765000100 }],
    parameters: [{ name: "optimizer.lr", distribution: "categorical", values: [0.01, 0.1], min: null, max: null }],
    ...partial,
  };
}

describe("parsing", () => {
  it("keeps every field of a sweep and its best trial", () => {
    const s = parseSweep(sweep());
    expect(s.id).toBe("k3v9x0aa");
    expect(s.method).toBe("grid");
    expect(s.metric).toEqual({ name: "loss", goal: "minimize", target: null });
    expect(s.counts.total).toBe(4);
    expect(s.grid_size).toBe(12);
    expect(s.best?.run?.name).toBe("brisk-fox");
    expect(s.best?.params).toEqual({ optimizer: { lr: 0.01 }, epochs: 3 });
    expect(s.agents[0]?.host).toBe("box");
    expect(s.parameters[0]).toEqual({ name: "optimizer.lr", distribution: "categorical", values: [0.01, 0.1], min: null, max: null });
  });

  it("defaults what is absent and reads non-finite values as null", () => {
    const s = parseSweep({ id: "x", counts: { finished: 2, running: 1 }, metric: null });
    expect(s.metric).toBeNull();
    expect(s.best).toBeNull();
    expect(s.counts).toEqual({ queued: 0, running: 1, finished: 2, failed: 0, stopped: 0, crashed: 0, total: 3 });
    expect(parseTrial(trial({ value: "NaN", run: null })).value).toBeNull();
    expect(parseTrial(trial({ run: null })).run).toBeNull();
    expect(parseTrial(trial({ state: "stopped" })).state).toBe("stopped");
  });
});

describe("routes", () => {
  it("escapes the path", () => {
    expect(sweepsPath("a b", "p/q", "s1")).toBe("/sweeps/a%20b/p%2Fq/s1");
  });

  it("lists the sweeps of a project, newest first", async () => {
    server.answer = () => json({ sweeps: [sweep({ id: "old", created_at: 1 }), sweep({ id: "new", created_at: 2 })] });
    const list = await listSweeps("lab", "mnist");
    expect(list.map((s) => s.id)).toEqual(["new", "old"]);
    expect(server.calls[0]?.url.pathname).toBe("/api/v1/sweeps/lab/mnist");
    expect(new Headers(server.calls[0]?.init.headers).get("Authorization")).toBe("Bearer fwk_test");
  });

  it("gets a sweep, its trials by number and its importance", async () => {
    server.answer = (url) => {
      if (url.pathname.endsWith("/trials")) return json({ trials: [trial({ id: 2, number: 1 }), trial({ id: 1, number: 0 })] });
      if (url.pathname.endsWith("/importance")) return json({ metric: "loss", count: 2, params: [{ name: "optimizer.lr", importance: null, correlation: null }], detail: "needs 3 trials" });
      return json(sweep());
    };
    expect((await getSweep("lab", "mnist", "k3v9x0aa")).name).toBe("lr search");
    expect((await listTrials("lab", "mnist", "k3v9x0aa")).map((t) => t.number)).toEqual([0, 1]);
    const imp = await getImportance("lab", "mnist", "k3v9x0aa");
    expect(imp).toEqual({ metric: "loss", count: 2, params: [{ name: "optimizer.lr", importance: null, correlation: null }], detail: "needs 3 trials" });
    expect(server.calls.map((c) => c.url.pathname)).toEqual([
      "/api/v1/sweeps/lab/mnist/k3v9x0aa",
      "/api/v1/sweeps/lab/mnist/k3v9x0aa/trials",
      "/api/v1/sweeps/lab/mnist/k3v9x0aa/importance",
    ]);
  });

  it("controls a sweep with PATCH {action}", async () => {
    server.answer = () => json(sweep({ state: "paused" }));
    const s = await controlSweep("lab", "mnist", "k3v9x0aa", "pause");
    expect(s.state).toBe("paused");
    expect(server.calls[0]?.init.method).toBe("PATCH");
    expect(JSON.parse(server.calls[0]?.init.body as string)).toEqual({ action: "pause" });
  });

  it("passes the server's refusal on as an ApiError", async () => {
    server.answer = () => json({ detail: "sweep k3v9x0aa is finished; hint: nothing to pause" }, 409);
    await expect(controlSweep("lab", "mnist", "k3v9x0aa", "pause")).rejects.toEqual(new ApiError(409, "sweep k3v9x0aa is finished; hint: nothing to pause"));
  });

  it("locates a sweep by id", async () => {
    server.answer = () => json({ entity: "lab", project: "mnist", id: "k3v9x0aa" });
    expect(await locateSweep("k3v9x0aa")).toEqual({ entity: "lab", project: "mnist", id: "k3v9x0aa" });
    expect(server.calls[0]?.url.pathname).toBe("/api/v1/sweep-ids/k3v9x0aa");
  });
});

describe("allowedActions", () => {
  it("offers what the controller accepts in each state", () => {
    expect(allowedActions("running")).toEqual(["pause", "stop", "cancel"]);
    expect(allowedActions("paused")).toEqual(["resume", "stop", "cancel"]);
    expect(allowedActions("stopped")).toEqual(["cancel"]);
    expect(allowedActions("finished")).toEqual([]);
    expect(allowedActions("cancelled")).toEqual([]);
  });
});
