import { describe, expect, it } from "vitest";
import { ApiError } from "./client";
import {
  createModel,
  deleteModel,
  getModel,
  getModelCard,
  getModelVersion,
  listAudit,
  listModels,
  listModelVersions,
  parseModel,
  patchModel,
  removeAlias,
  setAlias,
  versionIndex,
} from "./registry";
import { json, stubFetch } from "./test-utils";

const server = stubFetch("fwk_test");
const DIGEST = "blake3:" + "ef".repeat(32);

function artifact(version = "v0"): Record<string, unknown> {
  return {
    id: "1".repeat(32),
    entity: "lab",
    project: "mnist",
    name: "model-r1",
    type: "model",
    version,
    index: Number(version.slice(1)),
    digest: DIGEST,
    size: 2048,
    files: 2,
    aliases: ["latest"],
    description: null,
    metadata: { epoch: 3 },
    created_at: 1765000000,
    created_by: "admin",
    run: { entity: "lab", project: "mnist", id: "r1" },
  };
}

function model(partial: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    entity: "lab",
    name: "mnist cnn",
    description: "digits",
    metadata: {},
    tags: ["vision"],
    protected_aliases: ["production", "archived"],
    maintainers: ["zoe", "bob"],
    versions: 2,
    latest: "v1",
    aliases: { production: "v0", staging: "v1" },
    stages: { staging: "v1", production: "v0", archived: null },
    created_at: 1765000000,
    updated_at: 1765000100,
    created_by: "admin",
    ...partial,
  };
}

function modelVersion(version: string, aliases: string[]): Record<string, unknown> {
  return {
    entity: "lab",
    model: "mnist cnn",
    version,
    index: Number(version.slice(1)),
    aliases,
    linked_at: 1765000050,
    linked_by: "admin",
    run: { entity: "lab", project: "mnist", id: "r1" },
    artifact: artifact(version),
  };
}

function call(i: number): { url: URL; init: RequestInit } {
  const c = server.calls[i];
  if (c === undefined) throw new Error(`no call ${i}`);
  return c;
}

describe("registry client", () => {
  it("lists an entity's models under /registry/{entity}/models, escaped, sorted, with a tag filter", async () => {
    server.answer = () => json([model({ name: "zeta" }), model({ name: "alpha", protected_aliases: ["b", "a"], stages: undefined })]);
    const list = await listModels("team a", "vision");
    expect(call(0).url.pathname).toBe("/api/v1/registry/team%20a/models");
    expect(call(0).url.searchParams.get("tag")).toBe("vision");
    expect(list.map((m) => m.name)).toEqual(["alpha", "zeta"]);
    expect(list[0]?.protected_aliases).toEqual(["a", "b"]);
    expect(list[0]?.maintainers).toEqual(["bob", "zoe"]);
    // stages from the aliases when the server sent none
    expect(list[0]?.stages).toEqual({ staging: "v1", production: "v0", archived: null });
    await listModels("lab", "");
    expect(call(1).url.searchParams.has("tag")).toBe(false);
  });

  it("reads a model with its versions newest first, each with its artifact version", async () => {
    server.answer = () => json({ ...model(), versions_list: [modelVersion("v0", ["production"]), modelVersion("v1", ["staging", "latest"])] });
    const m = await getModel("lab", "mnist cnn");
    expect(call(0).url.pathname).toBe("/api/v1/registry/lab/models/mnist%20cnn");
    expect(m.versions_list.map((v) => v.version)).toEqual(["v1", "v0"]);
    expect(m.versions_list[0]?.aliases).toEqual(["latest", "staging"]);
    expect(m.versions_list[0]?.artifact.name).toBe("model-r1");
    expect(m.versions_list[0]?.artifact.version).toBe("v1");
    expect(m.versions_list[0]?.run).toEqual({ entity: "lab", project: "mnist", id: "r1" });
  });

  it("creates, patches and deletes models", async () => {
    server.answer = (url, init) => (init.method === "DELETE" ? json({ deleted: "m" }) : init.method === "POST" ? json(model({ name: "m" }), 201) : json({ ...model(), versions_list: [] }));
    const created = await createModel("lab", { name: "m", description: "x" });
    expect(created.name).toBe("m");
    expect(call(0).init.method).toBe("POST");
    expect(JSON.parse(call(0).init.body as string)).toEqual({ name: "m", description: "x" });
    await patchModel("lab", "m", { tags: ["a"], protected_aliases: ["production"] });
    expect(call(1).init.method).toBe("PATCH");
    expect(call(1).url.pathname).toBe("/api/v1/registry/lab/models/m");
    expect(JSON.parse(call(1).init.body as string)).toEqual({ tags: ["a"], protected_aliases: ["production"] });
    await deleteModel("lab", "m");
    expect(call(2).init.method).toBe("DELETE");
  });

  it("reads versions, one version by alias, and a version's card", async () => {
    server.answer = (url) => {
      if (url.pathname.endsWith("/card")) {
        return json({
          model: model(),
          version: modelVersion("v1", ["staging"]),
          run: { entity: "lab", project: "mnist", id: "r1", name: "train", state: "finished", config: { lr: 0.1 }, summary: { acc: 0.9 } },
          datasets: [{ ...artifact("v3"), name: "digits", type: "dataset" }],
          evaluation: { "eval/acc": 0.9, "train/loss": 0.1, bad: "x" },
        });
      }
      if (url.pathname.endsWith("/versions")) return json([modelVersion("v0", []), modelVersion("v2", ["latest"]), modelVersion("v1", [])]);
      return json(modelVersion("v1", ["production"]));
    };
    expect((await listModelVersions("lab", "m")).map((v) => v.version)).toEqual(["v2", "v1", "v0"]);
    expect(call(0).url.pathname).toBe("/api/v1/registry/lab/models/m/versions");
    const v = await getModelVersion("lab", "m", "production");
    expect(call(1).url.pathname).toBe("/api/v1/registry/lab/models/m/versions/production");
    expect(v.version).toBe("v1");
    const card = await getModelCard("lab", "m", "staging");
    expect(call(2).url.pathname).toBe("/api/v1/registry/lab/models/m/versions/staging/card");
    expect(card.run?.name).toBe("train");
    expect(card.datasets.map((d) => `${d.name}:${d.version}`)).toEqual(["digits:v3"]);
    expect(card.evaluation).toEqual({ "eval/acc": 0.9, "train/loss": 0.1 });
  });

  it("a card whose run is gone has run null", async () => {
    server.answer = () => json({ model: model(), version: modelVersion("v0", []), run: null, datasets: [], evaluation: {} });
    const card = await getModelCard("lab", "m", "v0");
    expect(card.run).toBeNull();
    expect(card.datasets).toEqual([]);
  });

  it("moves an alias with compare-and-set and removes one", async () => {
    server.answer = (url, init) => (init.method === "DELETE" ? json({ alias: "production", from: "v1" }) : json(modelVersion("v2", ["production"])));
    const v = await setAlias("lab", "m", "production", "v2", "v1");
    expect(call(0).init.method).toBe("PUT");
    expect(call(0).url.pathname).toBe("/api/v1/registry/lab/models/m/aliases/production");
    expect(JSON.parse(call(0).init.body as string)).toEqual({ version: "v2", expect: "v1" });
    expect(v.aliases).toEqual(["production"]);
    await setAlias("lab", "m", "staging", "v2");
    expect(JSON.parse(call(1).init.body as string)).toEqual({ version: "v2" });
    expect(await removeAlias("lab", "m", "production")).toEqual({ alias: "production", from: "v1" });
    expect(call(2).init.method).toBe("DELETE");
  });

  it("answers a refused move as an ApiError carrying the server's words", async () => {
    server.answer = () => json({ detail: "production is protected; only admins of lab or maintainers of m may move it" }, 403);
    const err = await setAlias("lab", "m", "production", "v2").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(403);
    expect((err as ApiError).detail).toMatch(/protected/);
  });

  it("reads the audit trail newest first, with paging parameters", async () => {
    server.answer = () =>
      json([
        { id: 1, at: 100, user: "admin", action: "link", alias: null, from_version: null, to_version: "v0", detail: null },
        { id: 3, at: 300, user: "bob", action: "alias.set", alias: "production", from_version: "v0", to_version: "v1", detail: null },
        { id: 2, at: 300, user: null, action: "alias.remove", alias: "staging", from_version: "v0", to_version: null },
      ]);
    const list = await listAudit("lab", "m", { limit: 50, before: 9 });
    expect(call(0).url.pathname).toBe("/api/v1/registry/lab/models/m/audit");
    expect(call(0).url.searchParams.get("limit")).toBe("50");
    expect(call(0).url.searchParams.get("before")).toBe("9");
    expect(list.map((e) => e.id)).toEqual([3, 2, 1]);
    expect(list[1]?.detail).toBeNull();
  });

  it("makes a partial model whole", () => {
    const m = parseModel({ name: "x" });
    expect(m).toMatchObject({ name: "x", tags: [], aliases: {}, latest: null, versions: 0, stages: { staging: null, production: null, archived: null } });
    expect(versionIndex("v12")).toBe(12);
    expect(versionIndex("latest")).toBe(-1);
  });
});
