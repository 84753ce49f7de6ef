// A small uPlot chart of a sweep: points (the trials' values) and optionally a line (the
// running best), on a numeric x (trial number, or a parameter; categories at their index).
// Created once per structure, then fed with setData.

import { useLayoutEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import { usePlotFrame } from "../../charts/plotFrame";
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

/** The powers of ten from `min` to `max` (the ticks of a log axis); the ends when there is none. */
export function decades(min: number, max: number): number[] {
  const out: number[] = [];
  if (!(min > 0) || !(max > 0)) return out;
  for (let e = Math.ceil(Math.log10(min) - 1e-9); e <= Math.floor(Math.log10(max) + 1e-9); e++) out.push(Number(`1e${e}`));
  return out.length > 0 ? out : [min, max];
}

export function SweepChart({ testid, title, xLabel, x, series, xCategories, xScale = "linear", attrs }: {
  testid: string;
  title: string;
  xLabel: string;
  x: readonly number[];
  series: readonly ChartSeries[];
  /** Labels of a categorical x (x holds their indices). */
  xCategories?: readonly string[] | null;
  /** `integer`: whole numbers only (trial numbers); `log`: a log scale (positive x). */
  xScale?: "linear" | "log" | "integer";
  /** Data attributes of the panel (the values drawn, for tests and readers). */
  attrs: Record<string, string | number>;
}) {
  const plotRef = useRef<HTMLDivElement>(null);
  const uRef = useRef<uPlot | null>(null);
  const structRef = useRef("");
  const data = chartData(x, series);
  const points = series.reduce((n, s) => n + (s.kind === "points" ? s.y.filter((v) => Number.isFinite(v)).length : 0), 0);
  const struct = JSON.stringify([series.map((s) => [s.label, s.color, s.kind]), xCategories ?? null, xScale]);
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
    const logX: uPlot.Scale = {
      time: false,
      // uPlot's Distr is an ambient const enum, which isolatedModules cannot reference: 3 = log.
      // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment
      distr: 3,
      log: 10,
      range: (_u, min, max) => (min === max ? [min / 2, max * 2] : [min / 1.3, max * 1.3]),
    };
    const linX: uPlot.Scale = {
      time: false,
      range: (_u, min, max) => {
        if (cats !== null) return [-0.5, Math.max(0.5, cats.length - 0.5)];
        if (xScale === "integer") return [Math.min(0, min) - 0.5, Math.max(max, 1) + 0.5];
        return min === max ? [min - 1, max + 1] : uPlot.rangeNum(min, max, 0.05, false);
      },
    };
    const xOpts = xScale === "log" && cats === null ? logX : linX;
    const opts: uPlot.Options = {
      width: Math.max(100, el.clientWidth),
      height: HEIGHT,
      legend: { show: false },
      padding: [10, 14, 0, 2],
      scales: {
        x: xOpts,
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
          ...(xScale === "log" && cats === null ? { splits: (_u: uPlot, _i: number, min: number, max: number) => decades(min, max) } : {}),
          ...(xScale === "integer" ? { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000] } : {}),
          values: (_u, splits) => splits.map((v) => (catsRef.current !== null ? (catsRef.current[v] ?? "") : Number.isFinite(v) ? formatTick(v) : "")),
        },
        { scale: "y", font: AXIS_FONT, stroke: AXIS_STROKE, grid: GRID, ticks: TICKS, size: 54, values: (_u, splits) => splits.map((v) => (Number.isFinite(v) ? formatNumber(v) : "")) },
      ],
      cursor: { drag: { x: false, y: false }, points: { size: 8 } },
    };
    uRef.current = new uPlot(opts, data, el);
    structRef.current = struct;
  });

  usePlotFrame(plotRef, uRef, HEIGHT);

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
