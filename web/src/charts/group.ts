// Grouped runs: runs put in groups by a config key, `group` or `job_type`, and each group's
// metric drawn as one aggregate line with a band. Pure functions, tested (group.test.ts).
//
// STABLE API (used by the workspace and by the report line panel; change only compatibly):
//
//   groupRuns(runs, by) -> RunGroup<R>[]
//     `runs`: anything with `id`, `config` and `metadata` (the server's run JSON, RunInfo).
//     `by`:   "config.<key>" (nested keys with dots: "config.optim.lr"), "group" or "job_type"
//             (read from the run's metadata, where the server keeps them).
//     One group per distinct value (values compared by their JSON text, so 0.1 and "0.1" are
//     two groups); runs missing the key (or holding null) form the group NONE_KEY, named
//     "(none)". Groups are ordered by value (numbers ascending, then strings in natural order,
//     then other values by their JSON text), the "(none)" group last; runs keep their given
//     order inside a group. A group's colour is a hash of `by` and its key, so it stays the
//     same whatever other groups exist.
//
//   aggregateGroup(series, agg, band, smoothing = 0) -> Aggregate
//     `series`: each run's x and y (Float64Arrays, the same length; as the charts hold them).
//     Smoothing, when given, is applied to each run's y on its own BEFORE aggregating (the
//     debiased EMA of lib/ema.ts, as W&B smooths grouped runs). The runs are then aligned on
//     x: the result's x is the ascending union of the x values where some run has a finite
//     y (non-finite x or y are ignored; a run with repeated x keeps its last value there). At
//     each x, over the runs that have a finite y at exactly that x:
//       y      = the mean (`agg` "mean") or the median (`agg` "median"; with an even count,
//                the mean of the two middle values);
//       lower/upper = min and max (`band` "minmax"), or mean - std and mean + std (`band`
//                "std": the POPULATION standard deviation, divided by n, so a one-run point
//                has std 0; the band is centred on the mean also when the line is the
//                median), or null (`band` "none");
//       count  = how many runs had a value there.
//
//   groupColor(by, key), NONE_KEY, GROUP_BY_BUILTINS, parseGrouping(...) — helpers below.

import type { Json } from "../api/types";
import { assignColors, hash32, PALETTE } from "../lib/colors";
import { ema } from "../lib/ema";
import { getPath } from "../lib/flatten";

export type GroupAgg = "mean" | "median";
export type GroupBand = "minmax" | "std" | "none";

/** What a workspace or a report panel groups by and how a group is drawn (the report contract). */
export interface Grouping {
  by: string;
  agg: GroupAgg;
  band: GroupBand;
}

/** The fields grouping reads from a run (the server's run JSON has them). */
export interface GroupableRun {
  id: string;
  config: Record<string, Json>;
  metadata?: Record<string, Json>;
}

export interface RunGroup<R extends GroupableRun = GroupableRun> {
  /** Stable identity: the value's JSON text, or NONE_KEY. */
  key: string;
  /** Readable name: the value as text, or "(none)". */
  name: string;
  /** The value grouped on (undefined for the "(none)" group). */
  value: Json | undefined;
  color: string;
  runs: R[];
}

export interface Aggregate {
  x: Float64Array;
  y: Float64Array;
  lower: Float64Array | null;
  upper: Float64Array | null;
  count: Uint32Array;
}

export const NONE_KEY = "(none)";
export const NONE_NAME = "(none)";
/** The run fields one can group by besides config keys. */
export const GROUP_BY_BUILTINS: readonly string[] = ["group", "job_type"];
export const AGGS: readonly GroupAgg[] = ["mean", "median"];
export const BANDS: readonly GroupBand[] = ["minmax", "std", "none"];

/** Whether `by` names something runs can be grouped by. */
export function isGroupBy(by: string): boolean {
  return GROUP_BY_BUILTINS.includes(by) || (by.startsWith("config.") && by.length > "config.".length);
}

/** A Grouping from loose input (URL params, a saved document); null when `by` is not valid. */
export function parseGrouping(v: unknown): Grouping | null {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return null;
  const r = v as Record<string, unknown>;
  if (typeof r.by !== "string" || !isGroupBy(r.by)) return null;
  const agg = AGGS.find((a) => a === r.agg) ?? "mean";
  const band = BANDS.find((b) => b === r.band) ?? "minmax";
  return { by: r.by, agg, band };
}

/** The value a run holds for `by` (undefined when missing). */
export function groupValue(run: GroupableRun, by: string): Json | undefined {
  if (GROUP_BY_BUILTINS.includes(by)) {
    const v = run.metadata?.[by];
    return v === null || v === "" ? undefined : v;
  }
  const v = getPath(run.config, by.slice("config.".length));
  return v === null ? undefined : v;
}

/** The colour of a group: a palette entry picked by a hash of what it is grouped by and its key. */
export function groupColor(by: string, key: string): string {
  return PALETTE[hash32(`${by}\u0000${key}`) % PALETTE.length] ?? "#1f77b4";
}

const collator = new Intl.Collator("en", { numeric: true });

function rank(v: Json | undefined): number {
  if (v === undefined) return 3;
  if (typeof v === "number") return 0;
  if (typeof v === "string") return 1;
  return 2;
}

function compareValues(a: { value: Json | undefined; key: string }, b: { value: Json | undefined; key: string }): number {
  const ra = rank(a.value);
  const rb = rank(b.value);
  if (ra !== rb) return ra - rb;
  if (typeof a.value === "number" && typeof b.value === "number") return a.value - b.value;
  if (typeof a.value === "string" && typeof b.value === "string") return collator.compare(a.value, b.value) || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0);
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/** The runs in groups by `by` (see the module header). */
export function groupRuns<R extends GroupableRun>(runs: readonly R[], by: string): RunGroup<R>[] {
  const groups = new Map<string, RunGroup<R>>();
  for (const run of runs) {
    const value = groupValue(run, by);
    const key = value === undefined ? NONE_KEY : JSON.stringify(value);
    let g = groups.get(key);
    if (g === undefined) {
      const name = value === undefined ? NONE_NAME : typeof value === "string" ? value : key;
      g = { key, name, value, color: groupColor(by, key), runs: [] };
      groups.set(key, g);
    }
    g.runs.push(run);
  }
  const sorted = [...groups.values()].sort(compareValues);
  // distinct among the groups shown together (the same assignment as runs get)
  const colors = assignColors(sorted.map((g) => `${by}\u0000${g.key}`));
  for (const g of sorted) g.color = colors.get(`${by}\u0000${g.key}`) ?? g.color;
  return sorted;
}

/** The median of `vals[0..n)` (sorted in place). */
function median(vals: Float64Array, n: number): number {
  const s = vals.subarray(0, n).sort();
  const h = n >> 1;
  return n % 2 === 1 ? (s[h] as number) : ((s[h - 1] as number) + (s[h] as number)) / 2;
}

/** The aggregate of the runs' series (see the module header). */
export function aggregateGroup(
  series: readonly { x: Float64Array; y: Float64Array }[],
  agg: GroupAgg,
  band: GroupBand,
  smoothing = 0,
): Aggregate {
  // Per run: its finite points in ascending x (last value of a repeated x).
  const runs = series.map((s) => {
    const ys = smoothing > 0 ? ema(s.y, smoothing) : s.y;
    const n = Math.min(s.x.length, ys.length);
    const idx: number[] = [];
    for (let i = 0; i < n; i++) if (Number.isFinite(s.x[i]) && Number.isFinite(ys[i])) idx.push(i);
    idx.sort((a, b) => (s.x[a] as number) - (s.x[b] as number) || a - b);
    const xs: number[] = [];
    const vs: number[] = [];
    for (const i of idx) {
      const xv = s.x[i] as number;
      if (xs.length > 0 && xs[xs.length - 1] === xv) vs[vs.length - 1] = ys[i] as number;
      else {
        xs.push(xv);
        vs.push(ys[i] as number);
      }
    }
    return { xs, vs };
  });
  const all = new Set<number>();
  for (const r of runs) for (const v of r.xs) all.add(v);
  const x = Float64Array.from([...all].sort((a, b) => a - b));
  const m = x.length;
  const y = new Float64Array(m);
  const lower = band === "none" ? null : new Float64Array(m);
  const upper = band === "none" ? null : new Float64Array(m);
  const count = new Uint32Array(m);
  const pos = runs.map(() => 0);
  const vals = new Float64Array(runs.length);
  for (let j = 0; j < m; j++) {
    const xv = x[j] as number;
    let n = 0;
    runs.forEach((r, k) => {
      const p = pos[k] as number;
      if (p < r.xs.length && r.xs[p] === xv) {
        vals[n++] = r.vs[p] as number;
        pos[k] = p + 1;
      }
    });
    count[j] = n;
    let sum = 0;
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < n; i++) {
      const v = vals[i] as number;
      sum += v;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const mean = sum / n;
    if (band === "std" && lower !== null && upper !== null) {
      let ss = 0;
      for (let i = 0; i < n; i++) {
        const d = (vals[i] as number) - mean;
        ss += d * d;
      }
      const sd = Math.sqrt(ss / n);
      lower[j] = mean - sd;
      upper[j] = mean + sd;
    } else if (band === "minmax" && lower !== null && upper !== null) {
      lower[j] = lo;
      upper[j] = hi;
    }
    y[j] = agg === "median" ? median(vals, n) : mean;
  }
  return { x, y, lower, upper, count };
}
