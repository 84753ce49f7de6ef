// A layered layout of a lineage graph (runs and versions), ours and small: every edge points
// to the right. Columns by longest path from the sources (cycles broken first), rows ordered
// by the barycenter of the neighbours in the column before (then after) to keep crossings few.
// Pure: tested in lineageLayout.test.ts.

export interface LayoutEdge {
  from: string;
  to: string;
}

export interface PlacedNode {
  id: string;
  /** The column: 0 for sources, each edge one or more columns to the right. */
  layer: number;
  /** The position in its column, from the top. */
  row: number;
  /** The top-left corner of the node's box. */
  x: number;
  y: number;
}

export interface PlacedEdge {
  from: string;
  to: string;
  /** An SVG path from the right side of `from` to the left side of `to`. */
  d: string;
  /** True for an edge that was reversed to break a cycle (drawn, but against the flow). */
  back: boolean;
}

export interface Layout {
  nodes: PlacedNode[];
  edges: PlacedEdge[];
  width: number;
  height: number;
}

export interface LayoutSizes {
  nodeWidth: number;
  nodeHeight: number;
  /** Horizontal gap between columns. */
  gapX: number;
  /** Vertical gap between rows. */
  gapY: number;
  /** Space around the drawing. */
  margin: number;
}

export const DEFAULT_SIZES: LayoutSizes = { nodeWidth: 190, nodeHeight: 46, gapX: 70, gapY: 18, margin: 12 };

/**
 * The edges of a DFS (in the order of `ids`) that close a cycle: reversing them leaves a DAG.
 * Self-loops are back edges too.
 */
function backEdges(ids: readonly string[], out: ReadonlyMap<string, string[]>): Set<string> {
  const state = new Map<string, 1 | 2>(); // 1: on the stack, 2: done
  const back = new Set<string>();
  for (const root of ids) {
    if (state.has(root)) continue;
    // iterative DFS: [node, index of the next child]
    const stack: [string, number][] = [[root, 0]];
    state.set(root, 1);
    while (stack.length > 0) {
      const top = stack[stack.length - 1] as [string, number];
      const [node, i] = top;
      const children = out.get(node) ?? [];
      if (i >= children.length) {
        state.set(node, 2);
        stack.pop();
        continue;
      }
      top[1] = i + 1;
      const child = children[i] as string;
      const s = state.get(child);
      if (s === 1) back.add(`${node}\u0000${child}`);
      else if (s === undefined) {
        state.set(child, 1);
        stack.push([child, 0]);
      }
    }
  }
  return back;
}

/** The column of every node: the longest path to it from a source, over the acyclic edges. */
export function assignLayers(ids: readonly string[], edges: readonly LayoutEdge[]): { layer: Map<string, number>; back: Set<string> } {
  const known = new Set(ids);
  const out = new Map<string, string[]>();
  for (const e of edges) {
    if (!known.has(e.from) || !known.has(e.to)) continue;
    const list = out.get(e.from) ?? [];
    list.push(e.to);
    out.set(e.from, list);
  }
  const back = backEdges(ids, out);
  const preds = new Map<string, string[]>(ids.map((id) => [id, []]));
  const succ = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const e of edges) {
    if (!known.has(e.from) || !known.has(e.to) || e.from === e.to) continue;
    const [u, v] = back.has(`${e.from}\u0000${e.to}`) ? [e.to, e.from] : [e.from, e.to];
    preds.get(v)?.push(u);
    succ.get(u)?.push(v);
  }
  // Kahn's order; longest path: a node's layer is one more than its furthest predecessor
  const indeg = new Map(ids.map((id) => [id, preds.get(id)?.length ?? 0]));
  const layer = new Map<string, number>(ids.map((id) => [id, 0]));
  const queue = ids.filter((id) => indeg.get(id) === 0);
  for (let qi = 0; qi < queue.length; qi++) {
    const u = queue[qi] as string;
    for (const v of succ.get(u) ?? []) {
      layer.set(v, Math.max(layer.get(v) ?? 0, (layer.get(u) ?? 0) + 1));
      const d = (indeg.get(v) ?? 1) - 1;
      indeg.set(v, d);
      if (d === 0) queue.push(v);
    }
  }
  return { layer, back };
}

function mean(values: number[]): number | null {
  return values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length;
}

/** Rows within columns: the input order, then barycenter sweeps (down, up, down). */
function orderRows(ids: readonly string[], layer: ReadonlyMap<string, number>, edges: readonly LayoutEdge[]): string[][] {
  const count = Math.max(-1, ...ids.map((id) => layer.get(id) ?? 0)) + 1;
  const columns: string[][] = Array.from({ length: count }, () => []);
  for (const id of ids) columns[layer.get(id) ?? 0]?.push(id);
  const neighbours = new Map<string, { left: string[]; right: string[] }>(ids.map((id) => [id, { left: [], right: [] }]));
  for (const e of edges) {
    const a = layer.get(e.from);
    const b = layer.get(e.to);
    if (a === undefined || b === undefined || a === b) continue;
    const [l, r] = a < b ? [e.from, e.to] : [e.to, e.from];
    neighbours.get(r)?.left.push(l);
    neighbours.get(l)?.right.push(r);
  }
  const position = new Map<string, number>();
  const index = (): void => {
    for (const col of columns) col.forEach((id, i) => position.set(id, i));
  };
  index();
  const sweep = (side: "left" | "right", order: number[]): void => {
    for (const c of order) {
      const col = columns[c];
      if (col === undefined) continue;
      const keyed = col.map((id, i) => {
        const ns = neighbours.get(id)?.[side] ?? [];
        return { id, key: mean(ns.map((n) => position.get(n) ?? 0)) ?? i, i };
      });
      keyed.sort((x, y) => x.key - y.key || x.i - y.i);
      columns[c] = keyed.map((k) => k.id);
      columns[c].forEach((id, i) => position.set(id, i));
    }
  };
  const down = Array.from({ length: count }, (_, i) => i).slice(1);
  const up = Array.from({ length: count }, (_, i) => count - 1 - i).slice(1);
  sweep("left", down);
  sweep("right", up);
  sweep("left", down);
  return columns;
}

/**
 * Places `ids` (in a stable order: the server's) with `edges` between them. Edges naming an
 * unknown node are dropped. Columns are centred vertically on the tallest one.
 */
export function layoutLineage(ids: readonly string[], edges: readonly LayoutEdge[], sizes: LayoutSizes = DEFAULT_SIZES): Layout {
  const unique = [...new Set(ids)];
  const known = new Set(unique);
  const kept = edges.filter((e) => known.has(e.from) && known.has(e.to));
  const { layer, back } = assignLayers(unique, kept);
  const columns = orderRows(unique, layer, kept);
  const tallest = Math.max(0, ...columns.map((c) => c.length));
  const { nodeWidth: w, nodeHeight: h, gapX, gapY, margin } = sizes;
  const height = unique.length === 0 ? 0 : 2 * margin + tallest * h + (tallest - 1) * gapY;
  const width = unique.length === 0 ? 0 : 2 * margin + columns.length * w + (columns.length - 1) * gapX;
  const placed = new Map<string, PlacedNode>();
  columns.forEach((col, c) => {
    const colHeight = col.length * h + (col.length - 1) * gapY;
    const top = margin + (height - 2 * margin - colHeight) / 2;
    col.forEach((id, row) => {
      placed.set(id, { id, layer: c, row, x: margin + c * (w + gapX), y: top + row * (h + gapY) });
    });
  });
  const placedEdges: PlacedEdge[] = kept.map((e) => {
    const a = placed.get(e.from) as PlacedNode;
    const b = placed.get(e.to) as PlacedNode;
    const x1 = a.x + w;
    const y1 = a.y + h / 2;
    const x2 = b.x;
    const y2 = b.y + h / 2;
    const bend = Math.max(24, Math.abs(x2 - x1) / 2);
    const d = `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`;
    return { from: e.from, to: e.to, d, back: back.has(`${e.from}\u0000${e.to}`) || e.from === e.to };
  });
  return { nodes: unique.map((id) => placed.get(id) as PlacedNode), edges: placedEdges, width, height };
}
