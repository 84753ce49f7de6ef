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

/** `GET RUN/system`: samples of the system metrics, columnar; nulls where a sample lacks a key. */
export interface SystemAnswer {
  timestamp: (number | string | null)[];
  runtime: (number | string | null)[];
  series: Record<string, (number | string | null)[]>;
}

/** One console line: `n` is its 0-based number in the whole log. */
export interface LogLine {
  n: number;
  stream: string;
  ts: number;
  text: string;
}

/** `GET RUN/logs`: a page of lines; `total` counts the lines matching the query. */
export interface LogPage {
  lines: LogLine[];
  total: number;
  next: number | null;
}

/** `GET RUN/files`: the run's files (paths relative to its `files/`). */
export interface RunFile {
  path: string;
  size: number;
}

interface MediaBase {
  path: string;
  sha256: string;
  size: number;
  caption?: string;
}

export interface ImageDescriptor extends MediaBase {
  _type: "image";
  format: string;
  width: number;
  height: number;
  mode?: string;
}

export interface AudioDescriptor extends MediaBase {
  _type: "audio";
  format: string;
  sample_rate: number;
  channels?: number;
  duration?: number;
}

export interface VideoDescriptor extends MediaBase {
  _type: "video";
  format: string;
  fps: number;
  width: number;
  height: number;
  frames?: number;
}

export interface HtmlDescriptor extends MediaBase {
  _type: "html";
}

export interface TableDescriptor extends MediaBase {
  _type: "table";
  columns: string[];
  nrows: number;
}

export interface GalleryDescriptor {
  _type: "gallery";
  items: MediaDescriptor[];
  caption?: string;
}

/** A media value of the run log (record kind 10), as the server answers it. */
export type MediaDescriptor =
  | ImageDescriptor
  | AudioDescriptor
  | VideoDescriptor
  | HtmlDescriptor
  | TableDescriptor
  | GalleryDescriptor;

export type MediaType = MediaDescriptor["_type"];

export interface MediaKey {
  key: string;
  type: MediaType;
  count: number;
}

export interface MediaItem {
  step: number;
  ts: number;
  value: MediaDescriptor;
}

/** `GET RUN/table`: one page of a logged table after filter and sort. */
export interface TablePage {
  columns: string[];
  total: number;
  offset: number;
  rows: Json[][];
  row_ids: number[];
}
