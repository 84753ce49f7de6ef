// Pure helpers over a sweep's trials: flat parameters, the running best, the best trials, the
// points of the charts. No UI code here.

import type { SweepMetric, SweepParameter, Trial } from "../../api/sweeps";
import type { Json, Viewer } from "../../api/types";
import { flatten } from "../../lib/flatten";

export type Goal = SweepMetric["goal"];

/** `{"optimizer": {"lr": 0.1}}` -> `{"optimizer.lr": 0.1}` (the parameters' names). */
export function flatParams(params: Record<string, Json>): Record<string, Json> {
  return Object.fromEntries(flatten(params, "."));
}

/** True when `a` is better than `b` for `goal`. */
export function better(a: number, b: number, goal: Goal): boolean {
  return goal === "maximize" ? a > b : a < b;
}

/**
 * The best value so far at each position (nulls count as nothing logged): for the values
 * `[3, null, 1, 2]` minimized, `[3, 3, 1, 1]`; null until a first value.
 */
export function runningBest(values: readonly (number | null)[], goal: Goal): (number | null)[] {
  const out: (number | null)[] = [];
  let best: number | null = null;
  for (const v of values) {
    if (v !== null && Number.isFinite(v) && (best === null || better(v, best, goal))) best = v;
    out.push(best);
  }
  return out;
}

/** Trials with a value, best first (ties: the earlier trial), at most `n`. */
export function bestTrials(trials: readonly Trial[], goal: Goal, n = 5): Trial[] {
  return trials
    .filter((t) => t.value !== null && Number.isFinite(t.value))
    .sort((a, b) => {
      const av = a.value as number;
      const bv = b.value as number;
      if (av !== bv) return better(av, bv, goal) ? -1 : 1;
      return a.number - b.number;
    })
    .slice(0, n);
}

/** The metric over trials: x = trial number, y = value (NaN: none), and the running best. */
export function metricSeries(trials: readonly Trial[], goal: Goal): { x: number[]; y: number[]; best: number[]; points: number } {
  const sorted = [...trials].sort((a, b) => a.number - b.number);
  const values = sorted.map((t) => t.value);
  const best = runningBest(values, goal);
  return {
    x: sorted.map((t) => t.number),
    y: values.map((v) => v ?? NaN),
    best: best.map((v) => v ?? NaN),
    points: values.filter((v) => v !== null).length,
  };
}

/** A parameter value as a number for a chart: numbers and booleans (0/1); else null. */
export function numeric(v: Json | undefined): number | null {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "boolean") return v ? 1 : 0;
  return null;
}

/** The parameter names: those the sweep declares, then any others the trials carry, in order. */
export function paramNames(parameters: readonly SweepParameter[], trials: readonly Trial[]): string[] {
  const names = parameters.map((p) => p.name);
  const seen = new Set(names);
  for (const t of trials) {
    for (const k of Object.keys(flatParams(t.params))) {
      if (!seen.has(k)) {
        seen.add(k);
        names.push(k);
      }
    }
  }
  return names;
}

/**
 * The points of the scatter of the metric against one parameter: trials with a value and a
 * numeric parameter, sorted by x. Categorical parameters plot at their index in `categories`.
 */
export function scatterPoints(trials: readonly Trial[], name: string, categories: readonly string[] | null): { x: number[]; y: number[]; trials: number[] } {
  const pts: [number, number, number][] = [];
  for (const t of trials) {
    if (t.value === null) continue;
    const v = flatParams(t.params)[name];
    let x: number | null;
    if (categories !== null) {
      const i = categories.indexOf(categoryLabel(v));
      x = i >= 0 ? i : null;
    } else {
      x = numeric(v);
    }
    if (x !== null) pts.push([x, t.value, t.number]);
  }
  pts.sort((a, b) => a[0] - b[0] || a[2] - b[2]);
  return { x: pts.map((p) => p[0]), y: pts.map((p) => p[1]), trials: pts.map((p) => p[2]) };
}

/** How a categorical value is labelled on an axis (strings as they are, others as JSON). */
export function categoryLabel(v: Json | undefined): string {
  if (v === undefined) return "";
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** The state shown for a trial: its run's state once the run exists (it knows `stopped`), else the trial's. */
export function trialState(t: Trial): string {
  if (t.state === "queued" || t.run === null || t.run.state === "") return t.state;
  return t.run.state;
}

/** The command that starts an agent for a sweep: `entity/project/id` on a server, the id locally. */
export function agentCommand(sweep: { entity: string; project: string; id: string }, local: boolean): string {
  return local ? `fwtrack agent ${sweep.id}` : `fwtrack agent ${sweep.entity}/${sweep.project}/${sweep.id}`;
}

/**
 * Whether the viewer may write to `entity` (control its sweeps, edit its runs, save its
 * workspace): a server admin, the user itself, or a member of the team with a role above
 * `viewer` (the server's rule; `read_only` lists the teams where the role is `viewer`).
 */
export function canWrite(viewer: Viewer | null, entity: string): boolean {
  if (viewer === null) return false;
  if (viewer.is_admin || viewer.name === entity) return true;
  return viewer.teams.includes(entity) && !(viewer.read_only ?? []).includes(entity);
}
