// Shapes of the server's JSON answers (docs/server.md, "API"). Times are Unix seconds.

/** `stopped`: ended early on purpose (a sweep's early termination or cancel), not a crash. */
export type RunState = "running" | "finished" | "failed" | "crashed" | "stopped";

/** A JSON value as the server sends it. Non-finite numbers arrive as "NaN"/"Infinity"/"-Infinity". */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A member's role in a team: `viewer`s read and comment, every write is refused. */
export type TeamRole = "admin" | "member" | "viewer";

export interface Viewer {
  name: string;
  is_admin: boolean;
  teams: string[];
  /** The teams where this user is a `viewer` (absent from servers before roles: none). */
  read_only?: string[];
  /** The user's role in each of their teams (absent from servers before roles). */
  roles?: Record<string, TeamRole>;
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
  /** The sweep whose trial this run is (absent from servers before sweeps). */
  sweep_id?: string | null;
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

// --- Artifacts (docs/artifacts.md; the routes under /artifacts/{entity}/{project}) ---

/** The run an artifact version was logged by (or null when it was not logged by a run). */
export interface ArtifactRunRef {
  entity: string | null;
  project: string;
  id: string;
}

/** One version of an artifact collection ("VersionJSON"). `aliases` sorted, with `latest` when it is. */
export interface ArtifactVersion {
  id: string;
  entity: string | null;
  project: string;
  name: string;
  type: string;
  /** `v3` */
  version: string;
  index: number;
  /** `blake3:<64 hex>`: the address of the canonical manifest. */
  digest: string;
  size: number;
  files: number;
  aliases: string[];
  description: string | null;
  metadata: Record<string, Json>;
  created_at: number;
  created_by: string | null;
  run: ArtifactRunRef | null;
}

/** An artifact a run logged or used that the server does not hold (yet): `version` is null. */
export interface UnresolvedArtifact {
  project: string;
  name: string;
  digest: string;
  type: string | null;
  version: null;
}

/** A named collection of versions ("CollectionJSON"); `size` is the latest version's. */
export interface ArtifactCollection {
  project: string;
  name: string;
  type: string;
  description: string | null;
  versions: number;
  latest: string;
  /** alias -> `vN` */
  aliases: Record<string, string>;
  size: number;
  created_at: number;
  updated_at: number;
}

/** `GET …/collections/{name}`: the collection with its versions, newest first. */
export interface ArtifactCollectionDetail extends ArtifactCollection {
  versions_list: ArtifactVersion[];
}

export interface ArtifactTypeInfo {
  type: string;
  collections: number;
  versions: number;
}

/** A sub-directory of a version's file listing: its name (one segment), files and bytes below it. */
export interface ArtifactDir {
  name: string;
  files: number;
  size: number;
}

/** A file of a version: stored (`address`) or a reference to outside storage (`ref`). */
export interface ArtifactFile {
  path: string;
  /** null for a reference recorded without its size (`checksum=False`). */
  size: number | null;
  address?: string;
  ref?: string;
}

/** `GET …/files?prefix=`: one level of a version's files; more with `next_cursor`. */
export interface ArtifactFileListing {
  prefix: string;
  dirs: ArtifactDir[];
  files: ArtifactFile[];
  next_cursor: string | null;
}

/** A run that used a version. */
export interface ArtifactUse {
  entity: string;
  project: string;
  run_id: string;
  name: string;
  state: RunState;
  used_at: number;
}

export interface LineageRunNode {
  id: string;
  kind: "run";
  entity: string;
  project: string;
  run_id: string;
  name: string;
  state: RunState;
}

export interface LineageArtifactNode {
  id: string;
  kind: "artifact";
  project: string;
  name: string;
  version: string;
  type: string;
  digest: string;
}

export type LineageNode = LineageRunNode | LineageArtifactNode;

/** run -> artifact: the run logged it; artifact -> run: the run used it. */
export interface LineageEdge {
  from: string;
  to: string;
}

export interface Lineage {
  nodes: LineageNode[];
  edges: LineageEdge[];
}

/** What a changed file was in one version: its size and its address (or ETag for references). */
export interface ArtifactFileState {
  size: number | null;
  address?: string;
  etag?: string;
}

export interface ArtifactDiff {
  a: ArtifactVersion;
  b: ArtifactVersion;
  added: { path: string; size: number | null }[];
  removed: { path: string; size: number | null }[];
  changed: { path: string; a: ArtifactFileState; b: ArtifactFileState }[];
  unchanged: number;
  metadata: {
    added: Record<string, Json>;
    removed: Record<string, Json>;
    /** key -> [old, new] */
    changed: Record<string, [Json, Json]>;
  };
}

/** `GET RUN/artifacts`: what a run logged and used, in log order. */
export interface RunArtifacts {
  logged: (ArtifactVersion | UnresolvedArtifact)[];
  used: (ArtifactVersion | UnresolvedArtifact)[];
}
