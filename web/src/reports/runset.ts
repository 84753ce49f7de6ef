// A report panel's run set resolved to runs: a filter goes to the runs list API with its filter,
// sort and limit; an explicit id list fetches those runs (in the list's order). Frozen reports
// read histories only up to `frozen_at` (the history request's `until`). No UI code here.

import { fetchHistory } from "../api/history";
import { fieldsOf, listRuns, type RunQuery } from "../api/runs";
import type { RunInfo } from "../api/types";
import type { Fetcher } from "../charts/store";
import type { RunSet } from "./panels/types";

export const DEFAULT_RUNSET_LIMIT = 50;
export const MAX_RUNSET_LIMIT = 500;
export const DEFAULT_RUNSET_SORT = "-created_at";

export interface ResolvedRunSet {
  runs: RunInfo[];
  /** How many runs match the filter in all (more than `runs` when the limit cut them). */
  total: number;
  /** Ids of an explicit list that the server does not know (deleted runs). */
  missing: string[];
}

/** The limit of a run set, within 1..500. */
export function runSetLimit(rs: RunSet): number {
  const n = rs.limit;
  if (n === undefined || !Number.isFinite(n)) return DEFAULT_RUNSET_LIMIT;
  return Math.max(1, Math.min(MAX_RUNSET_LIMIT, Math.floor(n)));
}

/** The runs list query of a run set. */
export function runSetQuery(rs: RunSet): RunQuery {
  const limit = runSetLimit(rs);
  const sort = rs.sort === undefined || rs.sort === "" ? DEFAULT_RUNSET_SORT : rs.sort;
  if (rs.ids !== undefined) {
    const ids = rs.ids.slice(0, limit);
    return { ids, sort, limit: Math.max(1, ids.length) };
  }
  return { filter: rs.filter ?? "", sort, limit };
}

/** The runs of `rs` in project `entity/project`. A bad filter is the server's 400 ApiError. */
export async function resolveRunSet(entity: string, project: string, rs: RunSet, signal?: AbortSignal): Promise<ResolvedRunSet> {
  const q = runSetQuery(rs);
  if (q.ids !== undefined) {
    if (q.ids.length === 0) return { runs: [], total: 0, missing: [] };
    const list = await listRuns(entity, project, q, signal);
    const byId = new Map(list.runs.map((r) => [r.id, r]));
    const runs = q.ids.map((id) => byId.get(id)).filter((r): r is RunInfo => r !== undefined);
    return { runs, total: runs.length, missing: q.ids.filter((id) => !byId.has(id)) };
  }
  const list = await listRuns(entity, project, q, signal);
  return { runs: list.runs, total: list.total, missing: [] };
}

/** A short description of a run set: `config.lr > 0.01 (50 newest)`, `3 runs`. */
export function describeRunSet(rs: RunSet): string {
  if (rs.ids !== undefined) {
    const n = rs.ids.length;
    const from = rs.frozen_from !== undefined && rs.frozen_from !== "" ? ` (frozen from ${rs.frozen_from})` : "";
    return `${n} ${n === 1 ? "run" : "runs"}${from}`;
  }
  const f = (rs.filter ?? "").trim();
  return f === "" ? "all runs" : f;
}

/** The history fetcher of a report: `fetchHistory`, limited to points logged up to `until` when frozen. */
export function historyFetcher(until: number | null, base: Fetcher = fetchHistory): Fetcher {
  if (until === null) return base;
  return (entity, project, runIds, keys, samples, range, signal, opts) => base(entity, project, runIds, keys, samples, { ...(range ?? {}), until }, signal, opts);
}

/** The keys a run set offers to the panel editors: metric keys and config/summary fields. */
export interface RunSetKeys {
  /** Metric keys the runs logged (history), system metrics left out. */
  metrics: string[];
  config: string[];
  summary: string[];
}

export function runSetKeys(runs: readonly RunInfo[]): RunSetKeys {
  const metrics = new Set<string>();
  for (const r of runs) for (const k of r.keys) if (!k.startsWith("system/") && !k.startsWith("_")) metrics.add(k);
  const fields = fieldsOf(runs);
  return { metrics: [...metrics].sort(), config: fields.config, summary: fields.summary };
}

/** Whether two resolved run lists draw the same (ids, names, states and fields unchanged). */
export function sameRuns(a: readonly RunInfo[], b: readonly RunInfo[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((r, i) => {
    const o = b[i];
    return o !== undefined && o.id === r.id && o.name === r.name && o.state === r.state && o.updated_at === r.updated_at;
  });
}
