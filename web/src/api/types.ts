// Shapes of the server's JSON answers (docs/server.md, "API"). Times are Unix seconds.

export type RunState = "running" | "finished" | "failed" | "crashed";

/** A JSON value as the server sends it. Non-finite numbers arrive as "NaN"/"Infinity"/"-Infinity". */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface Viewer {
  name: string;
  is_admin: boolean;
  teams: string[];
}

export interface ProjectInfo {
  entity: string;
  name: string;
  run_count: number;
  last_activity: number | null;
}

export interface RunInfo {
  id: string;
  entity: string;
  project: string;
  name: string;
  state: RunState;
  tags: string[];
  notes: string | null;
  created_at: number;
  updated_at: number;
  heartbeat_at: number | null;
  runtime: number;
  exit_code: number | null;
  config: Record<string, Json>;
  summary: Record<string, Json>;
  metadata: Record<string, Json>;
  keys: string[];
  log_size: number;
}

export interface RunList {
  runs: RunInfo[];
  total: number;
}

/** One series, columnar: handed straight to uPlot. `min`/`max` only when downsampled. */
export interface Series {
  step: number[];
  value: (number | string | null)[];
  timestamp: number[];
  min?: (number | string | null)[];
  max?: (number | string | null)[];
}

export interface RunHistory {
  run: string;
  series: Record<string, Series>;
  downsampled: boolean;
}

/** Every histogram logged under one key of a run, one entry per step in each list. */
export interface HistogramSeries {
  key: string;
  steps: number[];
  edges: number[][];
  counts: number[][];
  nan: number[];
  pos_inf: number[];
  neg_inf: number[];
}

/** The config and summary keys of a project's runs (for the column picker), `.`-joined paths. */
export interface RunFields {
  config: string[];
  summary: string[];
}

export interface ProjectList {
  projects: ProjectInfo[];
}
