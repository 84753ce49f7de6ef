// A run's histograms over steps.

import { ApiError, request } from "./client";
import { runsPath } from "./runs";
import type { HistogramSeries, RunInfo } from "./types";

/** Every histogram logged under `key`, one entry per step. */
export function getHistograms(
  entity: string,
  project: string,
  runId: string,
  key: string,
  signal?: AbortSignal,
): Promise<HistogramSeries> {
  const path = `${runsPath(entity, project, runId)}/histograms`;
  const query = { key };
  return request<HistogramSeries>(path, signal === undefined ? { query } : { query, signal });
}

/** Parse the `it has: 'a', 'b'` list of the server's "no histograms under ..." answer. */
export function parseHistogramKeys(detail: string): string[] {
  const i = detail.lastIndexOf("it has: ");
  if (i < 0) return [];
  const rest = detail.slice(i + "it has: ".length).trim();
  if (rest === "none") return [];
  const keys: string[] = [];
  const re = /'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"/g;
  for (let m = re.exec(rest); m !== null; m = re.exec(rest)) {
    keys.push((m[1] ?? m[2] ?? "").replace(/\\(.)/g, "$1"));
  }
  return keys;
}

/** A key no metric may have (keys are at most 256 characters): asking for it lists the real ones. */
const PROBE_KEY = "\u0000fwtrack-histogram-keys";

/**
 * The histogram keys of a run: `GET .../histograms/keys`; servers without that route answer
 * 404, and then the key list of their 404 for a key that cannot exist is read (up to 20 keys).
 */
export async function histogramKeys(run: RunInfo, signal?: AbortSignal): Promise<string[]> {
  const path = `${runsPath(run.entity, run.project, run.id)}/histograms/keys`;
  try {
    const data = await request<{ keys: string[] }>(path, signal === undefined ? {} : { signal });
    return data.keys;
  } catch (err) {
    if (!(err instanceof ApiError && (err.status === 404 || err.status === 405))) throw err;
  }
  try {
    await getHistograms(run.entity, run.project, run.id, PROBE_KEY, signal);
    return [];
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return parseHistogramKeys(err.detail);
    throw err;
  }
}
