// Metric history of many runs in one request (`POST /history/{entity}/{project}`, docs/server.md).
// The answer is binary (`application/x-fwtrack-series`): little-endian columns that become
// Float64Arrays without a copy (float32 columns are widened once); JSON answers (an exported
// report's record, a server without the binary answer) are read too. Nothing downstream builds
// per-point objects.

import { isRecording, requestRaw } from "./client";

/**
 * One run's series of one key, columnar. `min`/`max` only when the server downsampled it;
 * `timestamp` only when asked for (`HistoryOptions.timestamps`).
 */
export interface SeriesData {
  step: Float64Array;
  value: Float64Array;
  timestamp: Float64Array | null;
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

/** What else a history request asks for. */
export interface HistoryOptions {
  /** Each point's timestamp (default true): needed only when a chart's x is wall or relative time. */
  timestamps?: boolean;
  /**
   * Points per key shared by all the runs asked for: each run gets max(`minSamples`, budget / runs)
   * points, never more than `samples` (many runs in one chart draw fewer points each).
   */
  budget?: number;
  /** The fewest points a run gets from `budget` (the server's default: 100). */
  minSamples?: number;
}

/** The server's limit on runs per request; more runs are split into parallel requests. */
export const MAX_RUNS_PER_REQUEST = 100;

/** The media type of the binary answer. */
export const SERIES_MEDIA_TYPE = "application/x-fwtrack-series";

type WireValue = number | string | null;

interface WireSeries {
  step: WireValue[];
  value: WireValue[];
  timestamp?: WireValue[];
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
    timestamp: s.timestamp === undefined ? null : toFloat64(s.timestamp),
    min: s.min === undefined ? null : toFloat64(s.min),
    max: s.max === undefined ? null : toFloat64(s.max),
  };
}

// ---------------------------------------------------------------------------------------------
// The binary answer: "FWSR", u32 version, u32 header length, the header (JSON), zero bytes up to
// a multiple of 8, then the columns, each at a multiple of 8 from the data section's start.

const MAGIC = [0x46, 0x57, 0x53, 0x52]; // "FWSR"
const FORMAT_VERSION = 1;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

type WireColumn = [type: "f8" | "f4", offset: number];

interface BinarySeries {
  key: string;
  n: number;
  step: WireColumn;
  value: WireColumn;
  timestamp?: WireColumn;
  min?: WireColumn;
  max?: WireColumn;
}

interface BinaryHeader {
  format: number;
  runs: { run: string; downsampled: boolean; series: BinarySeries[] }[];
  missing: string[];
}

function malformed(why: string): Error {
  return new Error(`the history answer is malformed: ${why}`);
}

function column(buf: ArrayBuffer, start: number, n: number, col: WireColumn | undefined, name: string): Float64Array {
  if (!Array.isArray(col)) throw malformed(`a series has no ${name} column`);
  const [type, offset] = col as [string, number];
  const size = type === "f8" ? 8 : type === "f4" ? 4 : 0;
  if (size === 0) throw malformed(`unknown column type ${JSON.stringify(type)}`);
  const at = start + offset;
  if (!Number.isInteger(offset) || offset < 0 || at % 8 !== 0 || at + n * size > buf.byteLength) {
    throw malformed(`column ${name} at ${offset} (${n} values) lies outside the answer`);
  }
  if (!LITTLE_ENDIAN) {
    const view = new DataView(buf, at, n * size);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = size === 8 ? view.getFloat64(i * 8, true) : view.getFloat32(i * 4, true);
    return out;
  }
  return size === 8 ? new Float64Array(buf, at, n) : new Float64Array(new Float32Array(buf, at, n));
}

/** Decode a binary history answer (`application/x-fwtrack-series`); throws on a malformed one. */
export function decodeSeries(buf: ArrayBuffer): HistoryResult {
  const bytes = new Uint8Array(buf);
  if (bytes.length < 12 || MAGIC.some((b, i) => bytes[i] !== b)) throw malformed("no FWSR magic");
  const view = new DataView(buf);
  const version = view.getUint32(4, true);
  if (version !== FORMAT_VERSION) throw malformed(`format version ${version}, this dashboard reads ${FORMAT_VERSION}`);
  const headLen = view.getUint32(8, true);
  if (12 + headLen > bytes.length) throw malformed("the header runs past the end");
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + headLen))) as BinaryHeader;
  const start = Math.ceil((12 + headLen) / 8) * 8;
  const result: HistoryResult = { runs: new Map(), missing: [...header.missing] };
  for (const run of header.runs) {
    const series = new Map<string, SeriesData>();
    for (const s of run.series) {
      const n = s.n;
      if (!Number.isInteger(n) || n < 0) throw malformed(`series ${s.key} has ${n} points`);
      series.set(s.key, {
        step: column(buf, start, n, s.step, "step"),
        value: column(buf, start, n, s.value, "value"),
        timestamp: s.timestamp === undefined ? null : column(buf, start, n, s.timestamp, "timestamp"),
        min: s.min === undefined ? null : column(buf, start, n, s.min, "min"),
        max: s.max === undefined ? null : column(buf, start, n, s.max, "max"),
      });
    }
    result.runs.set(run.run, series);
  }
  return result;
}

/** A JSON answer as the decoded form. */
function fromJson(answer: WireAnswer): HistoryResult {
  const result: HistoryResult = { runs: new Map(), missing: [...answer.missing] };
  for (const run of answer.runs) {
    const series = new Map<string, SeriesData>();
    for (const [key, s] of Object.entries(run.series)) series.set(key, toSeriesData(s));
    result.runs.set(run.run, series);
  }
  return result;
}

async function fetchChunk(
  entity: string,
  project: string,
  runIds: string[],
  keys: string[],
  samples: number,
  range: StepRange | undefined,
  signal: AbortSignal | undefined,
  opts: HistoryOptions,
): Promise<HistoryResult> {
  const body: Record<string, unknown> = { runs: runIds, keys, samples: Math.max(0, Math.round(samples)) };
  if (range?.minStep !== undefined && Number.isFinite(range.minStep)) body.min_step = range.minStep;
  if (range?.maxStep !== undefined && Number.isFinite(range.maxStep)) body.max_step = range.maxStep;
  if (range?.until !== undefined && Number.isFinite(range.until)) body.until = range.until;
  if (opts.timestamps === false) body.timestamps = false;
  if (opts.budget !== undefined && Number.isFinite(opts.budget)) body.budget = Math.max(1, Math.round(opts.budget));
  if (opts.minSamples !== undefined && Number.isFinite(opts.minSamples)) body.min_samples = Math.max(1, Math.round(opts.minSamples));
  const init: { method: string; body: unknown; signal?: AbortSignal } = { method: "POST", body };
  if (signal !== undefined) init.signal = signal;
  // A report being exported keeps JSON answers (its replay recombines them per run and key).
  const accept = isRecording() ? "application/json" : `${SERIES_MEDIA_TYPE}, application/json;q=0.5`;
  const resp = await requestRaw(`/history/${encodeURIComponent(entity)}/${encodeURIComponent(project)}`, accept, init);
  const type = (resp.headers.get("Content-Type") ?? "").split(";")[0]?.trim().toLowerCase();
  if (type === SERIES_MEDIA_TYPE) return decodeSeries(await resp.arrayBuffer());
  return fromJson((await resp.json()) as WireAnswer);
}

/**
 * Series of `keys` for `runIds`, downsampled (min/max-preserving) to about `samples` points per
 * series (`0` = full resolution), within `range` when given. One request per 100 runs (a
 * `budget` is shared among them in proportion to their runs).
 */
export async function fetchHistory(
  entity: string,
  project: string,
  runIds: readonly string[],
  keys: readonly string[],
  samples: number,
  range?: StepRange,
  signal?: AbortSignal,
  opts: HistoryOptions = {},
): Promise<HistoryResult> {
  const result: HistoryResult = { runs: new Map(), missing: [] };
  if (runIds.length === 0 || keys.length === 0) return result;
  const chunks: string[][] = [];
  for (let i = 0; i < runIds.length; i += MAX_RUNS_PER_REQUEST) {
    chunks.push(runIds.slice(i, i + MAX_RUNS_PER_REQUEST));
  }
  const answers = await Promise.all(
    chunks.map((c) => {
      const share = opts.budget === undefined ? opts : { ...opts, budget: (opts.budget * c.length) / runIds.length };
      return fetchChunk(entity, project, c, [...keys], samples, range, signal, share);
    }),
  );
  for (const answer of answers) {
    for (const [run, series] of answer.runs) result.runs.set(run, series);
    result.missing.push(...answer.missing);
  }
  return result;
}
