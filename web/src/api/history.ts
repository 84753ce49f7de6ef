// Metric history of many runs in one request (`POST /history/{entity}/{project}`, docs/server.md).
// The server's columnar lists become Float64Arrays once, here; nothing downstream builds
// per-point objects.

import { request } from "./client";

/** One run's series of one key, columnar. `min`/`max` only when the server downsampled it. */
export interface SeriesData {
  step: Float64Array;
  value: Float64Array;
  timestamp: Float64Array;
  min: Float64Array | null;
  max: Float64Array | null;
}

/** The answer of `fetchHistory`: per run, per key; keys a run has no data for are absent. */
export interface HistoryResult {
  runs: Map<string, Map<string, SeriesData>>;
  /** Runs the server does not know (deleted, or never uploaded). */
  missing: string[];
}

export interface StepRange {
  minStep?: number;
  maxStep?: number;
  /** Only points logged at or before this time (Unix seconds): a frozen report's moment. */
  until?: number;
}

/** The server's limit on runs per request; more runs are split into parallel requests. */
export const MAX_RUNS_PER_REQUEST = 100;

type WireValue = number | string | null;

interface WireSeries {
  step: WireValue[];
  value: WireValue[];
  timestamp: WireValue[];
  min?: WireValue[];
  max?: WireValue[];
}

interface WireAnswer {
  runs: { run: string; series: Record<string, WireSeries>; downsampled: boolean }[];
  missing: string[];
}

/** A JSON number list (non-finite values spelled "NaN"/"Infinity"/"-Infinity") as a Float64Array. */
export function toFloat64(list: readonly WireValue[]): Float64Array {
  const n = list.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = list[i];
    if (typeof v === "number") out[i] = v;
    else if (v === "Infinity") out[i] = Number.POSITIVE_INFINITY;
    else if (v === "-Infinity") out[i] = Number.NEGATIVE_INFINITY;
    else out[i] = Number.NaN;
  }
  return out;
}

/** One wire series as typed arrays. */
export function toSeriesData(s: WireSeries): SeriesData {
  return {
    step: toFloat64(s.step),
    value: toFloat64(s.value),
    timestamp: toFloat64(s.timestamp),
    min: s.min === undefined ? null : toFloat64(s.min),
    max: s.max === undefined ? null : toFloat64(s.max),
  };
}

async function fetchChunk(
  entity: string,
  project: string,
  runIds: string[],
  keys: string[],
  samples: number,
  range: StepRange | undefined,
  signal: AbortSignal | undefined,
): Promise<WireAnswer> {
  const body: Record<string, unknown> = { runs: runIds, keys, samples: Math.max(0, Math.round(samples)) };
  if (range?.minStep !== undefined && Number.isFinite(range.minStep)) body.min_step = range.minStep;
  if (range?.maxStep !== undefined && Number.isFinite(range.maxStep)) body.max_step = range.maxStep;
  if (range?.until !== undefined && Number.isFinite(range.until)) body.until = range.until;
  const opts: { method: string; body: unknown; signal?: AbortSignal } = { method: "POST", body };
  if (signal !== undefined) opts.signal = signal;
  return request<WireAnswer>(`/history/${encodeURIComponent(entity)}/${encodeURIComponent(project)}`, opts);
}

/**
 * Series of `keys` for `runIds`, downsampled (min/max-preserving) to about `samples` points per
 * series (`0` = full resolution), within `range` when given. One request per 100 runs.
 */
export async function fetchHistory(
  entity: string,
  project: string,
  runIds: readonly string[],
  keys: readonly string[],
  samples: number,
  range?: StepRange,
  signal?: AbortSignal,
): Promise<HistoryResult> {
  const result: HistoryResult = { runs: new Map(), missing: [] };
  if (runIds.length === 0 || keys.length === 0) return result;
  const chunks: string[][] = [];
  for (let i = 0; i < runIds.length; i += MAX_RUNS_PER_REQUEST) {
    chunks.push(runIds.slice(i, i + MAX_RUNS_PER_REQUEST));
  }
  const answers = await Promise.all(
    chunks.map((c) => fetchChunk(entity, project, c, [...keys], samples, range, signal)),
  );
  for (const answer of answers) {
    for (const run of answer.runs) {
      const series = new Map<string, SeriesData>();
      for (const [key, s] of Object.entries(run.series)) series.set(key, toSeriesData(s));
      result.runs.set(run.run, series);
    }
    result.missing.push(...answer.missing);
  }
  return result;
}
