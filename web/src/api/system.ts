// A run's system metrics (`GET RUN/system`): CPU, memory, disk, network, GPU samples over time.

import { request } from "./client";
import { toFloat64 } from "./history";
import { runsPath } from "./runs";
import type { SystemAnswer } from "./types";

/** System samples as typed arrays: x = `runtime` (seconds since the run started). */
export interface SystemData {
  timestamp: Float64Array;
  runtime: Float64Array;
  series: Map<string, Float64Array>;
}

/** The server's answer as Float64Arrays (nulls and non-finite spellings become NaN). */
export function toSystemData(a: SystemAnswer): SystemData {
  const series = new Map<string, Float64Array>();
  for (const [k, v] of Object.entries(a.series)) series.set(k, toFloat64(v));
  return { timestamp: toFloat64(a.timestamp), runtime: toFloat64(a.runtime), series };
}

export interface SystemQuery {
  keys?: readonly string[];
  /** Downsample (min/max preserving) to about this many samples. */
  samples?: number;
}

export async function getSystem(
  entity: string,
  project: string,
  runId: string,
  q: SystemQuery = {},
  signal?: AbortSignal,
): Promise<SystemData> {
  const query = {
    keys: q.keys === undefined || q.keys.length === 0 ? undefined : q.keys.join(","),
    samples: q.samples === undefined ? undefined : Math.max(1, Math.round(q.samples)),
  };
  const path = `${runsPath(entity, project, runId)}/system`;
  const answer = await request<SystemAnswer>(path, signal === undefined ? { query } : { query, signal });
  return toSystemData(answer);
}
