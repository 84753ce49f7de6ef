import { describe, expect, it } from "vitest";
import { ApiError } from "./client";
import { deleteReport, fetchAsset, listReports, listVersions, restoreVersion, saveReport, uploadAsset } from "./reports";
import { json, stubFetch } from "./test-utils";

const server = stubFetch("fwk_test");

describe("reports API", () => {
  it("lists a project's reports under its escaped path", async () => {
    server.answer = () => json({ reports: [{ id: "abc", title: "T", updated_by: "ann", updated_at: 1, version: 2, frozen_at: null, url: "u" }] });
    const list = await listReports("my team", "p/q");
    expect(list.map((r) => r.id)).toEqual(["abc"]);
    expect(server.calls[0]?.url.pathname).toBe("/api/v1/reports/my%20team/p%2Fq");
  });

  it("saves ops against a base version with PATCH and answers the conflicts", async () => {
    server.answer = () => json({ report: { id: "abc", version: 4, blocks: [] }, conflicts: [{ block: "b1", by: "bob", at: 5, kind: "overwritten" }] });
    const out = await saveReport("lab", "p", "abc", { base_version: 3, ops: [{ op: "delete", id: "b1" }] });
    expect(out.conflicts[0]?.by).toBe("bob");
    const call = server.calls[0];
    expect(call?.init.method).toBe("PATCH");
    expect(JSON.parse(call?.init.body as string)).toEqual({ base_version: 3, ops: [{ op: "delete", id: "b1" }] });
  });

  it("reads the history and restores a version", async () => {
    server.answer = () => json({ versions: [{ version: 2, author: "ann", at: 1, note: "" }] });
    expect((await listVersions("lab", "p", "abc"))[0]?.author).toBe("ann");
    server.answer = () => json({ id: "abc", version: 3 });
    await restoreVersion("lab", "p", "abc", 1);
    expect(server.calls[1]?.url.pathname).toBe("/api/v1/reports/lab/p/abc/versions/1/restore");
    expect(server.calls[1]?.init.method).toBe("POST");
  });

  it("uploads image bytes with their media type, and fetches them by address", async () => {
    server.answer = () => json({ src: "asset:deadbeef" });
    const png = new Blob([new Uint8Array([137, 80, 78, 71])], { type: "image/png" });
    expect(await uploadAsset("lab", "p", "abc", png)).toBe("asset:deadbeef");
    const call = server.calls[0];
    expect((call?.init.headers as Record<string, string>)["Content-Type"]).toBe("image/png");
    expect(call?.init.body).toBe(png);
    server.answer = () => new Response(new Uint8Array([1, 2]), { headers: { "Content-Type": "image/png" } });
    const blob = await fetchAsset("lab", "p", "abc", "asset:deadbeef");
    expect(blob.size).toBe(2);
    expect(server.calls[1]?.url.pathname).toBe("/api/v1/reports/lab/p/abc/assets/deadbeef");
  });

  it("throws the server's message of a refused write", async () => {
    server.answer = () => json({ detail: "viewers of team lab cannot write" }, 403);
    await expect(deleteReport("lab", "p", "abc")).rejects.toEqual(new ApiError(403, "viewers of team lab cannot write"));
  });
});
