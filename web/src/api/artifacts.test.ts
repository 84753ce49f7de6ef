import { describe, expect, it } from "vitest";
import {
  artifactFilePath,
  artifactFileUrl,
  diffVersions,
  fetchArtifactFile,
  getCollection,
  getLineage,
  getVersion,
  isResolved,
  listArtifactFiles,
  listArtifactTypes,
  listCollections,
  listVersions,
  parseVersion,
  patchVersion,
  runArtifacts,
  usedBy,
} from "./artifacts";
import { json, stubFetch } from "./test-utils";

const server = stubFetch("fwk_test");

const DIGEST = "blake3:" + "ab".repeat(32);

function version(partial: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: "0".repeat(32),
    entity: "team a",
    project: "p",
    name: "mnist train",
    type: "dataset",
    version: "v2",
    index: 2,
    digest: DIGEST,
    size: 123,
    files: 2,
    aliases: ["latest", "best"],
    description: null,
    metadata: { rows: 60000 },
    created_at: 1765000000,
    created_by: "admin",
    run: { entity: "team a", project: "p", id: "r1" },
    ...partial,
  };
}

function call(i: number): URL {
  const c = server.calls[i];
  if (c === undefined) throw new Error(`no call ${i}`);
  return c.url;
}

describe("artifacts client", () => {
  it("asks for types, collections and versions under /artifacts/{entity}/{project}, escaped", async () => {
    server.answer = (url) => {
      if (url.pathname.endsWith("/types")) return json([{ type: "dataset", collections: 1, versions: 3 }]);
      if (url.pathname.endsWith("/collections")) return json([{ project: "p", name: "mnist train", type: "dataset", versions: 3, latest: "v2", aliases: { best: "v2", bad: 1 }, size: 9 }]);
      return json([version()]);
    };
    expect(await listArtifactTypes("team a", "p")).toEqual([{ type: "dataset", collections: 1, versions: 3 }]);
    expect(call(0).pathname).toBe("/api/v1/artifacts/team%20a/p/types");
    const cols = await listCollections("team a", "p", "dataset");
    expect(call(1).pathname).toBe("/api/v1/artifacts/team%20a/p/collections");
    expect(call(1).searchParams.get("type")).toBe("dataset");
    expect(cols[0]?.aliases).toEqual({ best: "v2" });
    expect(cols[0]?.description).toBeNull();
    await listCollections("team a", "p", "");
    expect(call(2).searchParams.has("type")).toBe(false);
    const versions = await listVersions("team a", "p", { name: "mnist train" });
    expect(call(3).pathname).toBe("/api/v1/artifacts/team%20a/p/versions");
    expect(call(3).searchParams.get("name")).toBe("mnist train");
    expect(call(3).searchParams.has("type")).toBe(false);
    expect(versions[0]?.aliases).toEqual(["best", "latest"]);
    const headers = server.calls[0]?.init.headers as Record<string, string>;
    expect(headers.Authorization).toBe("Bearer fwk_test");
  });

  it("reads a collection with its versions newest first", async () => {
    server.answer = () => json({ project: "p", name: "d", type: "dataset", versions: 2, latest: "v1", aliases: {}, size: 5, versions_list: [version({ version: "v0", index: 0 }), version({ version: "v1", index: 1 })] });
    const c = await getCollection("e", "p", "d/x");
    expect(call(0).pathname).toBe("/api/v1/artifacts/e/p/collections/d%2Fx");
    expect(c.versions_list.map((v) => v.version)).toEqual(["v1", "v0"]);
    expect(c.latest).toBe("v1");
  });

  it("addresses a version by vN, alias or digest, and patches its aliases", async () => {
    server.answer = (_url, init) => json(version(init.method === "PATCH" ? { aliases: ["prod", "latest"] } : {}));
    const v = await getVersion("e", "p", "d", DIGEST);
    expect(call(0).pathname).toBe(`/api/v1/artifacts/e/p/collections/d/versions/blake3%3A${"ab".repeat(32)}`);
    expect(v.run).toEqual({ entity: "team a", project: "p", id: "r1" });
    const patched = await patchVersion("e", "p", "d", "v2", { aliases: ["prod"] });
    expect(server.calls[1]?.init.method).toBe("PATCH");
    expect(call(1).pathname).toBe("/api/v1/artifacts/e/p/collections/d/versions/v2");
    expect(JSON.parse(server.calls[1]?.init.body as string)).toEqual({ aliases: ["prod"] });
    expect(patched.aliases).toEqual(["latest", "prod"]);
  });

  it("lists one level of files and fetches one file with its path segments escaped", async () => {
    server.answer = (url) =>
      url.pathname.endsWith("/files")
        ? json({ prefix: "images/", dirs: [{ name: "cats", files: 2, size: 10 }], files: [{ path: "images/a b.png", size: 3, address: DIGEST }], next_cursor: "c2" })
        : new Response("abc");
    const page = await listArtifactFiles("e", "p", "d", "v1", { prefix: "images/", limit: 200, cursor: "c1" });
    const q = call(0).searchParams;
    expect(call(0).pathname).toBe("/api/v1/artifacts/e/p/collections/d/versions/v1/files");
    expect([q.get("prefix"), q.get("limit"), q.get("cursor")]).toEqual(["images/", "200", "c1"]);
    expect(page.dirs[0]?.name).toBe("cats");
    expect(page.next_cursor).toBe("c2");
    await listArtifactFiles("e", "p", "d", "v1", { prefix: "" });
    expect([call(1).searchParams.has("prefix"), call(1).searchParams.has("cursor")]).toEqual([false, false]);
    expect(artifactFilePath("e", "p", "d", "v1", "images/a b/c#.txt")).toBe("/artifacts/e/p/collections/d/versions/v1/files/images/a%20b/c%23.txt");
    expect(artifactFileUrl("e", "p", "d", "v1", "x.csv")).toBe("/api/v1/artifacts/e/p/collections/d/versions/v1/files/x.csv");
    const blob = await fetchArtifactFile("e", "p", "d", "v1", "images/a b.png");
    expect(await blob.text()).toBe("abc");
    expect(call(2).pathname).toBe("/api/v1/artifacts/e/p/collections/d/versions/v1/files/images/a%20b.png");
  });

  it("defaults a sparse file listing", async () => {
    server.answer = () => json({ files: [] });
    expect(await listArtifactFiles("e", "p", "d", "v1", { prefix: "x/" })).toEqual({ prefix: "x/", dirs: [], files: [], next_cursor: null });
  });

  it("reads the runs that used a version and the lineage at a bounded depth", async () => {
    server.answer = (url) => {
      if (url.pathname.endsWith("/used_by")) return json([{ entity: "e", project: "p", run_id: "r2", name: "train", state: "finished", used_at: 1 }]);
      return json({
        nodes: [
          { id: "run:e/p/r1", kind: "run", entity: "e", project: "p", run_id: "r1", name: "prep", state: "finished" },
          { id: "artifact:p/d:v1", kind: "artifact", project: "p", name: "d", version: "v1", type: "dataset", digest: DIGEST },
          { id: "x", kind: "bogus" },
        ],
        edges: [
          { from: "run:e/p/r1", to: "artifact:p/d:v1" },
          { from: "artifact:p/d:v1", to: "run:e/p/r9" },
        ],
      });
    };
    expect((await usedBy("e", "p", "d", "v1"))[0]?.run_id).toBe("r2");
    expect(call(0).pathname).toBe("/api/v1/artifacts/e/p/collections/d/versions/v1/used_by");
    const g = await getLineage("e", "p", "d", "v1", 9);
    expect(call(1).pathname).toBe("/api/v1/artifacts/e/p/collections/d/versions/v1/lineage");
    expect(call(1).searchParams.get("depth")).toBe("5");
    await getLineage("e", "p", "d", "v1", 0);
    expect(call(2).searchParams.get("depth")).toBe("1");
    expect(g.nodes.map((n) => n.id)).toEqual(["run:e/p/r1", "artifact:p/d:v1"]);
    // the edge to a node past the depth is left out
    expect(g.edges).toEqual([{ from: "run:e/p/r1", to: "artifact:p/d:v1" }]);
  });

  it("diffs two versions of a collection", async () => {
    server.answer = () =>
      json({
        a: version({ version: "v0", index: 0 }),
        b: version({ version: "v1", index: 1 }),
        added: [{ path: "new.csv", size: 4 }],
        removed: [],
        changed: [{ path: "train.csv", a: { size: 1, address: DIGEST }, b: { size: 2, address: DIGEST } }],
        unchanged: 7,
        metadata: { added: { k: 1 }, removed: {}, changed: { rows: [1, 2] } },
      });
    const d = await diffVersions("e", "p", "d", "v0", "best");
    expect(call(0).pathname).toBe("/api/v1/artifacts/e/p/collections/d/diff");
    expect([call(0).searchParams.get("a"), call(0).searchParams.get("b")]).toEqual(["v0", "best"]);
    expect(d.a.version).toBe("v0");
    expect(d.changed[0]?.b.size).toBe(2);
    expect(d.metadata.changed.rows).toEqual([1, 2]);
  });

  it("reads what a run logged and used, unresolved ones with a null version", async () => {
    server.answer = () => json({ logged: [version()], used: [{ project: "p", name: "d", digest: DIGEST, version: null }] });
    const a = await runArtifacts("e", "p", "r/1");
    expect(call(0).pathname).toBe("/api/v1/runs/e/p/r%2F1/artifacts");
    expect(a.logged.map(isResolved)).toEqual([true]);
    expect(a.used.map(isResolved)).toEqual([false]);
    expect(a.used[0]?.digest).toBe(DIGEST);
  });

  it("makes a sparse version whole", () => {
    const v = parseVersion({ name: "d", version: "v7", aliases: ["b", 3, "a"], run: null, metadata: [1] });
    expect(v.index).toBe(7);
    expect(v.aliases).toEqual(["a", "b"]);
    expect(v.metadata).toEqual({});
    expect(v.run).toBeNull();
    expect(v.description).toBeNull();
  });
});
