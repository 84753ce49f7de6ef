// The workspace's custom-chart panels: one panel per key under which any visible run logged a
// custom chart (`fwtrack.plot`), each drawing every such run's latest chart (newest step).
// Keys are read per run (`GET RUN/media/keys`) for the first MAX_RUNS visible runs, again
// every LIVE_INTERVAL_MS while live.

import { useEffect, useState } from "preact/hooks";
import { mediaItems, mediaKeys } from "../../api/media";
import { poll } from "../../lib/poll";
import type { ChartRun } from "../build";
import { customChart, type CustomChartSpec } from "./spec";
import { VegaChart } from "./VegaChart";

const MAX_RUNS = 10;
const LIVE_INTERVAL_MS = 10000;

export interface ChartEntry {
  run: ChartRun;
  step: number;
  chart: CustomChartSpec;
}

/** Per key (sorted), each run's latest custom chart under it, in the runs' order. */
async function load(entity: string, project: string, runs: readonly ChartRun[], signal: AbortSignal): Promise<Map<string, ChartEntry[]>> {
  const shown = runs.slice(0, MAX_RUNS);
  const perRun = await Promise.all(
    shown.map(async (run) => {
      const keys = (await mediaKeys(entity, project, run.id, signal)).filter((k) => (k.type as string) === "custom-chart");
      return Promise.all(
        keys.map(async (k) => {
          const items = await mediaItems(entity, project, run.id, k.key, signal);
          const last = items[items.length - 1];
          const chart = last === undefined ? null : customChart(last.value);
          return chart === null || last === undefined ? null : { key: k.key, entry: { run, step: last.step, chart } };
        }),
      );
    }),
  );
  const out = new Map<string, ChartEntry[]>();
  for (const found of perRun) for (const f of found) if (f !== null) out.set(f.key, [...(out.get(f.key) ?? []), f.entry]);
  return new Map([...out.entries()].sort(([a], [b]) => a.localeCompare(b)));
}

export function CustomChartPanels({ entity, project, runs, live }: { entity: string; project: string; runs: readonly ChartRun[]; live: boolean }) {
  const [panels, setPanels] = useState<Map<string, ChartEntry[]>>(new Map());
  const runsSig = runs.slice(0, MAX_RUNS).map((r) => `${r.id}\u0000${r.name}\u0000${r.color}`).join("\u0001");
  useEffect(() => {
    const refresh = async (signal: AbortSignal): Promise<void> => {
      const next = await load(entity, project, runs, signal);
      if (!signal.aborted) setPanels(next);
    };
    if (live) return poll(refresh, LIVE_INTERVAL_MS);
    const ctrl = new AbortController();
    refresh(ctrl.signal).catch(() => undefined);
    return () => { ctrl.abort(); };
    // runsSig stands for runs
  }, [entity, project, runsSig, live]);
  if (panels.size === 0) return null;
  return (
    <section class="pg-section" data-testid="custom-chart-section" aria-label="Custom charts">
      <h3 class="pg-section-head">Custom charts</h3>
      <div class="vega-panels">
        {[...panels.entries()].map(([key, entries]) => (
          <div class="card vega-panel" key={key} data-testid="custom-chart-panel" data-key={key} data-runs={entries.length}>
            <div class="vega-panel-title">{key}</div>
            {entries.map((e) => (
              <div class="vega-panel-run" key={e.run.id}>
                {entries.length > 1 && (
                  <div class="vega-panel-run-name" style={{ color: e.run.color }}>
                    {e.run.name}
                  </div>
                )}
                <VegaChart entity={entity} project={project} runId={e.run.id} chart={e.chart} label={`${key} of ${e.run.name}, step ${e.step}`} width={420} />
              </div>
            ))}
          </div>
        ))}
      </div>
    </section>
  );
}
