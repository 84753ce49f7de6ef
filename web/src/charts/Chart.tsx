// One chart panel: a uPlot line chart of one metric for all given runs, created once and fed
// with setData. Lazy (fetches only while in view), zoom by drag-select refetches the range at
// full resolution, double-click resets; shared cursor through uPlot.sync.

import type { ComponentChildren, HTMLAttributes } from "preact";
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import type { HistoryResult } from "../api/history";
import { formatNumber } from "../lib/format";
import { axisLabel, isMetricAxis, needsTimestamps, stepRangeForX, X_RELATIVE, X_WALL, type XAxis } from "./align";
import { buildChartData, type Built, type ChartRun } from "./build";
import { SmoothingInput, XAxisOptions } from "./controls";
import { buildGroupedChartData, groupingSig, groupLabel, type ChartGrouping } from "./groupChart";
import { clampSmoothing, type ChartOptions, type PanelSpec } from "./layout";
import { bandPaths, finiteRange, linePaths, nearestFinite } from "./paths";
import type { DataState, HistoryStore } from "./store";

export type { ChartRun } from "./build";

const PLOT_HEIGHT = 200;
/** Panels this close to the viewport (CSS px) count as in view. */
const VIEW_MARGIN = 100;
/** Width of the y axis and padding: the plot area is the panel's width minus this. */
const Y_AXIS_WIDTH = 56;

/** `#rrggbb` at opacity `a` (other colour strings are returned unchanged). */
export function withAlpha(color: string, a: number): string {
  const m = /^#([0-9a-f]{6})$/i.exec(color);
  if (m === null) return color;
  const n = parseInt(m[1] as string, 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${a})`;
}

/** `1h 02m`, `3m 20s`, `45s`: relative time on an axis or in the tooltip. */
export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return String(s);
  const sign = s < 0 ? "-" : "";
  let v = Math.abs(s);
  if (v < 60) return `${sign}${Number(v.toPrecision(3))}s`;
  v = Math.round(v);
  const h = Math.floor(v / 3600);
  const m = Math.floor((v % 3600) / 60);
  const sec = v % 60;
  if (h > 0) return `${sign}${h}h ${String(m).padStart(2, "0")}m`;
  return `${sign}${m}m ${String(sec).padStart(2, "0")}s`;
}

function formatX(x: XAxis, v: number): string {
  if (x === X_WALL) return new Date(v * 1000).toLocaleString();
  if (x === X_RELATIVE) return formatSeconds(v);
  return formatNumber(v);
}

/** An axis label; uPlot leaves out some splits (null) on log axes. */
function tick(v: number | null | undefined, fmt: (v: number) => string): string {
  return v === null || v === undefined || !Number.isFinite(v) ? "" : fmt(v);
}

/** The uPlot scale key of an x axis: charts with the same x share the cursor. */
function xScaleKey(x: XAxis): string {
  return isMetricAxis(x) ? `m:${x}` : x;
}

const AXIS_FONT = "11px system-ui, -apple-system, Segoe UI, sans-serif";
const AXIS_STROKE = "#5f6670";
const GRID = { stroke: "#eceef1", width: 1 };
const TICKS = { stroke: "#e1e4e8", width: 1, size: 4 };

interface Zoom {
  x0: number;
  x1: number;
  data: HistoryResult | null;
}

export interface ChartProps {
  store: HistoryStore;
  panel: PanelSpec;
  options: ChartOptions;
  runs: readonly ChartRun[];
  /** Metric keys offered as custom x axes. */
  metricKeys: readonly string[];
  syncKey: string;
  onOptions: (o: Partial<ChartOptions>) => void;
  onRemove: () => void;
  onMove: (by: -1 | 1) => void;
  canMoveUp: boolean;
  canMoveDown: boolean;
  /** `false`: no options menu, move or remove buttons (a chart placed elsewhere, e.g. a report). */
  controls?: boolean;
  /** Drop-target handlers for the panel (rearranging by drag). */
  dropProps?: HTMLAttributes<HTMLDivElement>;
  /** Drag-source handlers for the panel's header. */
  onDragStart?: (e: DragEvent) => void;
  onDragEnd?: (e: DragEvent) => void;
  /** Draw the runs in groups (aggregate line + band per group; see groupChart.ts). */
  grouping?: ChartGrouping | undefined;
  /** More controls in the panel's header (the workspace's "Add to report"). */
  actions?: ComponentChildren;
}

/** The uPlot options of a chart; `ctx` gives the live state the callbacks read. */
function makeOptions(
  built: Built,
  runs: readonly ChartRun[],
  opts: ChartOptions,
  width: number,
  syncKey: string,
  ctx: {
    built: () => Built | null;
    onSelect: (x0: number, x1: number) => void;
    onCursor: (u: uPlot) => void;
  },
): uPlot.Options {
  const xKey = xScaleKey(opts.x);
  const series: uPlot.Series[] = [{ scale: xKey }];
  const mains = new Set<number>();
  built.slots.forEach((slot, r) => {
    const color = runs[r]?.color ?? "#1f77b4";
    if (slot.band !== null) {
      series.push({
        scale: "y",
        auto: false,
        paths: bandPaths(() => ctx.built()?.upper[r] ?? null, opts.log),
        fill: withAlpha(color, 0.14),
        stroke: "transparent",
        width: 0,
        points: { show: false },
      });
    }
    if (slot.raw !== null) {
      series.push({ scale: "y", auto: false, paths: linePaths(opts.log), stroke: withAlpha(color, 0.28), width: 1, points: { show: false } });
    }
    mains.add(slot.main);
    series.push({ scale: "y", auto: false, paths: linePaths(opts.log), stroke: color, width: 1.5, points: { show: false } });
  });
  const yRange: uPlot.Range.Function = (u) => {
    const b = ctx.built();
    const idxs = u.series[0]?.idxs;
    const r =
      b === null
        ? null
        : finiteRange(b.yCols, idxs?.[0] ?? 0, idxs?.[1] ?? b.x.length - 1, opts.log);
    if (r === null) return opts.log ? [1, 10] : [0, 1];
    if (opts.log) return uPlot.rangeLog(r[0], r[1], 10, false);
    return uPlot.rangeNum(r[0], r[1], 0.1, true);
  };
  const xAxis: uPlot.Axis = {
    scale: xKey,
    font: AXIS_FONT,
    stroke: AXIS_STROKE,
    grid: GRID,
    ticks: TICKS,
    size: 36,
  };
  if (opts.x === X_RELATIVE) xAxis.values = (_u, splits) => splits.map((v) => tick(v, formatSeconds));
  else if (opts.x !== X_WALL) xAxis.values = (_u, splits) => splits.map((v) => tick(v, formatNumber));
  return {
    width,
    height: PLOT_HEIGHT,
    legend: { show: false },
    padding: [10, 14, 0, 2],
    scales: {
      [xKey]: { time: opts.x === X_WALL },
      // uPlot's Distr is an ambient const enum, which isolatedModules cannot reference: 3 = log.
      // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment
      y: opts.log ? { distr: 3, log: 10, range: yRange } : { range: yRange },
    },
    series,
    axes: [
      xAxis,
      {
        scale: "y",
        font: AXIS_FONT,
        stroke: AXIS_STROKE,
        grid: GRID,
        ticks: TICKS,
        size: 54,
        values: (_u, splits) => splits.map((v) => tick(v, formatNumber)),
      },
    ],
    cursor: {
      // Share the cursor only: a drag-select (zoom) or double-click stays on its own chart.
      sync: { key: syncKey, scales: [xKey, null], filters: { pub: (type) => type === "mousemove" || type === "mouseleave" } },
      drag: { x: true, y: false, setScale: false },
      bind: { dblclick: () => null },
      points: { size: 7, width: 1.5 },
      y: false,
      dataIdx: (u, si, idx) => {
        if (!mains.has(si)) return null;
        return nearestFinite(u.data[si] as unknown as Float64Array, idx);
      },
    },
    hooks: {
      setSelect: [
        (u) => {
          const w = u.select.width;
          if (w < 3) return;
          const x0 = u.posToVal(u.select.left, xKey);
          const x1 = u.posToVal(u.select.left + w, xKey);
          u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
          ctx.onSelect(x0, x1);
        },
      ],
      setCursor: [(u) => { ctx.onCursor(u); }],
    },
  };
}

function structureOf(built: Built, runs: readonly ChartRun[], o: ChartOptions): string {
  return [runs.map((r) => `${r.id}:${r.color}`).join(","), o.x, o.log, built.hasBand, built.smoothed].join("|");
}

/** One tooltip row: the run's colour swatch, its name and the value. */
export function tipRow(run: Pick<ChartRun, "color" | "name">, value: number): HTMLElement {
  const row = document.createElement("div");
  row.className = "chart-tip-row";
  const sw = document.createElement("span");
  sw.className = "chart-tip-swatch";
  sw.style.background = run.color;
  const name = document.createElement("span");
  name.className = "chart-tip-name";
  name.textContent = run.name;
  const val = document.createElement("span");
  val.className = "chart-tip-value";
  val.textContent = formatNumber(value);
  row.append(sw, name, val);
  return row;
}

function renderTip(tip: HTMLElement, u: uPlot, built: Built, runs: readonly ChartRun[], x: XAxis): boolean {
  const idx = u.cursor.idx;
  if (idx === null || idx === undefined) return false;
  const xv = built.x[idx];
  if (xv === undefined) return false;
  const rows: HTMLElement[] = [];
  const head = document.createElement("div");
  head.className = "chart-tip-x";
  head.textContent = `${axisLabel(x)} ${formatX(x, xv)}`;
  rows.push(head);
  built.slots.forEach((slot, r) => {
    const run = runs[r];
    if (run === undefined) return;
    const di = u.cursor.idxs?.[slot.main];
    const ys = u.data[slot.main] as unknown as Float64Array;
    if (di === null || di === undefined) return;
    const v = ys[di];
    if (v === undefined || Number.isNaN(v)) return;
    const row = tipRow(run, v);
    if (slot.raw !== null) {
      const raw = (u.data[slot.raw] as unknown as Float64Array)[di];
      if (raw !== undefined && !Number.isNaN(raw)) {
        const rv = document.createElement("span");
        rv.className = "chart-tip-raw";
        rv.textContent = `(${formatNumber(raw)})`;
        row.append(rv);
      }
    }
    rows.push(row);
  });
  if (rows.length === 1) return false;
  tip.replaceChildren(...rows);
  return true;
}

/** One chart panel (see the module comment). */
export function Chart(props: ChartProps) {
  const { store, panel, options, runs, syncKey } = props;
  const metricX = isMetricAxis(options.x) ? options.x : null;
  const keysSig = metricX !== null && metricX !== panel.key ? `${panel.key}\n${metricX}` : panel.key;
  const keys = useMemo(() => keysSig.split("\n"), [keysSig]);
  const runsSig = runs.map((r) => `${r.id}:${r.color}:${r.name}:${r.start ?? ""}`).join(",");

  const rootRef = useRef<HTMLDivElement>(null);
  const plotRef = useRef<HTMLDivElement>(null);
  const tipRef = useRef<HTMLDivElement>(null);
  const uRef = useRef<uPlot | null>(null);
  const structRef = useRef("");
  const builtRef = useRef<Built | null>(null);
  const zoomRef = useRef<Zoom | null>(null);
  const zoomSeq = useRef(0);
  const zoomAbort = useRef<AbortController | null>(null);
  const hoverRef = useRef(false);
  const propsRef = useRef(props);
  propsRef.current = props;
  /** What each slot draws: the runs, or the groups (and expanded groups' runs). */
  const shownRef = useRef<readonly ChartRun[]>(runs);
  const groupSig = groupingSig(props.grouping);

  const [version, setVersion] = useState(0);
  const [visible, setVisible] = useState(false);
  const [points, setPoints] = useState(0);
  const [zoomState, setZoomState] = useState<"none" | "loading" | "ready" | "error">("none");
  const [menuOpen, setMenuOpen] = useState(false);

  // Only panels in (or near) the viewport ask for data. The first check is synchronous (and
  // strict: panels on screen only) so the first batch is requested in the same task as the
  // grid's first render and holds just what is seen; the observer adds the panels near it.
  useLayoutEffect(() => {
    const el = rootRef.current;
    if (el === null) return;
    if (typeof IntersectionObserver === "undefined") {
      setVisible(true);
      return;
    }
    const r = el.getBoundingClientRect();
    if (r.bottom > 0 && r.top < window.innerHeight && r.width > 0) {
      const w = plotRef.current?.clientWidth ?? 0;
      if (w > 0) store.setSamples(w - Y_AXIS_WIDTH);
      setVisible(true);
    }
    const io = new IntersectionObserver(
      (entries) => {
        const last = entries[entries.length - 1];
        if (last !== undefined) setVisible(last.isIntersecting);
      },
      { rootMargin: `${VIEW_MARGIN}px 0px` },
    );
    io.observe(el);
    return () => {
      io.disconnect();
    };
  }, [store]);

  const timed = needsTimestamps(options.x);
  useEffect(() => {
    store.setPanelKeys(panel.id, visible ? keys : null, timed);
  }, [store, panel.id, visible, keys, timed]);
  useEffect(() => () => { store.setPanelKeys(panel.id, null); }, [store, panel.id]);

  useEffect(() => {
    const bump = (): void => { setVersion((v) => v + 1); };
    const offs = keys.map((k) => store.subscribe(k, bump));
    bump();
    return () => {
      for (const off of offs) off();
    };
  }, [store, keys]);

  const resetZoom = useCallback((): void => {
    zoomAbort.current?.abort();
    zoomSeq.current++;
    zoomRef.current = null;
    setZoomState("none");
    setVersion((v) => v + 1);
  }, []);

  const zoomTo = useCallback(
    (x0: number, x1: number): void => {
      const u = uRef.current;
      const built = builtRef.current;
      if (u === null || built === null || !(x1 > x0)) return;
      const xKey = xScaleKey(propsRef.current.options.x);
      zoomRef.current = { x0, x1, data: zoomRef.current?.data ?? null };
      u.setScale(xKey, { min: x0, max: x1 });
      const range = stepRangeForX(built.runs, x0, x1);
      if (range === null) return;
      zoomAbort.current?.abort();
      const ctrl = new AbortController();
      zoomAbort.current = ctrl;
      const seq = ++zoomSeq.current;
      setZoomState("loading");
      const width = Math.max(200, Math.round(u.bbox.width / uPlot.pxRatio));
      store
        .fetchRange(keys, width, range, ctrl.signal, needsTimestamps(propsRef.current.options.x))
        .then((res) => {
          if (seq !== zoomSeq.current) return;
          zoomRef.current = { x0, x1, data: res };
          setZoomState("ready");
          setVersion((v) => v + 1);
        })
        .catch(() => {
          if (seq !== zoomSeq.current) return;
          setZoomState("error");
        });
    },
    [store, keys],
  );

  const zoomToRef = useRef(zoomTo);
  zoomToRef.current = zoomTo;

  // Options that change what is drawn end any zoom.
  useEffect(() => {
    if (zoomRef.current !== null) resetZoom();
  }, [options.x, runsSig, resetZoom]);

  // Build the data and hand it to uPlot (created once per structure, then setData).
  useLayoutEffect(() => {
    const zoom = zoomRef.current;
    const src = zoom?.data ?? null;
    const key = panel.key;
    const seriesOf = (run: string) => (src !== null ? src.runs.get(run)?.get(key) : store.get(key)?.get(run));
    const metricOf = (run: string) =>
      metricX === null ? null : src !== null ? src.runs.get(run)?.get(metricX) : store.get(metricX)?.get(run);
    const grouping = propsRef.current.grouping;
    let built: Built;
    let shown: readonly ChartRun[] = runs;
    if (grouping === undefined) {
      built = buildChartData(runs, seriesOf, metricOf, options.x, clampSmoothing(options.smoothing));
      delete rootRef.current?.dataset.groups;
      delete rootRef.current?.dataset.shown;
    } else {
      const g = buildGroupedChartData(grouping, runs, seriesOf, metricOf, options.x, clampSmoothing(options.smoothing));
      built = g.built;
      shown = g.shown;
      if (rootRef.current !== null) {
        rootRef.current.dataset.groups = JSON.stringify(g.lines);
        rootRef.current.dataset.shown = JSON.stringify(g.shown.map((r) => r.name));
      }
    }
    shownRef.current = shown;
    builtRef.current = built;
    setPoints(built.points);
    const el = plotRef.current;
    if (el === null) return;
    if (built.points === 0 && uRef.current === null) return;
    const struct = structureOf(built, shown, options);
    let u = uRef.current;
    if (u === null || struct !== structRef.current) {
      u?.destroy();
      const width = Math.max(100, el.clientWidth);
      const opts = makeOptions(built, shown, options, width, syncKey, {
        built: () => builtRef.current,
        onSelect: (x0, x1) => { zoomToRef.current(x0, x1); },
        onCursor: (uu) => {
          const tip = tipRef.current;
          const b = builtRef.current;
          if (tip === null || b === null) return;
          const show = hoverRef.current && renderTip(tip, uu, b, shownRef.current, propsRef.current.options.x);
          if (!show) {
            tip.style.display = "none";
            return;
          }
          tip.style.display = "block";
          const left = uu.cursor.left ?? 0;
          const plotW = uu.bbox.width / uPlot.pxRatio;
          const tw = tip.offsetWidth;
          const offX = uu.bbox.left / uPlot.pxRatio;
          tip.style.left = `${left + offX + 14 + tw > plotW + offX ? left + offX - tw - 14 : left + offX + 14}px`;
          tip.style.top = `${Math.max(0, (uu.cursor.top ?? 0) - 10)}px`;
        },
      });
      u = new uPlot(opts, built.data, el);
      uRef.current = u;
      structRef.current = struct;
      const over = u.over;
      over.addEventListener("dblclick", () => { resetZoom(); });
      over.addEventListener("mouseenter", () => {
        hoverRef.current = true;
      });
      over.addEventListener("mouseleave", () => {
        hoverRef.current = false;
        if (tipRef.current !== null) tipRef.current.style.display = "none";
      });
      if (zoom !== null) u.setScale(xScaleKey(options.x), { min: zoom.x0, max: zoom.x1 });
    } else if (zoom !== null) {
      u.setData(built.data, false);
      u.setScale(xScaleKey(options.x), { min: zoom.x0, max: zoom.x1 });
    } else {
      u.setData(built.data, true);
    }
  }, [version, runsSig, options.x, options.smoothing, options.log, panel.key, store, syncKey, groupSig]);

  // Follow the panel's width; ask the store for about one point per pixel.
  useEffect(() => {
    const el = plotRef.current;
    if (el === null || typeof ResizeObserver === "undefined") return;
    const ro = new ResizeObserver(() => {
      const w = el.clientWidth;
      if (w > 0) {
        store.setSamples(w - Y_AXIS_WIDTH);
        uRef.current?.setSize({ width: w, height: PLOT_HEIGHT });
      }
    });
    ro.observe(el);
    return () => { ro.disconnect(); };
  }, [store]);

  useEffect(
    () => () => {
      zoomAbort.current?.abort();
      uRef.current?.destroy();
      uRef.current = null;
    },
    [],
  );

  const runIds = useMemo(() => runs.map((r) => r.id), [runsSig]);
  const states = keys.map((k) => store.state(k, runIds));
  let state: DataState = states.includes("error")
    ? "error"
    : states.includes("loading")
      ? "loading"
      : states.every((s) => s === "empty")
        ? "empty"
        : "ready";
  if (state === "ready" && points === 0) state = "empty";
  if (zoomState === "loading") state = "loading";
  if (zoomState === "error") state = "error";
  const errorText = keys.map((k) => store.error(k)).find((e) => e !== undefined) ?? (zoomState === "error" ? "could not load the zoomed range" : "");
  const zoomed = zoomState !== "none";
  const title = metricX !== null ? `${panel.key} vs ${metricX}` : panel.key;
  const idBase = `panel-${panel.id.replace(/[^A-Za-z0-9_-]/g, "_")}`;

  return (
    <div
      ref={rootRef}
      class="chart-panel"
      data-testid="chart-panel"
      data-key={panel.key}
      data-panel-id={panel.id}
      data-points={points}
      data-state={state}
      data-zoomed={zoomed ? "true" : "false"}
      role="group"
      aria-label={`Chart ${title}`}
      {...props.dropProps}
    >
      <div class="chart-head" draggable={props.onDragStart !== undefined} onDragStart={props.onDragStart} onDragEnd={props.onDragEnd}>
        <span class="chart-grip" aria-hidden="true" title="Drag to move">
          ⋮⋮
        </span>
        <h4 class="chart-title" title={title}>
          {panel.key}
          {metricX !== null && <span class="chart-sub"> vs {metricX}</span>}
          {metricX === null && options.x !== "_step" && <span class="chart-sub"> · {axisLabel(options.x)}</span>}
        </h4>
        {zoomed && (
          <button type="button" class="chart-btn chart-btn-text" onClick={resetZoom} aria-label={`Reset zoom of ${title}`}>
            Reset zoom
          </button>
        )}
        {props.controls !== false && (
        <>
        {props.actions}
        <button
          type="button"
          class="chart-btn"
          aria-label={`Options of ${title}`}
          aria-expanded={menuOpen}
          aria-controls={`${idBase}-menu`}
          onClick={() => { setMenuOpen((o) => !o); }}
          title="Options"
        >
          ⚙
        </button>
        <button type="button" class="chart-btn" aria-label={`Move ${title} up`} disabled={!props.canMoveUp} onClick={() => { props.onMove(-1); }} title="Move up">
          ↑
        </button>
        <button type="button" class="chart-btn" aria-label={`Move ${title} down`} disabled={!props.canMoveDown} onClick={() => { props.onMove(1); }} title="Move down">
          ↓
        </button>
        <button type="button" class="chart-btn" aria-label={`Remove ${title}`} onClick={props.onRemove} title="Remove panel">
          ✕
        </button>
        </>
        )}
      </div>
      {menuOpen && props.controls !== false && (
        <div class="chart-menu" id={`${idBase}-menu`}>
          <label>
            X axis
            <select value={options.x} onChange={(e) => { props.onOptions({ x: e.currentTarget.value }); }}>
              <XAxisOptions metricKeys={props.metricKeys.filter((k) => k !== panel.key)} />
            </select>
          </label>
          <label>
            Smoothing
            <SmoothingInput value={options.smoothing} onChange={(smoothing) => { props.onOptions({ smoothing }); }} />
          </label>
          <label>
            <input type="checkbox" checked={options.log} onChange={(e) => { props.onOptions({ log: e.currentTarget.checked }); }} />
            Log scale
          </label>
        </div>
      )}
      <div class="chart-body">
        <div ref={plotRef} class="chart-plot" />
        <div ref={tipRef} class="chart-tip" role="status" aria-live="off" />
        {state === "loading" && points === 0 && <div class="chart-overlay">Loading…</div>}
        {state === "empty" && <div class="chart-overlay">No data for the selected runs</div>}
        {state === "error" && (
          <div class="chart-overlay chart-overlay-error" role="alert">
            Could not load {panel.key}: {errorText}
          </div>
        )}
      </div>
      {props.grouping !== undefined && <GroupLegend grouping={props.grouping} runIds={runIds} title={title} />}
    </div>
  );
}

/** The groups of a grouped chart: colour, name, run count; a button expands a group to its runs. */
function GroupLegend({ grouping, runIds, title }: { grouping: ChartGrouping; runIds: readonly string[]; title: string }) {
  const groups = grouping.groups
    .map((g) => ({ g, count: g.runIds.filter((id) => runIds.includes(id)).length }))
    .filter((x) => x.count > 0);
  return (
    <ul class="chart-legend" data-testid="group-legend" aria-label={`Groups of ${title}`}>
      {groups.map(({ g, count }) => (
        <li key={g.key} class="chart-legend-item" data-testid="group-legend-item" data-group={g.key} data-count={count} data-expanded={g.expanded ? "true" : "false"}>
          <span class="chart-tip-swatch" style={{ background: g.color }} aria-hidden="true" />
          {grouping.onToggle === undefined ? (
            <span>{groupLabel(g.name, count)}</span>
          ) : (
            <button
              type="button"
              class="chart-btn chart-btn-text"
              aria-expanded={g.expanded}
              title={g.expanded ? "Hide the group's runs" : "Show the group's runs"}
              onClick={() => { grouping.onToggle?.(g.key); }}
            >
              {groupLabel(g.name, count)}
            </button>
          )}
        </li>
      ))}
    </ul>
  );
}
