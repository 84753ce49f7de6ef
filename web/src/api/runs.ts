// Runs of a project: list (filter/search/sort/pages), detail, edit, delete, column fields.

import { ApiError, request } from "./client";
import type { Json, RunFields, RunInfo, RunList } from "./types";

function seg(s: string): string {
  return encodeURIComponent(s);
}

/** `/runs/{entity}/{project}` with each part escaped. */
export function runsPath(entity: string, project: string, runId?: string): string {
  const base = `/runs/${seg(entity)}/${seg(project)}`;
  return runId === undefined ? base : `${base}/${seg(runId)}`;
}

export interface RunQuery {
  /** The server's filter expression (`config.lr > 0.01 and state = running`). */
  filter?: string;
  /** Text in name or id, case-insensitive. */
  search?: string;
  /** A field, `-` prefix for descending (default `-created_at`). */
  sort?: string;
  limit?: number;
  offset?: number;
  /** Only these runs (at most 1000). */
  ids?: readonly string[];
}

/** One page of a project's runs and how many match in all. A bad filter is a 400 ApiError. */
export function listRuns(entity: string, project: string, q: RunQuery = {}, signal?: AbortSignal): Promise<RunList> {
  const query: Record<string, string | number | undefined> = {
    filter: q.filter?.trim() === "" ? undefined : q.filter?.trim(),
    search: q.search?.trim() === "" ? undefined : q.search?.trim(),
    sort: q.sort === "" ? undefined : q.sort,
    limit: q.limit,
    offset: q.offset === 0 ? undefined : q.offset,
    ids: q.ids === undefined ? undefined : q.ids.join(","),
  };
  return request<RunList>(runsPath(entity, project), signal === undefined ? { query } : { query, signal });
}

/** One run. (The id `fields` is reached through the list: its path is the fields route.) */
export async function getRun(entity: string, project: string, runId: string, signal?: AbortSignal): Promise<RunInfo> {
  if (runId === "fields") {
    const list = await listRuns(entity, project, { ids: [runId], limit: 1 }, signal);
    const run = list.runs[0];
    if (run === undefined) throw new ApiError(404, `no run 'fields' in project ${entity}/${project}`);
    return run;
  }
  const path = runsPath(entity, project, runId);
  return request<RunInfo>(path, signal === undefined ? {} : { signal });
}

/** The runs of `ids` that exist (in the order of `ids`) and the ids that don't. */
export async function getRuns(
  entity: string,
  project: string,
  ids: readonly string[],
  signal?: AbortSignal,
): Promise<{ runs: RunInfo[]; missing: string[] }> {
  if (ids.length === 0) return { runs: [], missing: [] };
  const list = await listRuns(entity, project, { ids, limit: Math.min(1000, ids.length) }, signal);
  const byId = new Map(list.runs.map((r) => [r.id, r]));
  const runs = ids.map((id) => byId.get(id)).filter((r): r is RunInfo => r !== undefined);
  return { runs, missing: ids.filter((id) => !byId.has(id)) };
}

export interface RunPatch {
  name?: string;
  tags?: string[];
  notes?: string;
}

/** Edit a run's name, tags or notes; answers the updated run. */
export function patchRun(entity: string, project: string, runId: string, patch: RunPatch): Promise<RunInfo> {
  return request<RunInfo>(runsPath(entity, project, runId), { method: "PATCH", body: patch });
}

/** Delete a run and everything stored for it. */
export async function deleteRun(entity: string, project: string, runId: string): Promise<void> {
  await request<unknown>(runsPath(entity, project, runId), { method: "DELETE" });
}

/** A bulk action on runs of one project (`move`: into `to_project` of the same entity). */
export type BulkAction = "tag" | "untag" | "move" | "delete";

export interface BulkRequest {
  action: BulkAction;
  /** At most 1000. */
  run_ids: readonly string[];
  /** For tag and untag. */
  tags?: readonly string[];
  /** For move: a project of the same entity (created when missing). */
  to_project?: string;
}

/** One run's outcome: `ok`, or the `status` and `error` of its failure (404 unknown, 409 busy). */
export interface BulkOutcome {
  id: string;
  ok: boolean;
  status: number;
  /** The run afterwards (tag, untag, move). */
  run?: RunInfo;
  error?: string;
}

export interface BulkAnswer {
  action: BulkAction;
  results: BulkOutcome[];
  succeeded: number;
  failed: number;
}

/** Tag, untag, move or delete runs; a run that fails leaves the others done (see `results`). */
export function bulkRuns(entity: string, project: string, body: BulkRequest): Promise<BulkAnswer> {
  return request<BulkAnswer>(`${runsPath(entity, project)}/bulk`, { method: "POST", body });
}

function isObject(v: Json | undefined): v is { [key: string]: Json } {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The `.`-joined leaf paths of a nested object (`model.layers`), as the filter syntax names them. */
export function leafPaths(obj: Record<string, Json>, prefix = "", out: Set<string> = new Set()): Set<string> {
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix === "" ? k : `${prefix}.${k}`;
    if (isObject(v) && Object.keys(v).length > 0) leafPaths(v, key, out);
    else out.add(key);
  }
  return out;
}

/** The config/summary fields of `runs` (the fallback when the server has no fields endpoint). */
export function fieldsOf(runs: readonly RunInfo[]): RunFields {
  const config = new Set<string>();
  const summary = new Set<string>();
  for (const r of runs) {
    leafPaths(r.config, "", config);
    // summary keys are metric names (`train/loss`): one level, never split
    for (const k of Object.keys(r.summary)) summary.add(k);
  }
  return { config: [...config].sort(), summary: [...summary].sort() };
}

/**
 * Every config and summary key of a project's runs, for the column picker. Servers without
 * `GET .../fields` answer 404/405: then the keys of `fallback` (the loaded page) are used.
 */
export async function runFields(
  entity: string,
  project: string,
  fallback: readonly RunInfo[],
  signal?: AbortSignal,
): Promise<RunFields> {
  try {
    const path = `${runsPath(entity, project)}/fields`;
    const data = await request<RunFields>(path, signal === undefined ? {} : { signal });
    return { config: [...data.config], summary: [...data.summary] };
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 405)) return fieldsOf(fallback);
    throw err;
  }
}
