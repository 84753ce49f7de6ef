// The chart grid's data: one cache of series per (key, run), filled by batched history requests
// for the keys of the panels in view, and kept up to date by live polling. Charts subscribe to
// the keys they draw. All requests of a store run one after another (never piling up).
// Timestamps are asked for only for keys drawn on a time axis; many runs share a point budget
// per chart (fewer points per run as runs are added, min/max bands kept).

import { fetchHistory, type HistoryOptions, type HistoryResult, type SeriesData, type StepRange } from "../api/history";
import { lowerBound } from "./align";

/** How a store fetches history: `fetchHistory`, or a stand-in with its signature in tests. */
export type Fetcher = typeof fetchHistory;

/** What a chart shows for a key. */
export type DataState = "loading" | "ready" | "error" | "empty";

/** Most keys in one history request (the server allows 1000). */
export const MAX_KEYS_PER_REQUEST = 200;

/**
 * Runs drawn at the full `samples` points each; more runs in a chart share that budget
 * (`samples` x this many points per key), each getting at least `MIN_SAMPLES_PER_RUN`.
 */
export const RUNS_AT_FULL_RESOLUTION = 10;
export const MIN_SAMPLES_PER_RUN = 100;

/** The options of a request of `samples` points per series: the runs' shared budget and timestamps. */
export function historyOptions(samples: number, timestamps: boolean): HistoryOptions {
  return { timestamps, budget: samples * RUNS_AT_FULL_RESOLUTION, minSamples: MIN_SAMPLES_PER_RUN };
}

function concat(a: Float64Array, cut: number, b: Float64Array): Float64Array {
  const out = new Float64Array(cut + b.length);
  out.set(a.subarray(0, cut), 0);
  out.set(b, cut);
  return out;
}

function same(a: number | undefined, b: number | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && Number.isNaN(a) && Number.isNaN(b));
}

/**
 * `head` continued by `tail` (full-resolution points from `tail.step[0]` on): head points at or
 * past the tail's first step are replaced. Returns null when the tail adds nothing new.
 */
export function appendTail(head: SeriesData, tail: SeriesData): SeriesData | null {
  const n = tail.step.length;
  if (n === 0) return null;
  const cut = lowerBound(head.step, tail.step[0] as number);
  // timestamps are kept only when both have them (a key no longer on a time axis drops them)
  const ht = head.timestamp;
  const tt = tail.timestamp;
  const times = ht !== null && tt !== null;
  if (cut + n === head.step.length) {
    let changed = false;
    for (let i = 0; i < n && !changed; i++) {
      changed =
        !same(head.step[cut + i], tail.step[i]) ||
        !same(head.value[cut + i], tail.value[i]) ||
        (times && !same(ht[cut + i], tt[i]));
    }
    if (!changed) return null;
  }
  return {
    step: concat(head.step, cut, tail.step),
    value: concat(head.value, cut, tail.value),
    timestamp: times ? concat(ht, cut, tt) : null,
    min: head.min === null ? null : concat(head.min, cut, tail.min ?? tail.value),
    max: head.max === null ? null : concat(head.max, cut, tail.max ?? tail.value),
  };
}

export class HistoryStore {
  private runs: string[] = [];
  private polled: Set<string> | null = null;
  /** key -> run -> series (null: the run has no data for the key). */
  private readonly data = new Map<string, Map<string, SeriesData | null>>();
  private readonly errors = new Map<string, string>();
  /** Per panel in view: its keys, and whether it draws them on a time axis (needs timestamps). */
  private readonly panels = new Map<string, { keys: readonly string[]; timestamps: boolean }>();
  private readonly listeners = new Map<string, Set<() => void>>();
  /** Keys whose cache mixes resolutions or misses points: refetched whole at the next poll. */
  private readonly stale = new Set<string>();
  private queue: Promise<void> = Promise.resolve();
  private scheduled = false;
  private readonly controller = new AbortController();
  private disposed = false;
  /** Points per series asked of the server (about the charts' width in pixels). */
  samples = 1000;
  /** Requests sent so far (for tests and diagnostics). */
  requests = 0;

  constructor(
    readonly entity: string,
    readonly project: string,
    private readonly fetcher: Fetcher = fetchHistory,
  ) {}

  /** The runs to show; `running` (when given) limits live polling to those runs. */
  setRuns(ids: readonly string[], running?: readonly string[] | null): void {
    const changed = ids.length !== this.runs.length || ids.some((id, i) => this.runs[i] !== id);
    this.runs = [...ids];
    this.polled = running === undefined || running === null ? null : new Set(running);
    if (!changed) return;
    const keep = new Set(ids);
    for (const byRun of this.data.values()) {
      for (const run of [...byRun.keys()]) if (!keep.has(run)) byRun.delete(run);
    }
    this.schedule();
    this.notify([...this.data.keys()]);
  }

  /** Points per series for the next requests: about the plot's width in pixels (rounded up to 50s). */
  setSamples(n: number): void {
    this.samples = Math.min(4000, Math.max(100, Math.ceil(n / 50) * 50));
  }

  /**
   * Declare the keys panel `id` draws while it is in view (null when it left the view), and
   * whether it draws them on a time axis (then their timestamps are fetched too).
   */
  setPanelKeys(id: string, keys: readonly string[] | null, timestamps = false): void {
    if (keys === null) {
      this.panels.delete(id);
      return;
    }
    this.panels.set(id, { keys, timestamps });
    for (const k of keys) this.errors.delete(k);
    this.schedule();
  }

  /** Call `fn` whenever the data of `key` changes; returns the unsubscribe function. */
  subscribe(key: string, fn: () => void): () => void {
    let set = this.listeners.get(key);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(key, set);
    }
    set.add(fn);
    return () => set.delete(fn);
  }

  /** The cached series of `key` by run (runs without data for it map to null). */
  get(key: string): ReadonlyMap<string, SeriesData | null> | undefined {
    return this.data.get(key);
  }

  /** The state of `key` for `runs` (default: the store's runs); `loading` while timestamps it needs are on their way. */
  state(key: string, runs: readonly string[] = this.runs): DataState {
    if (this.errors.has(key)) return "error";
    const byRun = this.data.get(key);
    if (runs.length === 0) return "empty";
    if (byRun === undefined) return "loading";
    const timed = this.timedKeys().has(key);
    let points = 0;
    for (const run of runs) {
      if (!byRun.has(run)) return "loading";
      const s = byRun.get(run);
      if (timed && s !== undefined && s !== null && s.timestamp === null) return "loading";
      points += s?.step.length ?? 0;
    }
    return points === 0 ? "empty" : "ready";
  }

  error(key: string): string | undefined {
    return this.errors.get(key);
  }

  /** Keys of the panels in view. */
  visibleKeys(): string[] {
    const out = new Set<string>();
    for (const p of this.panels.values()) for (const k of p.keys) out.add(k);
    return [...out];
  }

  /** Keys of the panels in view that are drawn on a time axis. */
  timedKeys(): Set<string> {
    const out = new Set<string>();
    for (const p of this.panels.values()) if (p.timestamps) for (const k of p.keys) out.add(k);
    return out;
  }

  /**
   * Series of `keys` for the current runs within `range` (a zoom), through this store's fetcher,
   * with timestamps when `timestamps` (a time axis).
   */
  fetchRange(keys: readonly string[], samples: number, range: StepRange, signal?: AbortSignal, timestamps = true): Promise<HistoryResult> {
    this.requests++;
    return this.fetcher(this.entity, this.project, this.runs, keys, samples, range, signal, historyOptions(samples, timestamps));
  }

  /** Stop everything: requests in flight are aborted, nothing more is fetched. */
  dispose(): void {
    this.disposed = true;
    this.controller.abort();
    this.listeners.clear();
  }

  /** Wait for the queued work (tests). */
  idle(): Promise<void> {
    return this.queue;
  }

  private notify(keys: Iterable<string>): void {
    for (const k of keys) {
      const set = this.listeners.get(k);
      if (set !== undefined) for (const fn of [...set]) fn();
    }
  }

  private enqueue(job: () => Promise<void>): Promise<void> {
    const run = this.queue.then(() => (this.disposed ? undefined : job()));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Load what the panels in view miss, in one request, once the current batch of calls is over. */
  private schedule(): void {
    if (this.scheduled || this.disposed) return;
    this.scheduled = true;
    queueMicrotask(() => {
      void this.enqueue(async () => {
        this.scheduled = false;
        await this.loadMissing();
      });
    });
  }

  private async loadMissing(): Promise<void> {
    const timed = this.timedKeys();
    // keys on a time axis (fetched with timestamps) and the others, each in their own requests
    for (const withTimes of [false, true]) {
      const keys: string[] = [];
      const runs = new Set<string>();
      for (const key of this.visibleKeys()) {
        if (this.errors.has(key) || timed.has(key) !== withTimes) continue;
        const byRun = this.data.get(key);
        let missing = false;
        for (const run of this.runs) {
          const s = byRun?.get(run);
          if (s === undefined || (withTimes && s !== null && s.timestamp === null)) {
            runs.add(run);
            missing = true;
          }
        }
        if (missing) keys.push(key);
      }
      if (keys.length === 0 || runs.size === 0) continue;
      const runList = this.runs.filter((r) => runs.has(r));
      for (let i = 0; i < keys.length; i += MAX_KEYS_PER_REQUEST) {
        await this.fetchInto(runList, keys.slice(i, i + MAX_KEYS_PER_REQUEST), withTimes);
      }
    }
  }

  /** Fetch `keys` of `runs` whole (downsampled) and replace their cache. */
  private async fetchInto(runs: string[], keys: string[], timestamps: boolean): Promise<void> {
    let result: HistoryResult;
    try {
      this.requests++;
      result = await this.fetcher(this.entity, this.project, runs, keys, this.samples, undefined, this.controller.signal, historyOptions(this.samples, timestamps));
    } catch (err) {
      if (this.disposed) return;
      const msg = err instanceof Error ? err.message : String(err);
      for (const k of keys) this.errors.set(k, msg);
      this.notify(keys);
      return;
    }
    if (this.disposed) return;
    for (const k of keys) {
      let byRun = this.data.get(k);
      if (byRun === undefined) {
        byRun = new Map();
        this.data.set(k, byRun);
      }
      for (const run of runs) byRun.set(run, result.runs.get(run)?.get(k) ?? null);
      this.errors.delete(k);
      this.stale.delete(k);
    }
    this.notify(keys);
  }

  /**
   * One live update (for `lib/poll.ts`): ask for the points past the last step held of the keys
   * in view for the polled runs and append them; keys whose new points came downsampled (too many)
   * or that grew past twice the sample count are refetched whole.
   */
  refresh(): Promise<void> {
    return this.enqueue(() => this.refreshNow());
  }

  private async refreshNow(): Promise<void> {
    const runs = this.runs.filter((r) => this.polled === null || this.polled.has(r));
    const keys = this.visibleKeys().filter((k) => this.data.has(k) && !this.errors.has(k));
    if (runs.length === 0 || keys.length === 0) return;
    const tailKeys = keys.filter((k) => !this.stale.has(k));
    const timed = this.timedKeys();
    if (tailKeys.length > 0) {
      let minStep = Number.POSITIVE_INFINITY;
      for (const k of tailKeys) {
        const byRun = this.data.get(k);
        for (const r of runs) {
          const s = byRun?.get(r);
          if (s !== undefined && s !== null && s.step.length > 0) {
            minStep = Math.min(minStep, s.step[s.step.length - 1] as number);
          }
        }
      }
      const range: StepRange = Number.isFinite(minStep) ? { minStep } : {};
      this.requests++;
      const times = tailKeys.some((k) => timed.has(k));
      const result = await this.fetcher(this.entity, this.project, runs, tailKeys, this.samples, range, this.controller.signal, historyOptions(this.samples, times));
      if (this.disposed) return;
      const changed = new Set<string>();
      for (const k of tailKeys) {
        const byRun = this.data.get(k);
        if (byRun === undefined) continue;
        for (const r of runs) {
          const tail = result.runs.get(r)?.get(k);
          if (tail === undefined || tail.step.length === 0) continue;
          const head = byRun.get(r);
          if (head === undefined || head === null || head.step.length === 0) {
            byRun.set(r, tail);
            changed.add(k);
            if (range.minStep !== undefined || tail.min !== null) this.stale.add(k);
            continue;
          }
          if (tail.min !== null) {
            this.stale.add(k);
            continue;
          }
          const merged = appendTail(head, tail);
          if (merged === null) continue;
          byRun.set(r, merged);
          changed.add(k);
          if (merged.step.length > 2 * this.samples) this.stale.add(k);
        }
      }
      this.notify(changed);
    }
    const stale = keys.filter((k) => this.stale.has(k));
    if (stale.length > 0) await this.fetchInto(runs, stale, stale.some((k) => timed.has(k)));
  }
}
