import { describe, expect, it } from "vitest";
import { assignLayers, DEFAULT_SIZES, layoutLineage, type Layout } from "./lineageLayout";

function at(layout: Layout, id: string): { layer: number; row: number; x: number; y: number } {
  const n = layout.nodes.find((p) => p.id === id);
  if (n === undefined) throw new Error(`${id} not placed`);
  return n;
}

// dataset run -> data:v1 -> train run -> model:v0 -> eval run -> report:v0
const CHAIN = ["run:prep", "artifact:data:v1", "run:train", "artifact:model:v0", "run:eval", "artifact:report:v0"];
const CHAIN_EDGES = CHAIN.slice(1).map((to, i) => ({ from: CHAIN[i] as string, to }));

describe("lineage layout", () => {
  it("puts a chain in one column per hop, left to right, whatever the input order", () => {
    const layout = layoutLineage([...CHAIN].reverse(), CHAIN_EDGES);
    expect(CHAIN.map((id) => at(layout, id).layer)).toEqual([0, 1, 2, 3, 4, 5]);
    const { nodeWidth, gapX, margin } = DEFAULT_SIZES;
    expect(at(layout, "run:eval").x).toBe(margin + 4 * (nodeWidth + gapX));
    expect(layout.width).toBe(2 * margin + 6 * nodeWidth + 5 * gapX);
    // one row: every node at the same height
    expect(new Set(layout.nodes.map((n) => n.y)).size).toBe(1);
  });

  it("draws every edge from the right side of its source to the left side of its target", () => {
    const layout = layoutLineage(CHAIN, CHAIN_EDGES);
    expect(layout.edges).toHaveLength(5);
    for (const e of layout.edges) {
      const a = at(layout, e.from);
      const b = at(layout, e.to);
      expect(e.d.startsWith(`M${a.x + DEFAULT_SIZES.nodeWidth},`)).toBe(true);
      expect(e.d.endsWith(`${b.x},${b.y + DEFAULT_SIZES.nodeHeight / 2}`)).toBe(true);
      expect(e.back).toBe(false);
    }
  });

  it("places a node by its longest path: a shortcut edge spans columns", () => {
    // the eval run also uses the dataset directly
    const edges = [...CHAIN_EDGES, { from: "artifact:data:v1", to: "run:eval" }];
    const layout = layoutLineage(CHAIN, edges);
    expect(at(layout, "run:eval").layer).toBe(4);
    for (const e of layout.edges) expect(at(layout, e.to).layer).toBeGreaterThan(at(layout, e.from).layer);
  });

  it("stacks siblings in one column, centred, and orders them by their neighbours", () => {
    // prep logged two versions; train used v1, other used v0 (listed in crossing order)
    const ids = ["run:prep", "artifact:data:v1", "artifact:data:v0", "run:other", "run:train"];
    const edges = [
      { from: "run:prep", to: "artifact:data:v1" },
      { from: "run:prep", to: "artifact:data:v0" },
      { from: "artifact:data:v0", to: "run:other" },
      { from: "artifact:data:v1", to: "run:train" },
    ];
    const layout = layoutLineage(ids, edges);
    expect(at(layout, "artifact:data:v1").layer).toBe(1);
    expect(at(layout, "artifact:data:v0").layer).toBe(1);
    // no crossing: each consumer on the row of the version it used
    expect(at(layout, "run:train").row).toBe(at(layout, "artifact:data:v1").row);
    expect(at(layout, "run:other").row).toBe(at(layout, "artifact:data:v0").row);
    // the single source sits in the middle of the two rows
    const { nodeHeight, gapY, margin } = DEFAULT_SIZES;
    expect(layout.height).toBe(2 * margin + 2 * nodeHeight + gapY);
    expect(at(layout, "run:prep").y).toBe(margin + (nodeHeight + gapY) / 2);
  });

  it("survives a cycle (a run that used what it logged) and marks the edge drawn backwards", () => {
    const ids = ["run:a", "artifact:x:v0"];
    const edges = [
      { from: "run:a", to: "artifact:x:v0" },
      { from: "artifact:x:v0", to: "run:a" },
    ];
    const layout = layoutLineage(ids, edges);
    expect(layout.nodes).toHaveLength(2);
    expect(at(layout, "run:a").layer).toBe(0);
    expect(at(layout, "artifact:x:v0").layer).toBe(1);
    expect(layout.edges.filter((e) => e.back)).toEqual([expect.objectContaining({ from: "artifact:x:v0", to: "run:a" })]);
  });

  it("drops edges to unknown nodes and duplicate ids; an empty graph is empty", () => {
    const layout = layoutLineage(["a", "a", "b"], [
      { from: "a", to: "b" },
      { from: "b", to: "gone" },
    ]);
    expect(layout.nodes.map((n) => n.id)).toEqual(["a", "b"]);
    expect(layout.edges).toHaveLength(1);
    expect(layoutLineage([], [])).toEqual({ nodes: [], edges: [], width: 0, height: 0 });
  });

  it("layers a long cycle-free graph without recursion", () => {
    const ids = Array.from({ length: 5000 }, (_, i) => `n${i}`);
    const edges = ids.slice(1).map((to, i) => ({ from: ids[i] as string, to }));
    const { layer } = assignLayers(ids, edges);
    expect(layer.get("n4999")).toBe(4999);
  });
});
