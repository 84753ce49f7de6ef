// System metrics of one or more runs (`GET RUN/system` per run, all at once): one chart per
// `system/` key with a line per run over runtime, grouped (CPU, memory, disk, network, GPU).
// Polls while a run is running.

import type { ComponentChildren } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { ApiError, isAbort } from "../api/client";
import { getSystem, type SystemData } from "../api/system";
import { ErrorState, Loading } from "../components/states";
import { poll } from "../lib/poll";
import { groupSystemKeys } from "./systemGroups";
import type { ChartRun } from "./build";
import { LineChart, type LineSeries } from "./LineChart";
import "./charts.css";

const LIVE_MS = 2000;
/** Samples asked per run (the server downsamples longer runs, keeping min and max). */
const SAMPLES = 1500;

let syncCount = 0;

/** Every system key of the runs' data, sorted. */
export function systemKeys(data: ReadonlyMap<string, SystemData>): string[] {
  const keys = new Set<string>();
  for (const d of data.values()) for (const k of d.series.keys()) keys.add(k);
  return [...keys].sort();
}

/** Fetch every run's system samples at once; runs the server lacks (404) have none. */
export async function fetchSystem(entity: string, project: string, runIds: readonly string[], signal?: AbortSignal): Promise<Map<string, SystemData>> {
  const answers = await Promise.all(
    runIds.map((id) =>
      getSystem(entity, project, id, { samples: SAMPLES }, signal).catch((err: unknown) => {
        if (err instanceof ApiError && err.status === 404) return null;
        throw err;
      }),
    ),
  );
  const out = new Map<string, SystemData>();
  runIds.forEach((id, i) => {
    const a = answers[i];
    if (a !== null && a !== undefined) out.set(id, a);
  });
  return out;
}

export function SystemCharts({ entity, project, runs, live, empty }: {
  entity: string;
  project: string;
  runs: readonly ChartRun[];
  live: boolean;
  /** Shown when no run has system samples. */
  empty: ComponentChildren;
}) {
  const [data, setData] = useState<Map<string, SystemData> | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [nonce, setNonce] = useState(0);
  const syncKey = useMemo(() => `fwtrack-system-${++syncCount}`, []);
  const ids = runs.map((r) => r.id).join(",");

  useEffect(() => {
    const runIds = ids === "" ? [] : ids.split(",");
    let once = false;
    return poll(async (signal) => {
      if (once && !live) return;
      once = true;
      try {
        setData(await fetchSystem(entity, project, runIds, signal));
        setError(null);
      } catch (err) {
        if (isAbort(err)) return;
        setError(err);
        throw err;
      }
    }, LIVE_MS);
  }, [entity, project, ids, live, nonce]);

  if (data === null) {
    return error !== null ? (
      <ErrorState error={error} onRetry={() => { setNonce((n) => n + 1); }} title="Cannot load the system metrics" />
    ) : (
      <Loading label="Loading system metrics…" />
    );
  }
  const keys = systemKeys(data);
  if (keys.length === 0) return <>{empty}</>;
  const groups = groupSystemKeys(keys);
  return (
    <div class="system-charts" data-testid="system-charts">
      {groups.map((g) => (
        <section key={g.id} class="pg-section" data-testid="system-group" data-group={g.id} aria-label={`${g.label} metrics`}>
          <h3 class="system-group-title">{g.label}</h3>
          <div class="pg-panels">
            {g.keys.map((k) => (
              <LineChart
                key={k}
                title={k}
                runs={runs}
                syncKey={syncKey}
                series={runs.map((r): LineSeries | null => {
                  const d = data.get(r.id);
                  const y = d?.series.get(k);
                  return d === undefined || y === undefined ? null : { x: d.runtime, y };
                })}
              />
            ))}
          </div>
        </section>
      ))}
    </div>
  );
}
