import { describe, expect, it } from "vitest";
import { formatParams, formatRoute, href, intParam, listParam, parseParams, parseRoute, withParams, type Route } from "./route";

describe("parseRoute", () => {
  it("reads every page of web/README.md", () => {
    expect(parseRoute("")).toEqual({ page: "projects", params: {} });
    expect(parseRoute("#/")).toEqual({ page: "projects", params: {} });
    expect(parseRoute("#/signin?next=%23%2Fp%2Fa%2Fb")).toEqual({ page: "signin", params: { next: "#/p/a/b" } });
    expect(parseRoute("#/p/alice/mnist?runs=a,b&hidden=c&q=x&sort=-name")).toEqual({
      page: "workspace",
      entity: "alice",
      project: "mnist",
      params: { runs: "a,b", hidden: "c", q: "x", sort: "-name" },
    });
    expect(parseRoute("#/p/alice/mnist/r/abc123?tab=config")).toEqual({
      page: "run",
      entity: "alice",
      project: "mnist",
      runId: "abc123",
      params: { tab: "config" },
    });
    expect(parseRoute("#/p/alice/mnist/compare?runs=a,b,c")).toEqual({
      page: "compare",
      entity: "alice",
      project: "mnist",
      params: { runs: "a,b,c" },
    });
    expect(parseRoute("#/admin?user=ann")).toEqual({ page: "admin", params: { user: "ann" } });
    expect(parseRoute("#/keys")).toEqual({ page: "keys", params: {} });
    expect(parseRoute("#/p/alice/mnist/artifacts?type=dataset")).toEqual({ page: "artifacts", entity: "alice", project: "mnist", params: { type: "dataset" } });
    expect(parseRoute("#/p/alice/mnist/artifacts/mnist-train?a=v0&b=v1")).toEqual({
      page: "collection",
      entity: "alice",
      project: "mnist",
      name: "mnist-train",
      params: { a: "v0", b: "v1" },
    });
    expect(parseRoute("#/p/alice/mnist/artifacts/mnist-train/blake3%3Aab?tab=lineage&depth=3")).toEqual({
      page: "version",
      entity: "alice",
      project: "mnist",
      name: "mnist-train",
      version: "blake3:ab",
      params: { tab: "lineage", depth: "3" },
    });
    expect(parseRoute("#/p/alice/mnist/artifacts/a/v1/x").page).toBe("notfound");
  });

  it("sends unknown paths to notfound", () => {
    expect(parseRoute("#/nope").page).toBe("notfound");
    expect(parseRoute("#/p/alice").page).toBe("notfound");
    expect(parseRoute("#/p/a/b/r").page).toBe("notfound");
    expect(parseRoute("#/p/a/b/x/y").page).toBe("notfound");
    expect(parseRoute("#/p/%E0%A4%A/b").page).toBe("notfound");
  });

  it("ignores trailing slashes and empty parameters", () => {
    expect(parseRoute("#/p/a/b/?q=&sort=name")).toEqual({ page: "workspace", entity: "a", project: "b", params: { sort: "name" } });
  });
});

describe("formatRoute", () => {
  it("round-trips every page", () => {
    const routes: Route[] = [
      { page: "projects", params: {} },
      { page: "signin", params: { next: "#/p/a/b?runs=x,y" } },
      { page: "workspace", entity: "a.b", project: "my-proj_1", params: { q: "loss 2", filter: "config.lr > 0.01 and state = running", cols: "config.lr,summary.train/loss" } },
      { page: "run", entity: "e", project: "p", runId: "r-1", params: { tab: "summary" } },
      { page: "compare", entity: "e", project: "p", params: { runs: "a,b,c" } },
      { page: "admin", params: { user: "a.b-c" } },
      { page: "keys", params: {} },
      { page: "artifacts", entity: "e", project: "p", params: { type: "model" } },
      { page: "collection", entity: "e", project: "p", name: "data.v2", params: { a: "v0", b: "best" } },
      { page: "version", entity: "e", project: "p", name: "data", version: "blake3:00ff", params: { tab: "files", prefix: "images/a b/", file: "images/a b/x#1.png" } },
    ];
    for (const r of routes) expect(parseRoute(formatRoute(r))).toEqual(r);
  });

  it("keeps commas and slashes readable and drops empty values", () => {
    expect(formatParams({ runs: "a,b", cols: "summary.train/loss", q: "", x: undefined })).toBe("runs=a,b&cols=summary.train/loss");
    expect(href.compare("e", "p", ["a", "b"])).toBe("#/p/e/p/compare?runs=a,b");
    expect(href.workspace("e", "p")).toBe("#/p/e/p");
    expect(href.admin()).toBe("#/admin");
    expect(href.admin("ann")).toBe("#/admin?user=ann");
    expect(href.keys()).toBe("#/keys");
    expect(href.run("e", "p", "r", { tab: "config" })).toBe("#/p/e/p/r/r?tab=config");
    expect(href.artifacts("e", "p")).toBe("#/p/e/p/artifacts");
    expect(href.collection("e", "p", "data", { a: "v0", b: "v1" })).toBe("#/p/e/p/artifacts/data?a=v0&b=v1");
    expect(href.version("e", "p", "data", "v3", { tab: "lineage" })).toBe("#/p/e/p/artifacts/data/v3?tab=lineage");
  });

  it("escapes what would break the query", () => {
    const hash = href.workspace("e", "p", { q: "a&b=c#d?" });
    expect(parseRoute(hash)).toEqual({ page: "workspace", entity: "e", project: "p", params: { q: "a&b=c#d?" } });
  });
});

describe("parameter helpers", () => {
  it("reads lists and integers", () => {
    const p = parseParams("runs=a,,b&page=3&bad=-1&big=99999999999");
    expect(listParam(p, "runs")).toEqual(["a", "b"]);
    expect(listParam(p, "none")).toEqual([]);
    expect(intParam(p, "page", 1)).toBe(3);
    expect(intParam(p, "bad", 1)).toBe(1);
    expect(intParam(p, "big", 1)).toBe(1);
    expect(intParam(p, "missing", 7)).toBe(7);
  });

  it("changes parameters without losing the others", () => {
    expect(withParams({ a: "1", b: "2", x: "_step" }, { a: undefined, b: ["p", "q"], c: "3", d: [] })).toEqual({ b: "p,q", x: "_step", c: "3" });
  });
});

describe("registry routes", () => {
  it("reads the registry pages and round-trips them", () => {
    expect(parseRoute("#/registry/lab")).toEqual({ page: "registry", entity: "lab", params: {} });
    expect(parseRoute("#/registry/lab/webhooks?hook=3")).toEqual({ page: "webhooks", entity: "lab", params: { hook: "3" } });
    expect(parseRoute("#/registry/lab/models/mnist-cnn?tab=audit")).toEqual({ page: "model", entity: "lab", model: "mnist-cnn", params: { tab: "audit" } });
    expect(parseRoute("#/registry/lab/models/mnist-cnn/production")).toEqual({ page: "modelVersion", entity: "lab", model: "mnist-cnn", version: "production", params: {} });
    // a model named like a page of the registry is still a model
    expect(parseRoute("#/registry/lab/models/webhooks")).toEqual({ page: "model", entity: "lab", model: "webhooks", params: {} });
    expect(parseRoute("#/registry").page).toBe("notfound");
    expect(parseRoute("#/registry/lab/models").page).toBe("notfound");
    expect(parseRoute("#/registry/lab/other").page).toBe("notfound");
    expect(parseRoute("#/registry/lab/models/m/v1/x").page).toBe("notfound");
    const routes: Route[] = [
      { page: "registry", entity: "a.b", params: { tag: "vision" } },
      { page: "model", entity: "e", model: "m.v2", params: { tab: "aliases" } },
      { page: "modelVersion", entity: "e", model: "m", version: "v3", params: { depth: "3" } },
      { page: "webhooks", entity: "team x", params: { hook: "12" } },
    ];
    for (const r of routes) expect(parseRoute(formatRoute(r))).toEqual(r);
    expect(href.registry("e")).toBe("#/registry/e");
    expect(href.model("e", "m", { tab: "audit" })).toBe("#/registry/e/models/m?tab=audit");
    expect(href.modelVersion("e", "m", "v1")).toBe("#/registry/e/models/m/v1");
    expect(href.webhooks("e")).toBe("#/registry/e/webhooks");
  });
});

describe("sweep routes", () => {
  it("reads and writes a project's sweeps and a sweep with its brushes", () => {
    expect(parseRoute("#/p/alice/mnist/sweeps")).toEqual({ page: "sweeps", entity: "alice", project: "mnist", params: {} });
    const r = parseRoute("#/p/alice/mnist/sweeps/k3v9x0aa?brush=lr:0.25:0.75,@metric:0:0.5");
    expect(r).toEqual({ page: "sweep", entity: "alice", project: "mnist", sweepId: "k3v9x0aa", params: { brush: "lr:0.25:0.75,@metric:0:0.5" } });
    expect(formatRoute(r)).toBe("#/p/alice/mnist/sweeps/k3v9x0aa?brush=lr:0.25:0.75,%40metric:0:0.5");
    expect(parseRoute(formatRoute(r))).toEqual(r);
    expect(href.sweeps("a b", "p")).toBe("#/p/a%20b/p/sweeps");
    expect(parseRoute("#/p/alice/mnist/sweeps/a/b").page).toBe("notfound");
  });
});
