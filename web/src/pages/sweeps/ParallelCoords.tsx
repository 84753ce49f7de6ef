// Parallel coordinates of a sweep (SVG): an axis per parameter plus the metric, a line per trial
// coloured by its metric. Dragging along an axis brushes a range; the trials inside every brush
// stay coloured and filter the runs table (the parent owns the brushes). A click on an axis
// without dragging clears its brush. From the keyboard an axis takes the focus: arrows move its
// brush (starting one in the middle), Shift+arrows resize it, Delete clears it. The scales and
// the filter are in parallel.ts.

import { useEffect, useRef, useState } from "preact/hooks";
import { describeBrush, makeBrush, nudgeBrush, passes, position, ticks, type Axis, type Brush, type PcRow, lineColor, METRIC_AXIS } from "./parallel";

const HEIGHT = 320;
const TOP = 34;
const BOTTOM = 16;
const SIDE = 60;
const HIT = 26;

function trimLabel(s: string, n = 18): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

export function ParallelCoords({ axes, rows, brushes, onBrushes, goal }: {
  axes: readonly Axis[];
  rows: readonly PcRow[];
  brushes: readonly Brush[];
  onBrushes: (brushes: Brush[]) => void;
  goal: "minimize" | "maximize";
}) {
  const wrapRef = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(900);
  const [drag, setDrag] = useState<{ key: string; from: number; to: number; moved: boolean } | null>(null);

  useEffect(() => {
    const el = wrapRef.current;
    if (el === null) return;
    if (el.clientWidth > 0) setWidth(el.clientWidth);
    if (typeof ResizeObserver === "undefined") return;
    const ro = new ResizeObserver(() => {
      if (el.clientWidth > 0) setWidth(el.clientWidth);
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
    };
  }, []);

  const plotH = HEIGHT - TOP - BOTTOM;
  const xOf = (i: number): number => (axes.length <= 1 ? width / 2 : SIDE + (i * (width - 2 * SIDE)) / (axes.length - 1));
  const yOf = (p: number): number => TOP + (1 - p) * plotH;
  const posOf = (clientY: number, svg: SVGSVGElement): number => {
    const r = svg.getBoundingClientRect();
    return 1 - (clientY - r.top - TOP) / plotH;
  };

  const shown: Brush[] = drag === null || !drag.moved ? [...brushes] : [...brushes.filter((b) => b.key !== drag.key), makeBrush(drag.key, drag.from, drag.to)];
  const metricAxis = axes.find((a) => a.key === METRIC_AXIS);
  const selected = rows.filter((r) => passes(r, axes, shown));
  const selectedIds = new Set(selected.map((r) => r.id));
  const anyBrush = shown.length > 0;

  const lines = rows.map((r) => {
    const pts: string[] = [];
    axes.forEach((a, i) => {
      const p = position(a, r.values[a.key]);
      if (p !== null) pts.push(`${pts.length === 0 ? "M" : "L"}${xOf(i).toFixed(1)},${yOf(p).toFixed(1)}`);
    });
    const mp = metricAxis === undefined ? null : position(metricAxis, r.values[METRIC_AXIS]);
    const inside = selectedIds.has(r.id);
    return { r, d: pts.join(" "), inside, color: lineColor(mp === null ? null : goal === "maximize" ? mp : 1 - mp) };
  });
  // brushed-out lines first, so the kept ones are drawn on top
  lines.sort((a, b) => Number(a.inside) - Number(b.inside));

  const axisByKey = new Map(axes.map((a) => [a.key, a]));
  return (
    <div class="pc-wrap" ref={wrapRef}>
      <svg
        class="pc"
        width={width}
        height={HEIGHT}
        role="img"
        aria-label={`Parallel coordinates of ${rows.length} trials over ${axes.length} axes; ${selected.length} inside the brushes`}
        data-testid="parallel-coords"
        data-lines={rows.length}
        data-selected={selected.length}
        data-axes={axes.map((a) => a.key).join(",")}
      >
        <g class="pc-lines">
          {lines.map(({ r, d, inside, color }) => (
            <path
              key={r.id}
              d={d}
              fill="none"
              stroke={anyBrush && !inside ? "#d5d9de" : color}
              stroke-width={anyBrush && inside ? 2 : 1.4}
              stroke-opacity={anyBrush && !inside ? 0.7 : 0.9}
              data-testid="pc-line"
              data-trial={r.id}
              data-selected={inside ? "true" : "false"}
              data-values={JSON.stringify(r.values)}
            />
          ))}
        </g>
        {axes.map((a, i) => {
          const x = xOf(i);
          const b = shown.find((s) => s.key === a.key);
          return (
            <g
              key={a.key}
              class="pc-axis"
              data-testid="pc-axis"
              data-key={a.key}
              data-kind={a.kind}
              data-min={a.kind === "category" ? "" : a.min}
              data-max={a.kind === "category" ? "" : a.max}
              data-categories={a.kind === "category" ? JSON.stringify(a.categories) : ""}
            >
              <line x1={x} x2={x} y1={TOP} y2={TOP + plotH} stroke="#4a525c" stroke-width={1} />
              <text x={x} y={TOP - 18} text-anchor="middle" class={a.key === METRIC_AXIS ? "pc-title pc-metric" : "pc-title"}>
                <title>{a.label}</title>
                {trimLabel(a.label)}
              </text>
              {ticks(a).map((t) => (
                <g key={`${t.pos}:${t.label}`}>
                  <line x1={x - 3} x2={x} y1={yOf(t.pos)} y2={yOf(t.pos)} stroke="#4a525c" />
                  <text x={x - 5} y={yOf(t.pos) + 3.5} text-anchor="end" class="pc-tick">
                    {trimLabel(t.label, 12)}
                  </text>
                </g>
              ))}
              {b !== undefined && (
                <rect
                  x={x - 8}
                  width={16}
                  y={yOf(b.hi)}
                  height={Math.max(2, yOf(b.lo) - yOf(b.hi))}
                  class="pc-brush"
                  data-testid="pc-brush"
                  data-key={a.key}
                  data-lo={b.lo}
                  data-hi={b.hi}
                />
              )}
              <rect
                x={x - HIT / 2}
                width={HIT}
                y={TOP - 4}
                height={plotH + 8}
                class="pc-hit"
                data-testid="pc-brush-area"
                data-key={a.key}
                // SVG attributes are case-sensitive: `tabindex`, not `tabIndex`
                tabindex={0}
                aria-label={`Brush on ${a.label}: arrows move it, Shift+arrows resize it, Delete clears it`}
                onKeyDown={(e) => {
                  const current = brushes.find((s) => s.key === a.key) ?? null;
                  const rest = brushes.filter((s) => s.key !== a.key);
                  let next: Brush | null;
                  if (e.key === "ArrowUp") next = nudgeBrush(current, a.key, e.shiftKey ? "grow" : "up");
                  else if (e.key === "ArrowDown") next = nudgeBrush(current, a.key, e.shiftKey ? "shrink" : "down");
                  else if (e.key === "Delete" || e.key === "Backspace" || e.key === "Escape") next = null;
                  else return;
                  e.preventDefault();
                  onBrushes(next === null ? rest : [...rest, next]);
                }}
                onPointerDown={(e) => {
                  const svg = (e.currentTarget).ownerSVGElement;
                  if (svg === null) return;
                  e.preventDefault();
                  (e.currentTarget).setPointerCapture(e.pointerId);
                  const p = posOf(e.clientY, svg);
                  setDrag({ key: a.key, from: p, to: p, moved: false });
                }}
                onPointerMove={(e) => {
                  const svg = (e.currentTarget).ownerSVGElement;
                  if (drag === null || drag.key !== a.key || svg === null) return;
                  const p = posOf(e.clientY, svg);
                  setDrag({ ...drag, to: p, moved: drag.moved || Math.abs(p - drag.from) * plotH > 3 });
                }}
                onPointerUp={() => {
                  if (drag === null || drag.key !== a.key) return;
                  const rest = brushes.filter((s) => s.key !== a.key);
                  onBrushes(drag.moved ? [...rest, makeBrush(a.key, drag.from, drag.to)] : rest);
                  setDrag(null);
                }}
                onPointerCancel={() => {
                  setDrag(null);
                }}
              />
            </g>
          );
        })}
      </svg>
      {brushes.length > 0 && (
        <div class="pc-brushes" data-testid="pc-brushes">
          <span class="muted">
            {selected.length} of {rows.length} trials inside:
          </span>
          {brushes.map((b) => {
            const axis = axisByKey.get(b.key);
            return (
              <button
                key={b.key}
                type="button"
                class="chip pc-chip"
                aria-label={`Remove the brush on ${axis?.label ?? b.key}`}
                onClick={() => {
                  onBrushes(brushes.filter((s) => s.key !== b.key));
                }}
                data-testid="pc-brush-chip"
                data-key={b.key}
              >
                {axis?.label ?? b.key}: {axis === undefined ? "" : describeBrush(axis, b)} ×
              </button>
            );
          })}
          <button
            type="button"
            class="btn btn-ghost btn-small"
            onClick={() => {
              onBrushes([]);
            }}
            data-testid="pc-clear"
          >
            Clear brushes
          </button>
        </div>
      )}
    </div>
  );
}
