import { describe, expect, it } from "vitest";
import { fetchFile, filePath, listFiles } from "./files";
import { getLogs } from "./logs";
import { getTable, mediaItems, mediaKeys } from "./media";
import { getSystem, toSystemData } from "./system";
import { json, stubFetch } from "./test-utils";

const server = stubFetch("fwk_test");

describe("run extras client", () => {
  it("reads system samples as typed arrays", async () => {
    server.answer = () => json({ timestamp: [10, 11], runtime: [0, 1], series: { "system/cpu.percent": [5, null], "system/gpu.0.util": ["NaN", 3] } });
    const d = await getSystem("team a", "p", "r/1", { keys: ["system/cpu.percent"], samples: 800.4 });
    expect(server.calls[0]?.url.pathname).toBe("/api/v1/runs/team%20a/p/r%2F1/system");
    expect(server.calls[0]?.url.searchParams.get("keys")).toBe("system/cpu.percent");
    expect(server.calls[0]?.url.searchParams.get("samples")).toBe("800");
    expect(Array.from(d.runtime)).toEqual([0, 1]);
    expect(d.series.get("system/cpu.percent")?.[1]).toBeNaN();
    expect(d.series.get("system/gpu.0.util")?.[1]).toBe(3);
    expect(toSystemData({ timestamp: [], runtime: [], series: {} }).series.size).toBe(0);
  });

  it("pages the console by offset with a search", async () => {
    server.answer = () => json({ lines: [{ n: 7, stream: "stderr", ts: 1, text: "boom" }], total: 1, next: null });
    const page = await getLogs("e", "p", "r", { offset: 500, limit: 500, q: "boom" });
    const q = server.calls[0]?.url.searchParams;
    expect([q?.get("offset"), q?.get("limit"), q?.get("q"), q?.has("stream")]).toEqual(["500", "500", "boom", false]);
    expect(page.lines[0]?.stream).toBe("stderr");
    await getLogs("e", "p", "r", { q: "" });
    expect(server.calls[1]?.url.searchParams.has("q")).toBe(false);
  });

  it("lists and fetches files with the key, escaping each path segment", async () => {
    server.answer = (url) => (url.pathname.endsWith("/files") ? json({ files: [{ path: "a b/c.txt", size: 3 }] }) : new Response("abc"));
    expect(await listFiles("e", "p", "r")).toEqual([{ path: "a b/c.txt", size: 3 }]);
    expect(filePath("e", "p", "r", "a b/c#.txt")).toBe("/runs/e/p/r/files/a%20b/c%23.txt");
    const blob = await fetchFile("e", "p", "r", "a b/c.txt");
    expect(await blob.text()).toBe("abc");
    const headers = server.calls[1]?.init.headers as Record<string, string>;
    expect(headers.Authorization).toBe("Bearer fwk_test");
    expect(server.calls[1]?.url.pathname).toBe("/api/v1/runs/e/p/r/files/a%20b/c.txt");
  });

  it("reads media keys, items and table pages", async () => {
    server.answer = (url) => {
      if (url.pathname.endsWith("/media/keys")) return json({ keys: [{ key: "samples", type: "image", count: 3 }] });
      if (url.pathname.endsWith("/media")) return json({ key: "samples", items: [{ step: 0, ts: 1, value: { _type: "html", path: "media/x.html", sha256: "x", size: 1 } }] });
      return json({ columns: ["a"], total: 1, offset: 0, rows: [[1]], row_ids: [0] });
    };
    expect((await mediaKeys("e", "p", "r"))[0]?.type).toBe("image");
    expect((await mediaItems("e", "p", "r", "samples"))[0]?.value._type).toBe("html");
    expect(server.calls[1]?.url.searchParams.get("key")).toBe("samples");
    const t = await getTable("e", "p", "r", "media/x.table.json", { offset: 50, limit: 50, sort: "a", order: "desc", q: "" });
    const q = server.calls[2]?.url.searchParams;
    expect([q?.get("path"), q?.get("offset"), q?.get("limit"), q?.get("sort"), q?.get("order"), q?.has("q")]).toEqual(["media/x.table.json", "50", "50", "a", "desc", false]);
    expect(t.row_ids).toEqual([0]);
    await getTable("e", "p", "r", "t", { offset: 0, limit: 50, order: "desc" });
    expect(server.calls[3]?.url.searchParams.has("order")).toBe(false);
  });
});
