// A small uPlot chart of a sweep: points (the trials' values) and optionally a line (the
// running best), on a numeric x (trial number, or a parameter; categories at their index).
// Created once per structure, then fed with setData.

import { useEffect, useLayoutEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import { formatNumber } from "../../lib/format";
import { formatTick } from "./parallel";

const HEIGHT = 200;
const AXIS_FONT = "11px system-ui, -apple-system, Segoe UI, sans-serif";
const AXIS_STROKE = "#5f6670";
const GRID = { stroke: "#eceef1", width: 1 };
const TICKS = { stroke: "#e1e4e8", width: 1, size: 4 };

export interface ChartSeries {
  label: string;
  /** Same length as x; NaN: no point. */
  y: readonly number[];
  color: string;
  /** Points only (a scatter) or a stepped line. */
  kind: "points" | "step";
}

/** The uPlot data (x ascending as given, NaN gaps as null). Pure. */
export function chartData(x: readonly number[], series: readonly ChartSeries[]): uPlot.AlignedData {
  return [Float64Array.from(x), ...series.map((s) => s.y.map((v) => (Number.isFinite(v) ? v : null)))] as uPlot.AlignedData;
}

export function SweepChart({ testid, title, xLabel, x, series, xCategories, attrs }: {
  testid: string;
  title: string;
  xLabel: string;
  x: readonly number[];
  series: readonly ChartSeries[];
  /** Labels of a categorical x (x holds their indices). */
  xCategories?: readonly string[] | null;
  /** Data attributes of the panel (the values drawn, for tests and readers). */
  attrs: Record<string, string | number>;
}) {
  const plotRef = useRef<HTMLDivElement>(null);
  const uRef = useRef<uPlot | null>(null);
  const structRef = useRef("");
  const data = chartData(x, series);
  const points = series.reduce((n, s) => n + (s.kind === "points" ? s.y.filter((v) => Number.isFinite(v)).length : 0), 0);
  const struct = JSON.stringify([series.map((s) => [s.label, s.color, s.kind]), xCategories ?? null]);
  const catsRef = useRef(xCategories ?? null);
  catsRef.current = xCategories ?? null;

  useLayoutEffect(() => {
    const el = plotRef.current;
    if (el === null) return;
    if (uRef.current !== null && structRef.current === struct) {
      uRef.current.setData(data, true);
      return;
    }
    uRef.current?.destroy();
    const cats = xCategories ?? null;
    const opts: uPlot.Options = {
      width: Math.max(100, el.clientWidth),
      height: HEIGHT,
      legend: { show: false },
      padding: [10, 14, 0, 2],
      scales: {
        x: {
          time: false,
          range: (_u, min, max) => {
            if (cats !== null) return [-0.5, Math.max(0.5, cats.length - 0.5)];
            return min === max ? [min - 1, max + 1] : uPlot.rangeNum(min, max, 0.05, false);
          },
        },
        y: { range: (_u, min, max) => (min === max ? [min - 1, max + 1] : uPlot.rangeNum(min, max, 0.1, true)) },
      },
      series: [
        { scale: "x", label: xLabel },
        ...series.map(
          (s): uPlot.Series =>
            s.kind === "points"
              ? { scale: "y", label: s.label, stroke: s.color, fill: s.color, paths: () => null, points: { show: true, size: 7, stroke: s.color, fill: s.color } }
              : { scale: "y", label: s.label, stroke: s.color, width: 1.5, paths: uPlot.paths.stepped?.({ align: 1 }), points: { show: false }, spanGaps: true },
        ),
      ],
      axes: [
        {
          scale: "x",
          font: AXIS_FONT,
          stroke: AXIS_STROKE,
          grid: GRID,
          ticks: TICKS,
          size: 36,
          ...(cats !== null ? { splits: () => cats.map((_c, i) => i) } : {}),
          values: (_u, splits) => splits.map((v) => (catsRef.current !== null ? (catsRef.current[v] ?? "") : Number.isFinite(v) ? formatTick(v) : "")),
        },
        { scale: "y", font: AXIS_FONT, stroke: AXIS_STROKE, grid: GRID, ticks: TICKS, size: 54, values: (_u, splits) => splits.map((v) => (Number.isFinite(v) ? formatNumber(v) : "")) },
      ],
      cursor: { drag: { x: false, y: false }, points: { size: 8 } },
    };
    uRef.current = new uPlot(opts, data, el);
    structRef.current = struct;
  });

  useEffect(() => {
    const el = plotRef.current;
    if (el === null || typeof ResizeObserver === "undefined") return;
    const ro = new ResizeObserver(() => {
      if (el.clientWidth > 0) uRef.current?.setSize({ width: el.clientWidth, height: HEIGHT });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
    };
  }, []);

  useEffect(
    () => () => {
      uRef.current?.destroy();
      uRef.current = null;
    },
    [],
  );

  const dataAttrs: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(attrs)) dataAttrs[`data-${k}`] = v;
  return (
    <div class="chart-panel sweep-chart" data-testid={testid} data-points={points} data-state={points === 0 ? "empty" : "ready"} role="group" aria-label={title} {...dataAttrs}>
      <div class="chart-head">
        <h4 class="chart-title" title={title}>
          {title}
        </h4>
      </div>
      <div class="chart-body">
        <div ref={plotRef} class="chart-plot" />
        {points === 0 && <div class="chart-overlay">No values yet</div>}
      </div>
    </div>
  );
}
