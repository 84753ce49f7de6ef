// A plain uPlot line chart of one key for several runs on a shared numeric x (system metrics
// over runtime): created once per run set, then fed with setData; cursor shared through uPlot.sync.

import { useLayoutEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import { usePlotFrame } from "./plotFrame";
import { formatNumber } from "../lib/format";
import { alignRuns, sortByX } from "./align";
import type { ChartRun } from "./build";
import { formatSeconds, tipRow } from "./Chart";
import { finiteRange, linePaths, nearestFinite } from "./paths";
import "./charts.css";

const HEIGHT = 200;
const AXIS_FONT = "11px system-ui, -apple-system, Segoe UI, sans-serif";
const AXIS_STROKE = "#5f6670";
const GRID = { stroke: "#eceef1", width: 1 };
const TICKS = { stroke: "#e1e4e8", width: 1, size: 4 };

export interface LineSeries {
  /** x (seconds) and y, same length; NaN y = no sample. */
  x: Float64Array;
  y: Float64Array;
}

/** The aligned uPlot data of the runs' series and how many finite points it draws. Pure. */
export function alignLines(series: readonly (LineSeries | null)[]): { data: uPlot.AlignedData; points: number; cols: Float64Array[] } {
  const empty = new Float64Array(0);
  const runs = series.map((s) => sortByX({ x: s?.x ?? empty, cols: [s?.y ?? empty] }));
  let points = 0;
  for (const r of runs) for (const v of r.cols[0] ?? empty) if (Number.isFinite(v)) points++;
  const aligned = alignRuns(runs);
  const cols = aligned.cols.map((c) => c[0] as Float64Array);
  return { data: [aligned.x, ...cols] as uPlot.AlignedData, points, cols };
}

/** The hover readout: runtime, then each run's value at the cursor (the nearest sample). */
function showTip(tip: HTMLElement, u: uPlot, runs: readonly ChartRun[], hover: boolean): void {
  const idx = u.cursor.idx;
  const x = idx === null || idx === undefined ? undefined : (u.data[0] as unknown as Float64Array)[idx];
  if (!hover || x === undefined) {
    tip.style.display = "none";
    return;
  }
  const head = document.createElement("div");
  head.className = "chart-tip-x";
  head.textContent = `runtime ${formatSeconds(x)}`;
  const rows: HTMLElement[] = [head];
  runs.forEach((run, r) => {
    const di = u.cursor.idxs?.[r + 1];
    const v = di === null || di === undefined ? undefined : (u.data[r + 1] as unknown as Float64Array)[di];
    if (v === undefined || Number.isNaN(v)) return;
    rows.push(tipRow(run, v));
  });
  if (rows.length === 1) {
    tip.style.display = "none";
    return;
  }
  tip.replaceChildren(...rows);
  tip.style.display = "block";
  const left = u.cursor.left ?? 0;
  const offX = u.bbox.left / uPlot.pxRatio;
  const plotW = u.bbox.width / uPlot.pxRatio;
  const tw = tip.offsetWidth;
  tip.style.left = `${left + offX + 14 + tw > plotW + offX ? left + offX - tw - 14 : left + offX + 14}px`;
  tip.style.top = `${Math.max(0, (u.cursor.top ?? 0) - 10)}px`;
}

export function LineChart({ title, runs, series, syncKey, testid = "system-chart" }: {
  title: string;
  runs: readonly ChartRun[];
  series: readonly (LineSeries | null)[];
  syncKey: string;
  testid?: string;
}) {
  const plotRef = useRef<HTMLDivElement>(null);
  const uRef = useRef<uPlot | null>(null);
  const structRef = useRef("");
  const colsRef = useRef<Float64Array[]>([]);
  const tipRef = useRef<HTMLDivElement>(null);
  const hoverRef = useRef(false);
  const runsRef = useRef(runs);
  runsRef.current = runs;
  const built = alignLines(series);
  colsRef.current = built.cols;
  const struct = runs.map((r) => `${r.id}:${r.color}`).join(",");

  useLayoutEffect(() => {
    const el = plotRef.current;
    if (el === null) return;
    if (built.points === 0 && uRef.current === null) return;
    if (uRef.current !== null && structRef.current === struct) {
      uRef.current.setData(built.data, true);
      return;
    }
    uRef.current?.destroy();
    const yRange: uPlot.Range.Function = (u) => {
      const idxs = u.series[0]?.idxs;
      const n = (u.data[0] as unknown as Float64Array).length;
      const r = finiteRange(colsRef.current, idxs?.[0] ?? 0, idxs?.[1] ?? n - 1, false);
      return r === null ? [0, 1] : uPlot.rangeNum(r[0], r[1], 0.1, true);
    };
    const opts: uPlot.Options = {
      width: Math.max(100, el.clientWidth),
      height: HEIGHT,
      legend: { show: false },
      padding: [10, 14, 0, 2],
      scales: { x: { time: false }, y: { range: yRange } },
      series: [
        { scale: "x" },
        ...runs.map((r): uPlot.Series => ({ scale: "y", label: r.name, stroke: r.color, width: 1.5, paths: linePaths(false), points: { show: false } })),
      ],
      axes: [
        { scale: "x", font: AXIS_FONT, stroke: AXIS_STROKE, grid: GRID, ticks: TICKS, size: 36, values: (_u, splits) => splits.map((v) => (Number.isFinite(v) ? formatSeconds(v) : "")) },
        { scale: "y", font: AXIS_FONT, stroke: AXIS_STROKE, grid: GRID, ticks: TICKS, size: 54, values: (_u, splits) => splits.map((v) => (Number.isFinite(v) ? formatNumber(v) : "")) },
      ],
      cursor: {
        sync: { key: syncKey },
        drag: { x: false, y: false },
        y: false,
        points: { size: 6 },
        dataIdx: (u, si, idx) => nearestFinite(u.data[si] as unknown as Float64Array, idx),
      },
      hooks: {
        setCursor: [
          (u) => {
            const tip = tipRef.current;
            if (tip !== null) showTip(tip, u, runsRef.current, hoverRef.current);
          },
        ],
      },
    };
    const u = new uPlot(opts, built.data, el);
    u.over.addEventListener("mouseenter", () => {
      hoverRef.current = true;
    });
    u.over.addEventListener("mouseleave", () => {
      hoverRef.current = false;
      if (tipRef.current !== null) tipRef.current.style.display = "none";
    });
    uRef.current = u;
    structRef.current = struct;
  });

  usePlotFrame(plotRef, uRef, HEIGHT);

  return (
    <div class="chart-panel line-chart" data-testid={testid} data-key={title} data-points={built.points} data-state={built.points === 0 ? "empty" : "ready"} role="group" aria-label={`Chart ${title}`}>
      <div class="chart-head">
        <h4 class="chart-title" title={title}>
          {title}
        </h4>
      </div>
      <div class="chart-body">
        <div ref={plotRef} class="chart-plot" />
        <div ref={tipRef} class="chart-tip" role="status" aria-live="off" />
        {built.points === 0 && <div class="chart-overlay">No samples</div>}
      </div>
    </div>
  );
}
