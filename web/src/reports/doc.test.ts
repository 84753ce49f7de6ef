import { describe, expect, it } from "vitest";
import {
  addOp,
  applyOps,
  beginSave,
  blockLabel,
  edit,
  hasUnsaved,
  initialState,
  newBlockId,
  rebase,
  saveDone,
  saveFailed,
  viewOf,
  type Block,
  type Report,
} from "./doc";

function md(id: string, text: string, rev = 1): Block {
  return { id, type: "markdown", text, rev };
}

function report(version: number, blocks: Block[], extra: Partial<Report> = {}): Report {
  return {
    id: "r1",
    entity: "team",
    project: "p",
    title: "T",
    description: "",
    version,
    frozen_at: null,
    blocks,
    created_by: "ann",
    created_at: 1,
    updated_by: "ann",
    updated_at: 1,
    url: "",
    ...extra,
  };
}

const texts = (r: { blocks: Block[] }): string[] => r.blocks.map((b) => (b.type === "markdown" ? b.text : b.type));

describe("applyOps", () => {
  const doc = report(3, [md("a", "A"), md("b", "B"), md("c", "C")]);

  it("inserts new blocks after a block, first for null, last when absent or unknown", () => {
    expect(texts(applyOps(doc, [{ op: "upsert", block: md("x", "X"), after: "a" }]))).toEqual(["A", "X", "B", "C"]);
    expect(texts(applyOps(doc, [{ op: "upsert", block: md("x", "X"), after: null }]))).toEqual(["X", "A", "B", "C"]);
    expect(texts(applyOps(doc, [{ op: "upsert", block: md("x", "X") }]))).toEqual(["A", "B", "C", "X"]);
    expect(texts(applyOps(doc, [{ op: "upsert", block: md("x", "X"), after: "gone" }]))).toEqual(["A", "B", "C", "X"]);
  });

  it("edits an existing block in place, keeping its server revision", () => {
    const out = applyOps(doc, [{ op: "upsert", block: { id: "b", type: "markdown", text: "B2" } }]);
    expect(texts(out)).toEqual(["A", "B2", "C"]);
    expect(out.blocks[1]?.rev).toBe(1);
  });

  it("moves and deletes; ops on missing blocks change nothing", () => {
    expect(texts(applyOps(doc, [{ op: "move", id: "c", after: null }]))).toEqual(["C", "A", "B"]);
    expect(texts(applyOps(doc, [{ op: "move", id: "a", after: "b" }]))).toEqual(["B", "A", "C"]);
    expect(texts(applyOps(doc, [{ op: "delete", id: "b" }]))).toEqual(["A", "C"]);
    expect(texts(applyOps(doc, [{ op: "move", id: "zz", after: null }, { op: "delete", id: "zz" }]))).toEqual(["A", "B", "C"]);
  });

  it("sets the title and description", () => {
    const out = applyOps(doc, [{ op: "set_title", title: "New" }, { op: "set_description", description: "D" }]);
    expect([out.title, out.description]).toEqual(["New", "D"]);
    expect(doc.title).toBe("T");
  });
});

describe("addOp", () => {
  it("folds keystrokes into one upsert that keeps the place of the first", () => {
    let ops = addOp([], { op: "upsert", block: md("x", ""), after: "a" });
    ops = addOp(ops, { op: "upsert", block: md("x", "h") });
    ops = addOp(ops, { op: "upsert", block: md("x", "hi") });
    expect(ops).toEqual([{ op: "upsert", block: md("x", "hi"), after: "a" }]);
  });

  it("keeps one title op, the last", () => {
    const ops = addOp(addOp([], { op: "set_title", title: "a" }), { op: "set_title", title: "ab" });
    expect(ops).toEqual([{ op: "set_title", title: "ab" }]);
  });
});

describe("editor state", () => {
  it("saves pending ops against the server's version and adopts the answer", () => {
    let s = initialState(report(4, [md("a", "A")]));
    s = edit(s, { op: "upsert", block: md("a", "A1") });
    expect(hasUnsaved(s)).toBe(true);
    const started = beginSave(s);
    expect(started?.body).toEqual({ base_version: 4, ops: [{ op: "upsert", block: md("a", "A1") }] });
    if (started === null) throw new Error("nothing to save");
    expect(beginSave(started.state)).toBeNull(); // one save at a time
    s = edit(started.state, { op: "upsert", block: md("b", "B"), after: "a" });
    expect(texts(viewOf(s))).toEqual(["A1", "B"]);
    s = saveDone(s, report(5, [md("a", "A1", 5)]));
    expect(s.server.version).toBe(5);
    expect(texts(viewOf(s))).toEqual(["A1", "B"]); // the edit made during the save is still there
    expect(beginSave(s)?.body.base_version).toBe(5);
  });

  it("a failed save keeps its ops, before the edits made since", () => {
    let s = initialState(report(1, [md("a", "A")]));
    s = edit(s, { op: "upsert", block: md("a", "A1") });
    const started = beginSave(s);
    if (started === null) throw new Error("nothing to save");
    s = edit(started.state, { op: "upsert", block: md("a", "A12") });
    s = saveFailed(s);
    expect(s.inflight).toBeNull();
    expect(s.pending).toEqual([{ op: "upsert", block: md("a", "A12") }]);
    expect(texts(viewOf(s))).toEqual(["A12"]);
  });
});

describe("rebase", () => {
  it("keeps local unsaved edits on top of another editor's save", () => {
    let s = initialState(report(2, [md("a", "A", 1), md("b", "B", 1)]));
    s = edit(s, { op: "upsert", block: md("a", "mine") });
    s = edit(s, { op: "upsert", block: md("n", "new"), after: "a" });
    const theirs = report(3, [md("a", "A", 1), md("b", "theirs", 3), md("c", "C", 3)], { updated_by: "bob" });
    const { state, clashes } = rebase(s, theirs);
    expect(texts(viewOf(state))).toEqual(["mine", "new", "theirs", "C"]);
    expect(clashes).toEqual([]);
    expect(beginSave(state)?.body.base_version).toBe(3);
  });

  it("names the blocks both editors changed, and the blocks deleted under a local edit", () => {
    let s = initialState(report(2, [md("a", "A", 1), md("b", "B", 1)]));
    s = edit(s, { op: "upsert", block: md("a", "mine") });
    s = edit(s, { op: "upsert", block: md("b", "mine too") });
    const theirs = report(3, [md("a", "theirs", 3)], { updated_by: "bob" });
    const { state, clashes } = rebase(s, theirs);
    expect(clashes).toEqual([
      { block: "a", by: "bob", deleted: false },
      { block: "b", by: "bob", deleted: true },
    ]);
    // nothing local is lost: both blocks show the local text
    expect(texts(viewOf(state))).toEqual(["mine", "mine too"]);
  });

  it("ignores documents that are not newer, and any while a save is in flight", () => {
    const s = edit(initialState(report(5, [md("a", "A")])), { op: "upsert", block: md("a", "x") });
    expect(rebase(s, report(5, [])).state).toBe(s);
    const started = beginSave(s);
    if (started === null) throw new Error("nothing to save");
    expect(rebase(started.state, report(9, [])).state).toBe(started.state);
  });
});

describe("labels and ids", () => {
  it("names a block by its kind, position and first line", () => {
    const blocks: Block[] = [md("a", "\n## Results here\nmore"), { id: "l", type: "line", runs: { filter: "" }, y: ["loss"], title: "Loss" }];
    expect(blockLabel(blocks, "a")).toBe("Text block 1 (“Results here”)");
    expect(blockLabel(blocks, "l")).toBe("Line chart block 2 (“Loss”)");
    expect(blockLabel(blocks, "q")).toBe("block q");
  });

  it("makes ids the document accepts", () => {
    const ids = new Set(Array.from({ length: 50 }, newBlockId));
    expect(ids.size).toBe(50);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
  });
});
