// Histograms over steps as a heatmap: x = step, y = bin value, colour = the bin's share of its
// step's largest bin. Drawn on one canvas, with a hover readout of step, bin and count.

import { useEffect, useRef, useState } from "preact/hooks";
import { getHistograms } from "../api/histograms";
import type { HistogramSeries } from "../api/types";
import { toNumber } from "../lib/num";
import { formatNumber } from "../lib/format";
import "./charts.css";

export interface HistogramViewProps {
  entity: string;
  project: string;
  run: string;
  histKey: string;
  /** Only the histograms logged at or before this step (a report's chosen step). */
  maxStep?: number | null;
}

const HEIGHT = 280;
const M = { left: 58, right: 10, top: 8, bottom: 26 };

/** Colour ramp stops (0..1 -> colour): light for sparse bins, the accent blue, then dark. */
const RAMP: [number, number, number][] = [
  [226, 233, 250],
  [150, 176, 236],
  [47, 91, 211],
  [22, 42, 112],
];

/** The ramp colour at `t` (0..1). */
export function rampColor(t: number): string {
  const v = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(v));
  const f = v - i;
  const a = RAMP[i] as [number, number, number];
  const b = RAMP[i + 1] as [number, number, number];
  return `rgb(${Math.round(a[0] + (b[0] - a[0]) * f)}, ${Math.round(a[1] + (b[1] - a[1]) * f)}, ${Math.round(a[2] + (b[2] - a[2]) * f)})`;
}

/** The heatmap's numbers: per step its edges and counts as Float64Arrays, and the overall ranges. */
export interface HeatData {
  steps: Float64Array;
  edges: Float64Array[];
  counts: Float64Array[];
  yMin: number;
  yMax: number;
}

function f64(list: readonly unknown[]): Float64Array {
  const out = new Float64Array(list.length);
  for (let i = 0; i < list.length; i++) out[i] = toNumber(list[i]) ?? Number.NaN;
  return out;
}

/** The histograms of `h` logged at or before `step`. */
export function histogramsUpTo(h: HistogramSeries, step: number): HistogramSeries {
  const keep = h.steps.map((s, i) => (s <= step ? i : -1)).filter((i) => i >= 0);
  const pick = <T,>(list: readonly T[]): T[] => keep.map((i) => list[i]).filter((v): v is T => v !== undefined);
  return { ...h, steps: pick(h.steps), edges: pick(h.edges), counts: pick(h.counts), nan: pick(h.nan), pos_inf: pick(h.pos_inf), neg_inf: pick(h.neg_inf) };
}

/** Convert the server's answer once. */
export function toHeatData(h: HistogramSeries): HeatData {
  const steps = f64(h.steps);
  const edges = h.edges.map((e) => f64(e));
  const counts = h.counts.map((c) => f64(c));
  let yMin = Number.POSITIVE_INFINITY;
  let yMax = Number.NEGATIVE_INFINITY;
  for (const e of edges) {
    for (const v of e) {
      if (Number.isFinite(v)) {
        if (v < yMin) yMin = v;
        if (v > yMax) yMax = v;
      }
    }
  }
  if (!(yMin < yMax)) {
    yMin = Number.isFinite(yMin) ? yMin - 0.5 : 0;
    yMax = yMin + 1;
  }
  return { steps, edges, counts, yMin, yMax };
}

function ticks(lo: number, hi: number, n: number): number[] {
  const span = hi - lo;
  if (!(span > 0)) return [lo];
  const raw = span / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** Index of the last element of ascending `a` that is <= v (-1 when none is). */
function floorIndex(a: Float64Array, v: number): number {
  let lo = 0;
  let hi = a.length - 1;
  let ans = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if ((a[mid] as number) <= v) {
      ans = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return ans;
}

interface Geometry {
  width: number;
  x: (step: number) => number;
  y: (v: number) => number;
  xInv: (px: number) => number;
  yInv: (py: number) => number;
  colW: number;
}

function geometry(d: HeatData, width: number): Geometry {
  const n = d.steps.length;
  const s0 = d.steps[0] ?? 0;
  const s1 = d.steps[n - 1] ?? 1;
  const colSpan = n > 1 ? (s1 - s0) / (n - 1) : 1;
  const xLo = s0;
  const xHi = s1 + colSpan;
  const pw = width - M.left - M.right;
  const ph = HEIGHT - M.top - M.bottom;
  return {
    width,
    x: (s) => M.left + ((s - xLo) / (xHi - xLo)) * pw,
    y: (v) => M.top + (1 - (v - d.yMin) / (d.yMax - d.yMin)) * ph,
    xInv: (px) => xLo + ((px - M.left) / pw) * (xHi - xLo),
    yInv: (py) => d.yMin + (1 - (py - M.top) / ph) * (d.yMax - d.yMin),
    colW: (colSpan / (xHi - xLo)) * pw,
  };
}

function draw(canvas: HTMLCanvasElement, d: HeatData, width: number): void {
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(HEIGHT * dpr);
  canvas.style.height = `${HEIGHT}px`;
  const ctx = canvas.getContext("2d");
  if (ctx === null) return;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, width, HEIGHT);
  const g = geometry(d, width);
  const n = d.steps.length;
  for (let i = 0; i < n; i++) {
    const e = d.edges[i];
    const c = d.counts[i];
    if (e === undefined || c === undefined) continue;
    let max = 0;
    for (const v of c) if (v > max) max = v;
    const x0 = g.x(d.steps[i] as number);
    const next = d.steps[i + 1];
    const x1 = next !== undefined ? g.x(next) : x0 + g.colW;
    const w = Math.max(1, x1 - x0);
    for (let j = 0; j < c.length; j++) {
      const count = c[j] as number;
      if (!(count > 0)) continue;
      const ya = g.y(e[j] as number);
      const yb = g.y(e[j + 1] as number);
      ctx.fillStyle = rampColor(max > 0 ? count / max : 0);
      ctx.fillRect(x0, Math.min(ya, yb), w, Math.max(1, Math.abs(yb - ya)));
    }
  }
  // axes
  ctx.strokeStyle = "#c9ced4";
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(M.left - 0.5, M.top);
  ctx.lineTo(M.left - 0.5, HEIGHT - M.bottom + 0.5);
  ctx.lineTo(width - M.right, HEIGHT - M.bottom + 0.5);
  ctx.stroke();
  ctx.fillStyle = "#5f6670";
  ctx.font = "11px system-ui, -apple-system, Segoe UI, sans-serif";
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const v of ticks(d.yMin, d.yMax, 5)) ctx.fillText(formatNumber(v), M.left - 6, g.y(v));
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  const s0 = d.steps[0] ?? 0;
  const s1 = d.steps[n - 1] ?? 0;
  for (const v of ticks(s0, s1, Math.max(2, Math.floor((width - M.left) / 90)))) {
    ctx.fillText(formatNumber(v), g.x(v) + g.colW / 2, HEIGHT - M.bottom + 6);
  }
}

/** A heatmap of the histograms logged under `histKey` (see the module comment). */
export function HistogramView(props: HistogramViewProps) {
  const { entity, project, run, histKey } = props;
  const maxStep = props.maxStep ?? null;
  const [data, setData] = useState<HeatData | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [width, setWidth] = useState(0);
  const [readout, setReadout] = useState("");
  const boxRef = useRef<HTMLDivElement>(null);
  const canvasRef = useRef<HTMLCanvasElement>(null);

  useEffect(() => {
    const ctrl = new AbortController();
    setData(null);
    setError(null);
    getHistograms(entity, project, run, histKey, ctrl.signal)
      .then((h) => {
        setData(toHeatData(maxStep === null ? h : histogramsUpTo(h, maxStep)));
      })
      .catch((err: unknown) => {
        if (!ctrl.signal.aborted) setError(err instanceof Error ? err.message : String(err));
      });
    return () => {
      ctrl.abort();
    };
  }, [entity, project, run, histKey, maxStep]);

  useEffect(() => {
    const el = boxRef.current;
    if (el === null) return;
    setWidth(el.clientWidth);
    if (typeof ResizeObserver === "undefined") return;
    const ro = new ResizeObserver(() => {
      setWidth(el.clientWidth);
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
    };
  }, []);

  useEffect(() => {
    const c = canvasRef.current;
    if (c === null || data === null || width <= 0 || data.steps.length === 0) return;
    draw(c, data, width);
  }, [data, width]);

  const onMove = (e: MouseEvent): void => {
    const c = canvasRef.current;
    if (c === null || data === null || width <= 0) return;
    const rect = c.getBoundingClientRect();
    const g = geometry(data, width);
    const step = g.xInv(e.clientX - rect.left);
    const value = g.yInv(e.clientY - rect.top);
    const i = floorIndex(data.steps, step);
    const edges = data.edges[i];
    const counts = data.counts[i];
    if (i < 0 || edges === undefined || counts === undefined) {
      setReadout("");
      return;
    }
    const j = floorIndex(edges, value);
    if (j < 0 || j >= counts.length) {
      setReadout(`step ${formatNumber(data.steps[i] as number)}`);
      return;
    }
    setReadout(
      `step ${formatNumber(data.steps[i] as number)} · bin [${formatNumber(edges[j] as number)}, ${formatNumber(edges[j + 1] as number)}) · count ${formatNumber(counts[j] as number)}`,
    );
  };

  const state = error !== null ? "error" : data === null ? "loading" : data.steps.length === 0 ? "empty" : "ready";
  return (
    <div class="hist-view" data-testid="histogram-view" data-key={histKey} data-state={state} data-steps={data?.steps.length ?? 0}>
      <div ref={boxRef}>
        {state === "ready" && (
          <canvas
            ref={canvasRef}
            class="hist-canvas"
            role="img"
            aria-label={`Histograms of ${histKey} over ${data?.steps.length ?? 0} steps`}
            onMouseMove={onMove}
            onMouseLeave={() => {
              setReadout("");
            }}
          />
        )}
        {state === "loading" && <div class="chart-overlay-static">Loading histograms…</div>}
        {state === "empty" && <div class="chart-overlay-static">No histograms logged under {histKey}.</div>}
        {state === "error" && (
          <div class="chart-overlay-static chart-overlay-error" role="alert">
            Could not load histograms: {error}
          </div>
        )}
      </div>
      <div class="hist-foot">
        <div class="hist-readout" aria-live="polite">
          {readout}
        </div>
        <div class="hist-legend">
          fewer
          <span class="hist-ramp" style={{ background: `linear-gradient(to right, ${[0, 0.25, 0.5, 0.75, 1].map(rampColor).join(", ")})` }} />
          more (per step)
        </div>
      </div>
    </div>
  );
}
