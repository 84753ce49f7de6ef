// Draws a Vega-Lite spec into an element: compiled by vega-lite, run by a Vega View rendering
// SVG. Imported dynamically (see VegaChart.tsx), so vega stays out of the main bundle.
// Expressions are interpreted (./interpreter), never compiled, as the dashboard's CSP requires;
// the loader refuses every URL: a chart draws only the rows handed to it.

import { loader as vegaLoader, parse, View, type Spec } from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import { expressionInterpreter } from "./interpreter";

function refusingLoader(): ReturnType<typeof vegaLoader> {
  const l = vegaLoader();
  const refuse = (uri: string): Promise<never> => Promise.reject(new Error(`charts do not load URLs (${uri})`));
  l.load = refuse;
  l.sanitize = refuse;
  return l;
}

export interface Drawn {
  view: View;
  /** How many marks (points, bars, line segments, cells, labels) the chart drew. */
  marks: number;
}

/** Compile and draw `spec` (a complete Vega-Lite spec) into `el`; `finalize()` the view when done. */
export async function renderChart(el: HTMLElement, spec: Record<string, unknown>): Promise<Drawn> {
  const compiled: Spec = compile(spec as unknown as TopLevelSpec).spec;
  const runtime = parse(compiled, undefined, { ast: true });
  const view = new View(runtime, {
    renderer: "svg",
    container: el,
    hover: true,
    loader: refusingLoader(),
    expr: expressionInterpreter,
  });
  await view.runAsync();
  return { view, marks: el.querySelectorAll(".role-mark > path, .role-mark > g > path, .role-mark > text, .role-mark > line").length };
}
