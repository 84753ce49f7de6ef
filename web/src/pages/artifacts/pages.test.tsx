// The artifact views against a stubbed HTTP server: what they ask for and what they show.

import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "../../api/client";
import { json, stubFetch } from "../../api/test-utils";
import { $, click, mount, press, settle, type } from "../../components/test-utils";
import { AliasEditor } from "./AliasEditor";
import { FileBrowser } from "./FileBrowser";
import { LineageSvg } from "./LineageGraph";
import { RunArtifactsTab } from "./RunArtifactsTab";

const server = stubFetch();
const DIGEST = "blake3:" + "cd".repeat(32);

let cleanup: (() => void) | null = null;
afterEach(() => {
  cleanup?.();
  cleanup = null;
});

function show(node: preact.ComponentChild): HTMLElement {
  const m = mount(node);
  cleanup = m.unmount;
  return m.container;
}

describe("AliasEditor", () => {
  it("adds and removes aliases as a whole set, never latest", async () => {
    const onSave = vi.fn<(next: string[]) => Promise<void>>(() => Promise.resolve());
    const root = show(<AliasEditor aliases={["best", "latest"]} readOnly={false} onSave={onSave} />);
    expect([...root.querySelectorAll('[data-testid="alias"]')].map((e) => e.getAttribute("data-alias"))).toEqual(["latest", "best"]);
    expect(root.querySelector('[aria-label="Remove alias latest"]')).toBeNull();
    const input = $(root, '[data-testid="alias-input"]');
    type(input, "prod");
    press(input, "Enter");
    await settle();
    expect(onSave).toHaveBeenLastCalledWith(["best", "prod"]);
    click($(root, '[aria-label="Remove alias best"]'));
    await settle();
    expect(onSave).toHaveBeenLastCalledWith([]);
  });

  it("refuses a bad alias before asking the server", async () => {
    const onSave = vi.fn(() => Promise.resolve());
    const root = show(<AliasEditor aliases={[]} readOnly={false} onSave={onSave} />);
    const input = $(root, '[data-testid="alias-input"]');
    type(input, "v2");
    press(input, "Enter");
    await settle();
    expect(onSave).not.toHaveBeenCalled();
    expect($(root, '[data-testid="alias-error"]').textContent).toMatch(/version number/);
  });

  it("shows badges only on a read-only server, and turns read-only on a 405", async () => {
    let root = show(<AliasEditor aliases={["best"]} readOnly onSave={() => Promise.resolve()} />);
    expect(root.querySelector('[data-testid="alias-input"]')).toBeNull();
    expect($(root, '[data-testid="alias-editor"]').getAttribute("data-readonly")).toBe("true");
    cleanup?.();
    root = show(<AliasEditor aliases={["best"]} readOnly={false} onSave={() => Promise.reject(new ApiError(405, "read-only"))} />);
    click($(root, '[aria-label="Remove alias best"]'));
    await settle();
    expect(root.querySelector('[data-testid="alias-input"]')).toBeNull();
    expect(root.textContent).toContain("read-only");
  });
});

describe("RunArtifactsTab", () => {
  it("lists what the run logged and used, linked to the versions", async () => {
    server.answer = () =>
      json({
        logged: [{ project: "p", name: "model", type: "model", version: "v0", index: 0, digest: DIGEST, size: 2048, files: 1, aliases: ["latest"], metadata: {}, created_at: 1 }],
        used: [{ project: "p", name: "data", digest: DIGEST, version: null }],
      });
    const root = show(<RunArtifactsTab entity="e" project="p" runId="train" />);
    await settle();
    expect(server.calls[0]?.url.pathname).toBe("/api/v1/runs/e/p/train/artifacts");
    const logged = $(root, '[data-testid="run-artifacts-logged"]');
    expect(logged.querySelector("a")?.getAttribute("href")).toBe("#/p/e/p/artifacts/model/v0");
    expect(logged.textContent).toContain("2.0 KB");
    expect($(root, '[data-testid="run-artifacts-used"]').textContent).toContain("not on the server yet");
  });
});

describe("LineageSvg", () => {
  it("draws a node per run and version, linked, the start marked", () => {
    const lineage = {
      nodes: [
        { id: "run:e/p/prep", kind: "run" as const, entity: "e", project: "p", run_id: "prep", name: "prep", state: "finished" as const },
        { id: "artifact:p/data:v1", kind: "artifact" as const, project: "p", name: "data", version: "v1", type: "dataset", digest: DIGEST },
        { id: "run:e/p/train", kind: "run" as const, entity: "e", project: "p", run_id: "train", name: "train", state: "finished" as const },
      ],
      edges: [
        { from: "run:e/p/prep", to: "artifact:p/data:v1" },
        { from: "artifact:p/data:v1", to: "run:e/p/train" },
      ],
    };
    const root = show(<LineageSvg lineage={lineage} startId="artifact:p/data:v1" entity="e" depth={3} />);
    const graph = $(root, '[data-testid="lineage-graph"]');
    expect([graph.getAttribute("data-nodes"), graph.getAttribute("data-edges"), graph.getAttribute("data-columns")]).toEqual(["3", "2", "3"]);
    const nodes = [...root.querySelectorAll('[data-testid="lineage-node"]')];
    expect(nodes.map((n) => [n.getAttribute("data-id"), n.getAttribute("data-layer"), n.getAttribute("href")])).toEqual([
      ["run:e/p/prep", "0", "#/p/e/p/r/prep"],
      ["artifact:p/data:v1", "1", "#/p/e/p/artifacts/data/v1?tab=lineage&depth=3"],
      ["run:e/p/train", "2", "#/p/e/p/r/train"],
    ]);
    expect(root.querySelector('[data-start="true"]')?.getAttribute("data-id")).toBe("artifact:p/data:v1");
  });
});

describe("FileBrowser", () => {
  it("lists one folder, loads the next page on demand and opens folders through its callbacks", async () => {
    server.answer = (url) => {
      const cursor = url.searchParams.get("cursor");
      if (cursor === null) return json({ prefix: "", dirs: [{ name: "images", files: 2, size: 2048 }], files: [{ path: "a.csv", size: 10, address: DIGEST }], next_cursor: "c1" });
      return json({ prefix: "", dirs: [], files: [{ path: "b.txt", size: 3, address: DIGEST }, { path: "raw", size: null, ref: "s3://bucket/raw/" }], next_cursor: null });
    };
    const prefixes: string[] = [];
    const root = show(<FileBrowser entity="e" project="p" name="d" version="v1" prefix="" selected={undefined} onPrefix={(p) => prefixes.push(p)} onSelect={() => undefined} />);
    await settle();
    expect(server.calls[0]?.url.pathname).toBe("/api/v1/artifacts/e/p/collections/d/versions/v1/files");
    expect(server.calls[0]?.url.searchParams.get("limit")).toBe("500");
    expect([...root.querySelectorAll('[data-testid="artifact-file"]')].map((e) => e.getAttribute("data-path"))).toEqual(["a.csv"]);
    click($(root, '[data-testid="artifact-files-more"]'));
    await settle();
    expect(server.calls[1]?.url.searchParams.get("cursor")).toBe("c1");
    expect([...root.querySelectorAll('[data-testid="artifact-file"]')].map((e) => e.getAttribute("data-path"))).toEqual(["a.csv", "b.txt", "raw"]);
    expect(root.querySelector('[data-testid="artifact-files-more"]')).toBeNull();
    // a reference has no download; a stored file links to its URL
    expect(root.querySelector('[data-testid="artifact-file-download"][data-path="raw"]')).toBeNull();
    expect(root.querySelector('[data-testid="artifact-file-download"][data-path="b.txt"]')?.getAttribute("href")).toBe("/api/v1/artifacts/e/p/collections/d/versions/v1/files/b.txt");
    click($(root, '[data-testid="artifact-dir-open"]'));
    expect(prefixes).toEqual(["images/"]);
  });
});
