// A custom chart (`fwtrack.plot`, docs/charts.md) drawn with Vega-Lite: its rows read through
// `GET RUN/table` (pages of 1,000, up to MAX_CHART_ROWS), then vega + vega-lite loaded on first
// use (a dynamic import: pages without custom charts never load them) and the spec drawn as SVG.
// Used by the run page's media tab, the workspace's custom-chart panels, and reusable as is by a
// report panel: give it the run and the descriptor.

import { useEffect, useRef, useState } from "preact/hooks";
import { isAbort } from "../../api/client";
import { getTable } from "../../api/media";
import type { Json } from "../../api/types";
import { ErrorState } from "../../components/states";
import { buildSpec, MAX_CHART_ROWS, rowValues, type CustomChartSpec } from "./spec";
import "./vega.css";

const PAGE = 1000;

async function fetchRows(entity: string, project: string, runId: string, chart: CustomChartSpec, signal: AbortSignal): Promise<{ columns: string[]; rows: Json[][] }> {
  const rows: Json[][] = [];
  let columns = chart.columns;
  for (let offset = 0; offset < MAX_CHART_ROWS; offset += PAGE) {
    const page = await getTable(entity, project, runId, chart.path, { offset, limit: PAGE }, signal);
    columns = page.columns;
    rows.push(...page.rows);
    if (rows.length >= page.total || page.rows.length === 0) break;
  }
  return { columns, rows };
}

/** Read afresh after an await (a plain `signal.aborted` is narrowed to false by then). */
const isAborted = (signal: AbortSignal): boolean => signal.aborted;

type State = { kind: "loading" } | { kind: "drawn"; marks: number } | { kind: "error"; error: unknown };

export function VegaChart({ entity, project, runId, chart, label, width = 480 }: {
  entity: string;
  project: string;
  runId: string;
  chart: CustomChartSpec;
  /** Accessible name (e.g. the key and step). */
  label: string;
  /** Width in px for specs that take their container's. */
  width?: number;
}) {
  const host = useRef<HTMLDivElement>(null);
  const [state, setState] = useState<State>({ kind: "loading" });
  const specKey = JSON.stringify(chart.spec);
  useEffect(() => {
    const ctrl = new AbortController();
    let finalize: (() => void) | null = null;
    setState({ kind: "loading" });
    (async () => {
      const [{ columns, rows }, { renderChart }] = await Promise.all([fetchRows(entity, project, runId, chart, ctrl.signal), import("./render")]);
      const el = host.current;
      if (ctrl.signal.aborted || el === null) return;
      const measured = el.clientWidth > 0 ? el.clientWidth - 8 : width;
      const drawn = await renderChart(el, buildSpec(chart.spec, rowValues(columns, rows), measured));
      finalize = () => {
        drawn.view.finalize();
      };
      if (isAborted(ctrl.signal)) {
        finalize();
        return;
      }
      setState({ kind: "drawn", marks: drawn.marks });
    })().catch((error: unknown) => {
      if (!isAbort(error) && !ctrl.signal.aborted) setState({ kind: "error", error });
    });
    return () => {
      ctrl.abort();
      finalize?.();
      if (host.current !== null) host.current.replaceChildren();
    };
    // specKey stands for chart.spec
  }, [entity, project, runId, chart.path, specKey, width]);
  return (
    <div class="vega-chart" data-testid="custom-chart" data-preset={chart.preset} data-path={chart.path} data-state={state.kind} data-marks={state.kind === "drawn" ? state.marks : ""} role="figure" aria-label={label}>
      {state.kind === "error" && <ErrorState error={state.error} title="Cannot draw the chart" />}
      {state.kind === "loading" && <div class="media-placeholder vega-placeholder" />}
      <div class="vega-host" ref={host} />
    </div>
  );
}
