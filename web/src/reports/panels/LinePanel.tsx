// The line panel: the workspace's Chart (one per metric) over the run set, fed by one
// HistoryStore; x axis, smoothing (EMA) and log y as in the workspace. A live report polls for
// new points while a run is running; a frozen one reads histories up to its `frozen_at`.

import { useEffect, useMemo, useState } from "preact/hooks";
import { X_STEP } from "../../charts/align";
import type { ChartRun } from "../../charts/build";
import { Chart } from "../../charts/Chart";
import { SmoothingInput, XAxisOptions } from "../../charts/controls";
import { groupRuns } from "../../charts/group";
import type { ChartGrouping } from "../../charts/groupChart";
import { HistoryStore } from "../../charts/store";
import { colorsOf } from "../../lib/colors";
import { poll } from "../../lib/poll";
import { historyFetcher } from "../runset";
import { GroupingField, KeyChecks, PanelFrame, RunSetField, TitleField, useRunSet } from "./common";
import type { LineBlock, ReportRef } from "./types";

const LIVE_MS = 2000;
let panelCount = 0;

/** Per run, per key: the last finite value the store holds (what browser tests read back). */
export function lastValues(store: HistoryStore, runs: readonly string[], keys: readonly string[]): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const key of keys) {
    const byRun = store.get(key);
    if (byRun === undefined) continue;
    for (const id of runs) {
      const s = byRun.get(id);
      if (s === null || s === undefined) continue;
      for (let i = s.value.length - 1; i >= 0; i--) {
        const v = s.value[i] as number;
        if (Number.isFinite(v)) {
          (out[id] ??= {})[key] = v;
          break;
        }
      }
    }
  }
  return out;
}

export function LinePanel({ block, report, editing, onChange }: { block: LineBlock; report: ReportRef; editing: boolean; onChange: (b: LineBlock) => void }) {
  const rs = useRunSet(report, block.runs);
  const store = useMemo(() => new HistoryStore(report.entity, report.project, historyFetcher(report.frozen_at)), [report.entity, report.project, report.frozen_at]);
  useEffect(() => () => { store.dispose(); }, [store]);
  const syncKey = useMemo(() => `fwtrack-report-${++panelCount}`, []);

  const runsSig = rs.runs.map((r) => `${r.id}:${r.name}:${r.state}`).join(",");
  const chartRuns: ChartRun[] = useMemo(
    () => {
      const colorOf = colorsOf(rs.runs.map((r) => r.id));
      return rs.runs.map((r) => ({ id: r.id, name: r.name, color: colorOf(r.id), start: r.created_at, running: r.state === "running" }));
    },
    [runsSig],
  );
  useEffect(() => {
    store.setRuns(
      chartRuns.map((r) => r.id),
      chartRuns.filter((r) => r.running === true).map((r) => r.id),
    );
  }, [store, chartRuns]);
  const live = report.frozen_at === null && chartRuns.some((r) => r.running === true);
  useEffect(() => {
    if (!live) return;
    return poll(() => store.refresh(), LIVE_MS);
  }, [store, live]);

  const y = block.y;
  const ySig = y.join("\n");
  const [version, setVersion] = useState(0);
  useEffect(() => {
    const bump = (): void => { setVersion((v) => v + 1); };
    const offs = y.map((k) => store.subscribe(k, bump));
    return () => {
      for (const off of offs) off();
    };
  }, [store, ySig]);
  const last = useMemo(() => lastValues(store, chartRuns.map((r) => r.id), y), [store, chartRuns, ySig, version]);

  // Grouping: the grouping part's groupRuns; each group drawn by the Chart as its agg + band.
  const [expanded, setExpanded] = useState<readonly string[]>([]);
  const group = block.group ?? null;
  const grouping: ChartGrouping | undefined = useMemo(() => {
    if (group === null) return undefined;
    return {
      groups: groupRuns(rs.runs, group.by).map((g) => ({ key: g.key, name: g.name, color: g.color, runIds: g.runs.map((r) => r.id), expanded: expanded.includes(g.key) })),
      agg: group.agg,
      band: group.band,
      onToggle: (key: string) => { setExpanded((e) => (e.includes(key) ? e.filter((k) => k !== key) : [...e, key])); },
    };
  }, [runsSig, group?.by, group?.agg, group?.band, expanded]);

  const x = block.x ?? X_STEP;
  const options = { x, smoothing: Math.min(0.999, Math.max(0, block.smoothing ?? 0)), log: block.log_y === true };
  const title = block.title ?? y.join(", ");
  const set = (patch: Partial<LineBlock>): void => { onChange({ ...block, ...patch }); };

  const editor = editing ? (
    <div class="rp-form" data-testid="line-editor">
      <TitleField value={block.title} onChange={(t) => { set({ title: t }); }} />
      <RunSetField value={block.runs} onChange={(runs) => { set({ runs }); }} />
      <KeyChecks label="Metrics (y)" value={y} keys={rs.keys.metrics} testid="line-y" onChange={(keys) => { if (keys.length > 0) set({ y: keys }); }} />
      <label class="rp-field">
        X axis
        <select class="input input-small" value={x} data-testid="line-x" onChange={(e) => { set({ x: e.currentTarget.value }); }}>
          <XAxisOptions metricKeys={rs.keys.metrics.filter((k) => !y.includes(k))} />
        </select>
      </label>
      <label class="rp-field">
        Smoothing
        <SmoothingInput value={options.smoothing} onChange={(smoothing) => { set({ smoothing }); }} />
      </label>
      <label class="rp-field">
        <input type="checkbox" checked={options.log} data-testid="line-log" onChange={(e) => { set({ log_y: e.currentTarget.checked }); }} />
        Log y
      </label>
      <GroupingField value={block.group} configKeys={rs.keys.config} onChange={(group) => { set({ group }); }} />
    </div>
  ) : undefined;

  return (
    <PanelFrame
      type="line"
      title={title}
      runs={block.runs}
      state={rs.state === "ready" && rs.runs.length === 0 ? "empty" : rs.state}
      error={rs.error}
      editor={editor}
      attrs={{
        "data-runs": rs.runs.map((r) => r.id).join(","),
        "data-y": y.join(","),
        "data-x": x,
        "data-smoothing": options.smoothing,
        "data-log": options.log ? "true" : "false",
        "data-group": group === null ? "" : `${group.by}:${group.agg}:${group.band}`,
        "data-last": JSON.stringify(last),
      }}
    >
      {rs.state === "ready" && rs.runs.length === 0 && <div class="report-panel-note muted">No runs match this run set.</div>}
      {chartRuns.length > 0 && (
        <div class="rp-charts">
          {y.map((key) => (
            <Chart
              key={key}
              store={store}
              panel={{ id: `${block.id}:${key}`, key, options: {} }}
              options={options}
              runs={chartRuns}
              metricKeys={rs.keys.metrics}
              syncKey={syncKey}
              onOptions={() => undefined}
              onRemove={() => undefined}
              onMove={() => undefined}
              canMoveUp={false}
              canMoveDown={false}
              controls={false}
              grouping={grouping}
            />
          ))}
        </div>
      )}
    </PanelFrame>
  );
}
