// Sweeps of a project (docs/sweeps.md, docs/server.md "Sweeps"): the list, one sweep with its
// counts, best trial, agents and parameters, its trials (each with its run), the parameter
// importance, and the controls (pause, resume, stop, cancel). No UI code here.

import { request } from "./client";
import type { Json } from "./types";

export const SWEEP_STATES = ["running", "paused", "stopped", "cancelled", "finished"] as const;
export type SweepState = (typeof SWEEP_STATES)[number];
export type SweepMethod = "grid" | "random" | "bayes";
export type SweepAction = "pause" | "resume" | "stop" | "cancel";
export const TRIAL_STATES = ["queued", "running", "finished", "failed", "stopped", "crashed"] as const;
export type TrialState = (typeof TRIAL_STATES)[number];

export interface SweepMetric {
  name: string;
  goal: "minimize" | "maximize";
  target: number | null;
}

export interface SweepCounts {
  queued: number;
  running: number;
  finished: number;
  failed: number;
  stopped: number;
  crashed: number;
  total: number;
}

export interface SweepAgent {
  id: number;
  host: string;
  pid: number;
  state: string;
  heartbeat_at: number | null;
}

/** One leaf parameter (`a.b` for nested ones): its distribution, its values or its bounds. */
export interface SweepParameter {
  name: string;
  distribution: string;
  values: Json[] | null;
  min: number | null;
  max: number | null;
}

/** The run a trial started (from the runs table; null until it reached the server). */
export interface TrialRun {
  name: string;
  state: string;
  summary: Record<string, Json>;
}

export interface Trial {
  id: number;
  number: number;
  attempt: number;
  run_id: string;
  past_run_ids: string[];
  /** Nested as the program receives them (`{"optimizer": {"lr": 0.01}}`). */
  params: Record<string, Json>;
  state: TrialState;
  /** The metric's summary value; null while none was logged. */
  value: number | null;
  history_len: number;
  agent_id: number | null;
  stop_requested: boolean;
  created_at: number;
  started_at: number | null;
  ended_at: number | null;
  run: TrialRun | null;
}

export interface Sweep {
  id: string;
  entity: string;
  project: string;
  name: string;
  description: string | null;
  method: SweepMethod;
  state: SweepState;
  config: Record<string, Json>;
  metric: SweepMetric | null;
  created_at: number;
  updated_at: number;
  created_by: string | null;
  run_cap: number | null;
  seed: number | null;
  counts: SweepCounts;
  grid_size: number | null;
  best: Trial | null;
  agents: SweepAgent[];
  parameters: SweepParameter[];
}

export interface ParamImportance {
  name: string;
  importance: number | null;
  correlation: number | null;
}

export interface Importance {
  metric: string | null;
  count: number;
  params: ParamImportance[];
  /** Why importance is missing (too few trials), else null. */
  detail: string | null;
}

// --- parsing: the answers made whole (absent fields defaulted, unknown states kept readable) ---

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function str(v: unknown, fallback = ""): string {
  return typeof v === "string" ? v : fallback;
}

function strOrNull(v: unknown): string | null {
  return typeof v === "string" ? v : null;
}

function num(v: unknown, fallback = 0): number {
  return typeof v === "number" && Number.isFinite(v) ? v : fallback;
}

/** A finite number, else null (the server sends NaN/Infinity as strings). */
export function numOrNull(v: unknown): number | null {
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  return null;
}

function jsonRecord(v: unknown): Record<string, Json> {
  return isRecord(v) ? (v as Record<string, Json>) : {};
}

function oneOf<T extends string>(v: unknown, allowed: readonly T[], fallback: T): T {
  return typeof v === "string" && (allowed as readonly string[]).includes(v) ? (v as T) : fallback;
}

export function parseTrial(raw: unknown): Trial {
  const t = isRecord(raw) ? raw : {};
  const r = isRecord(t.run) ? t.run : null;
  return {
    id: num(t.id),
    number: num(t.number),
    attempt: num(t.attempt),
    run_id: str(t.run_id),
    past_run_ids: Array.isArray(t.past_run_ids) ? t.past_run_ids.filter((x): x is string => typeof x === "string") : [],
    params: jsonRecord(t.params),
    state: oneOf(t.state, TRIAL_STATES, "queued"),
    value: numOrNull(t.value),
    history_len: num(t.history_len),
    agent_id: typeof t.agent_id === "number" ? t.agent_id : null,
    stop_requested: t.stop_requested === true,
    created_at: num(t.created_at),
    started_at: numOrNull(t.started_at),
    ended_at: numOrNull(t.ended_at),
    run: r === null ? null : { name: str(r.name), state: str(r.state), summary: jsonRecord(r.summary) },
  };
}

function parseCounts(raw: unknown): SweepCounts {
  const c = isRecord(raw) ? raw : {};
  const counts: SweepCounts = { queued: 0, running: 0, finished: 0, failed: 0, stopped: 0, crashed: 0, total: 0 };
  for (const k of TRIAL_STATES) counts[k] = num(c[k]);
  counts.total = typeof c.total === "number" ? c.total : TRIAL_STATES.reduce((n, k) => n + counts[k], 0);
  return counts;
}

function parseParameter(raw: unknown): SweepParameter {
  const p = isRecord(raw) ? raw : {};
  return {
    name: str(p.name),
    distribution: str(p.distribution),
    values: Array.isArray(p.values) ? (p.values as Json[]) : null,
    min: numOrNull(p.min),
    max: numOrNull(p.max),
  };
}

export function parseSweep(raw: unknown): Sweep {
  const s = isRecord(raw) ? raw : {};
  const m = isRecord(s.metric) ? s.metric : null;
  return {
    id: str(s.id),
    entity: str(s.entity),
    project: str(s.project),
    name: str(s.name),
    description: strOrNull(s.description),
    method: oneOf(s.method, ["grid", "random", "bayes"] as const, "random"),
    state: oneOf(s.state, SWEEP_STATES, "running"),
    config: jsonRecord(s.config),
    metric: m === null ? null : { name: str(m.name), goal: m.goal === "maximize" ? "maximize" : "minimize", target: numOrNull(m.target) },
    created_at: num(s.created_at),
    updated_at: num(s.updated_at),
    created_by: strOrNull(s.created_by),
    run_cap: numOrNull(s.run_cap),
    seed: numOrNull(s.seed),
    counts: parseCounts(s.counts),
    grid_size: numOrNull(s.grid_size),
    best: isRecord(s.best) ? parseTrial(s.best) : null,
    agents: Array.isArray(s.agents)
      ? s.agents.filter(isRecord).map((a) => ({ id: num(a.id), host: str(a.host), pid: num(a.pid), state: str(a.state), heartbeat_at: numOrNull(a.heartbeat_at) }))
      : [],
    parameters: Array.isArray(s.parameters) ? s.parameters.map(parseParameter) : [],
  };
}

export function parseImportance(raw: unknown): Importance {
  const i = isRecord(raw) ? raw : {};
  return {
    metric: strOrNull(i.metric),
    count: num(i.count),
    params: Array.isArray(i.params)
      ? i.params.filter(isRecord).map((p) => ({ name: str(p.name), importance: numOrNull(p.importance), correlation: numOrNull(p.correlation) }))
      : [],
    detail: strOrNull(i.detail),
  };
}

// --- the routes ---

function seg(s: string): string {
  return encodeURIComponent(s);
}

/** `/sweeps/{entity}/{project}[/{id}]` with each part escaped. */
export function sweepsPath(entity: string, project: string, sweepId?: string): string {
  const base = `/sweeps/${seg(entity)}/${seg(project)}`;
  return sweepId === undefined ? base : `${base}/${seg(sweepId)}`;
}

function opts(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal === undefined ? {} : { signal };
}

/** The sweeps of a project, newest first. */
export async function listSweeps(entity: string, project: string, signal?: AbortSignal): Promise<Sweep[]> {
  const raw = await request<unknown>(sweepsPath(entity, project), opts(signal));
  const list = isRecord(raw) && Array.isArray(raw.sweeps) ? raw.sweeps.map(parseSweep) : [];
  return list.sort((a, b) => b.created_at - a.created_at || (a.id < b.id ? -1 : 1));
}

export async function getSweep(entity: string, project: string, sweepId: string, signal?: AbortSignal): Promise<Sweep> {
  return parseSweep(await request<unknown>(sweepsPath(entity, project, sweepId), opts(signal)));
}

/** Pause, resume, stop or cancel a sweep (409 when its state does not allow it). */
export async function controlSweep(entity: string, project: string, sweepId: string, action: SweepAction): Promise<Sweep> {
  return parseSweep(await request<unknown>(sweepsPath(entity, project, sweepId), { method: "PATCH", body: { action } }));
}

/** The sweep's trials by number. */
export async function listTrials(entity: string, project: string, sweepId: string, signal?: AbortSignal): Promise<Trial[]> {
  const raw = await request<unknown>(`${sweepsPath(entity, project, sweepId)}/trials`, opts(signal));
  const list = isRecord(raw) && Array.isArray(raw.trials) ? raw.trials.map(parseTrial) : [];
  return list.sort((a, b) => a.number - b.number);
}

export async function getImportance(entity: string, project: string, sweepId: string, signal?: AbortSignal): Promise<Importance> {
  return parseImportance(await request<unknown>(`${sweepsPath(entity, project, sweepId)}/importance`, opts(signal)));
}

/** Where a sweep lives, from its id alone. */
export async function locateSweep(sweepId: string, signal?: AbortSignal): Promise<{ entity: string; project: string; id: string }> {
  const raw = await request<unknown>(`/sweep-ids/${seg(sweepId)}`, opts(signal));
  const r = isRecord(raw) ? raw : {};
  return { entity: str(r.entity), project: str(r.project), id: str(r.id, sweepId) };
}

/** The actions a sweep in `state` accepts (the controller's rule). */
export function allowedActions(state: SweepState): SweepAction[] {
  switch (state) {
    case "running":
      return ["pause", "stop", "cancel"];
    case "paused":
      return ["resume", "stop", "cancel"];
    case "stopped":
      return ["cancel"];
    default:
      return [];
  }
}
