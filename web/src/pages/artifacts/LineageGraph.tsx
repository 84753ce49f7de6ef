// The lineage of a version: the runs that logged and used versions, and those versions, for
// `depth` hops each way (`GET …/lineage?depth=`), laid out in columns (lineageLayout.ts) and
// drawn as SVG. Every node is a link: a run to its page, a version to its lineage.

import { useMemo } from "preact/hooks";
import { getLineage, MAX_LINEAGE_DEPTH } from "../../api/artifacts";
import type { Lineage, LineageNode } from "../../api/types";
import { Empty, whenLoaded } from "../../components/states";
import { useAsync } from "../../lib/hooks";
import { href } from "../../lib/route";
import { DEFAULT_SIZES, layoutLineage } from "./lineageLayout";

const LABEL_CHARS = 24;

function cut(s: string, n = LABEL_CHARS): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

function nodeHref(node: LineageNode, entity: string, depth: number): string {
  if (node.kind === "run") return href.run(node.entity, node.project, node.run_id);
  return href.version(entity, node.project, node.name, node.version, { tab: "lineage", depth: String(depth) });
}

function labels(node: LineageNode): { title: string; sub: string; full: string } {
  if (node.kind === "run") return { title: node.name === "" ? node.run_id : node.name, sub: `run · ${node.state}`, full: `run ${node.entity}/${node.project}/${node.run_id} (${node.name}, ${node.state})` };
  return { title: `${node.name}:${node.version}`, sub: node.type, full: `${node.type} ${node.project}/${node.name}:${node.version}` };
}

/** The drawing of a lineage answer; `startId` marks the version the page is about. */
export function LineageSvg({ lineage, startId, entity, depth }: { lineage: Lineage; startId: string; entity: string; depth: number }) {
  const layout = useMemo(() => layoutLineage(lineage.nodes.map((n) => n.id), lineage.edges), [lineage]);
  const byId = useMemo(() => new Map(lineage.nodes.map((n) => [n.id, n])), [lineage]);
  const { nodeWidth: w, nodeHeight: h } = DEFAULT_SIZES;
  const columns = layout.nodes.reduce((m, n) => Math.max(m, n.layer + 1), 0);
  return (
    <div class="lineage-scroll card">
      <svg
        class="lineage-svg"
        width={layout.width}
        height={layout.height}
        viewBox={`0 0 ${layout.width} ${layout.height}`}
        role="group"
        aria-label="Lineage graph"
        data-testid="lineage-graph"
        data-nodes={layout.nodes.length}
        data-edges={layout.edges.length}
        data-columns={columns}
      >
        <defs>
          <marker id="lineage-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M0,0 L10,5 L0,10 z" class="lineage-arrowhead" />
          </marker>
        </defs>
        {layout.edges.map((e) => (
          <path key={`${e.from}>${e.to}`} d={e.d} class={e.back ? "lineage-edge lineage-edge-back" : "lineage-edge"} marker-end="url(#lineage-arrow)" data-testid="lineage-edge" data-from={e.from} data-to={e.to} />
        ))}
        {layout.nodes.map((p) => {
          const node = byId.get(p.id);
          if (node === undefined) return null;
          const l = labels(node);
          const start = node.id === startId;
          const cls = `lineage-node lineage-${node.kind}${start ? " lineage-start" : ""}`;
          return (
            <a
              key={p.id}
              href={nodeHref(node, entity, depth)}
              class={cls}
              aria-label={l.full}
              data-testid="lineage-node"
              data-id={node.id}
              data-kind={node.kind}
              data-layer={p.layer}
              data-start={start ? "true" : undefined}
            >
              <title>{l.full}</title>
              <rect x={p.x} y={p.y} width={w} height={h} rx={node.kind === "run" ? h / 2 : 6} />
              <text x={p.x + w / 2} y={p.y + 19} text-anchor="middle" class="lineage-title">
                {cut(l.title)}
              </text>
              <text x={p.x + w / 2} y={p.y + 35} text-anchor="middle" class="lineage-sub">
                {cut(l.sub, 30)}
              </text>
            </a>
          );
        })}
      </svg>
    </div>
  );
}

/** The lineage tab: a depth selector over the graph. */
export function LineageGraph({ entity, project, name, version, depth, onDepth }: {
  entity: string;
  project: string;
  name: string;
  version: string;
  depth: number;
  onDepth: (depth: number) => void;
}) {
  const lineage = useAsync((signal) => getLineage(entity, project, name, version, depth, signal), [entity, project, name, version, depth]);
  const startId = `artifact:${project}/${name}:${version}`;
  return (
    <div class="lineage" data-testid="lineage" data-depth={depth}>
      <div class="toolbar">
        <label class="field-inline">
          Depth{" "}
          <select
            class="input input-small"
            value={String(depth)}
            data-testid="lineage-depth"
            onChange={(e) => {
              onDepth(Number(e.currentTarget.value));
            }}
          >
            {Array.from({ length: MAX_LINEAGE_DEPTH }, (_, i) => i + 1).map((d) => (
              <option key={d} value={String(d)}>
                {d} {d === 1 ? "hop" : "hops"}
              </option>
            ))}
          </select>
        </label>
        <span class="muted">Runs logged the versions their arrows point to and used the versions pointing at them. Click a node to open it.</span>
      </div>
      {whenLoaded(lineage, { loading: "Loading lineage…", failed: "Cannot load the lineage" }, (g) =>
        g.nodes.length <= 1 && g.edges.length === 0 ? (
          <Empty title="No run logged or used this version yet" />
        ) : (
          <LineageSvg lineage={g} startId={startId} entity={entity} depth={depth} />
        ),
      )}
    </div>
  );
}
