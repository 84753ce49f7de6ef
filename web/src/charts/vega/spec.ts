// Custom charts (`fwtrack.plot`, docs/charts.md): the descriptor the run log keeps, and the
// Vega-Lite spec drawn from it. Pure: tested without a browser.

import type { Json } from "../../api/types";

/** The rows a chart draws at most (W&B's limit for custom-chart tables). */
export const MAX_CHART_ROWS = 10000;

/** The data source a chart's spec reads its rows from. */
export const DATA_NAME = "table";

/** A custom chart as the dashboard reads it from its media descriptor. */
export interface CustomChartSpec {
  /** The table file (`media/<hex>.table.json`), read through `GET RUN/table`. */
  path: string;
  spec: Record<string, Json>;
  columns: string[];
  nrows: number;
  /** Which `fwtrack.plot` function made it (`custom` for `plot_table`). */
  preset: string;
}

function isObject(v: unknown): v is Record<string, Json> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The chart a media descriptor describes, or null when it is not a (well-formed) custom chart. */
export function customChart(d: unknown): CustomChartSpec | null {
  if (!isObject(d) || d._type !== "custom-chart") return null;
  const { path, spec, columns, nrows, preset } = d;
  if (typeof path !== "string" || !isObject(spec)) return null;
  return {
    path,
    spec,
    columns: Array.isArray(columns) ? columns.filter((c): c is string => typeof c === "string") : [],
    nrows: typeof nrows === "number" && Number.isFinite(nrows) ? nrows : 0,
    preset: typeof preset === "string" ? preset : "custom",
  };
}

/** Table rows (arrays in column order) as the objects Vega reads (`{column: cell}`). */
export function rowValues(columns: readonly string[], rows: readonly (readonly Json[])[]): Record<string, Json>[] {
  return rows.map((row) => {
    const o: Record<string, Json> = {};
    columns.forEach((c, i) => {
      o[c] = row[i] ?? null;
    });
    return o;
  });
}

/**
 * The Vega-Lite spec to compile: the chart's own, with its rows bound to the data source
 * `table` (as `datasets`), a width of `width` px where the spec asks for the container's, and
 * no fetching of URLs (data comes only from the run: a `data.url` is refused).
 */
export function buildSpec(spec: Record<string, Json>, values: Record<string, Json>[], width: number): Record<string, Json> {
  const out: Record<string, Json> = { ...spec };
  const datasets = isObject(spec.datasets) ? { ...spec.datasets } : {};
  datasets[DATA_NAME] = values;
  out.datasets = datasets;
  if (!("data" in out)) out.data = { name: DATA_NAME };
  if (out.width === "container" || out.width === undefined) out.width = Math.max(120, Math.floor(width));
  if (out.height === "container") out.height = 260;
  if (out.autosize === undefined) out.autosize = { type: "fit", contains: "padding" };
  if (out.background === undefined) out.background = "transparent";
  if (usesUrl(out)) throw new Error("this chart's spec loads data from a URL; a chart may only draw the table logged with it");
  return out;
}

function usesUrl(node: Json): boolean {
  if (Array.isArray(node)) return node.some(usesUrl);
  if (!isObject(node)) return false;
  for (const [k, v] of Object.entries(node)) {
    if (k === "url" && typeof v === "string") return true;
    if (usesUrl(v)) return true;
  }
  return false;
}
