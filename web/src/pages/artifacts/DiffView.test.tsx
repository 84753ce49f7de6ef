import { afterEach, describe, expect, it } from "vitest";
import { parseVersion } from "../../api/artifacts";
import type { ArtifactDiff } from "../../api/types";
import { mount } from "../../components/test-utils";
import { DiffView, metadataRows } from "./DiffView";

const A = "blake3:" + "aa".repeat(32);
const B = "blake3:" + "bb".repeat(32);

function diff(partial: Partial<ArtifactDiff> = {}): ArtifactDiff {
  return {
    a: parseVersion({ name: "data", version: "v0", digest: A }),
    b: parseVersion({ name: "data", version: "v1", digest: B }),
    added: [{ path: "extra/new.csv", size: 2048 }],
    removed: [{ path: "old.txt", size: 10 }],
    changed: [{ path: "train.csv", a: { size: 100, address: A }, b: { size: 120, address: B } }],
    unchanged: 3,
    metadata: { added: { source: "web" }, removed: { stale: true }, changed: { rows: [100, 120] } },
    ...partial,
  };
}

let cleanup: (() => void) | null = null;
afterEach(() => {
  cleanup?.();
  cleanup = null;
});

function render(d: ArtifactDiff): HTMLElement {
  const { container, unmount } = mount(<DiffView diff={d} entity="e" project="p" />);
  cleanup = unmount;
  return container;
}

describe("DiffView", () => {
  it("lists files added, removed and changed, with sizes and addresses", () => {
    const root = render(diff());
    const rows = [...root.querySelectorAll('[data-testid="diff-row"]')].map((r) => [r.getAttribute("data-change"), r.getAttribute("data-path")]);
    expect(rows).toEqual([
      ["added", "extra/new.csv"],
      ["removed", "old.txt"],
      ["changed", "train.csv"],
    ]);
    const changed = root.querySelector('[data-change="changed"]');
    expect(changed?.textContent).toContain("100 B");
    expect(changed?.textContent).toContain("120 B");
    expect(changed?.textContent).toContain("blake3:aaaaaaaaaaaa… → blake3:bbbbbbbbbbbb…");
    expect(root.querySelector('[data-change="added"]')?.textContent).toContain("2.0 KB");
    const summary = root.querySelector('[data-testid="diff-summary"]');
    expect(summary?.getAttribute("data-unchanged")).toBe("3");
    expect(summary?.textContent).toContain("1 added, 1 removed, 1 changed, 3 unchanged");
    // both versions are links to their pages
    expect([...root.querySelectorAll('[data-testid="version-link"]')].map((a) => a.getAttribute("href"))).toEqual(["#/p/e/p/artifacts/data/v0", "#/p/e/p/artifacts/data/v1"]);
  });

  it("lists metadata changes by key with old and new values", () => {
    const root = render(diff());
    const rows = [...root.querySelectorAll('[data-testid="diff-meta-row"]')].map((r) => [r.getAttribute("data-key"), r.getAttribute("data-change"), ...[...r.querySelectorAll("td")].slice(2).map((td) => td.textContent)]);
    expect(rows).toEqual([
      ["rows", "changed", "100", "120"],
      ["source", "added", "", "web"],
      ["stale", "removed", "true", ""],
    ]);
  });

  it("says when nothing differs, and references are compared by ETag", () => {
    const root = render(diff({ added: [], removed: [], changed: [], metadata: { added: {}, removed: {}, changed: {} } }));
    expect(root.querySelector('[data-testid="diff-files"]')).toBeNull();
    expect(root.textContent).toContain("No file differs");
    expect(root.textContent).toContain("The metadata is the same");
    cleanup?.();
    const refs = render(diff({ changed: [{ path: "raw/x", a: { size: 1, etag: '"e1"' }, b: { size: 1, etag: '"e2"' } }] }));
    expect(refs.querySelector('[data-change="changed"]')?.textContent).toContain('ETag "e1" → ETag "e2"');
  });

  it("sorts metadata rows by key", () => {
    expect(metadataRows({ added: { b: 1 }, removed: { a: 2 }, changed: { c: [1, 2] } }).map((r) => r.key)).toEqual(["a", "b", "c"]);
  });
});
