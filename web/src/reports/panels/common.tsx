// What every report panel shares: its run set loaded once (and polled while the report is live),
// the frame (title, run set, state) and the inline editors' fields.

import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { isAbort } from "../../api/client";
import type { RunInfo } from "../../api/types";
import { errorMessage } from "../../components/states";
import { poll } from "../../lib/poll";
import { describeRunSet, resolveRunSet, runSetKeys, sameRuns, type ResolvedRunSet, type RunSetKeys } from "../runset";
import type { Grouping, ReportRef, RunSet } from "./types";

/** A live report re-reads its run sets this often (new runs appear). */
export const RUNSET_POLL_MS = 10_000;

export interface RunSetState {
  state: "loading" | "ready" | "error";
  runs: RunInfo[];
  total: number;
  missing: string[];
  error: string | null;
  keys: RunSetKeys;
}

const NO_KEYS: RunSetKeys = { metrics: [], config: [], summary: [] };

/**
 * The runs of `rs`: fetched once, then polled (paused while the tab is hidden) unless the report
 * is frozen. The answer keeps its identity while the runs stay the same.
 */
export function useRunSet(report: ReportRef, rs: RunSet | undefined): RunSetState {
  const [st, setSt] = useState<RunSetState>({ state: "loading", runs: [], total: 0, missing: [], error: null, keys: NO_KEYS });
  const sig = JSON.stringify(rs ?? null);
  const frozen = report.frozen_at !== null;
  useEffect(() => {
    if (rs === undefined) {
      setSt({ state: "error", runs: [], total: 0, missing: [], error: "this panel has no run set", keys: NO_KEYS });
      return;
    }
    setSt((s) => ({ ...s, state: "loading", error: null }));
    const load = async (signal: AbortSignal): Promise<void> => {
      let res: ResolvedRunSet;
      try {
        res = await resolveRunSet(report.entity, report.project, rs, signal);
      } catch (err) {
        if (isAbort(err)) return;
        setSt((s) => ({ ...s, state: "error", error: errorMessage(err) }));
        return;
      }
      setSt((s) =>
        s.state === "ready" && s.total === res.total && sameRuns(s.runs, res.runs)
          ? s
          : { state: "ready", runs: res.runs, total: res.total, missing: res.missing, error: null, keys: runSetKeys(res.runs) },
      );
    };
    if (frozen) {
      const ctrl = new AbortController();
      void load(ctrl.signal);
      return () => {
        ctrl.abort();
      };
    }
    return poll(load, RUNSET_POLL_MS);
  }, [report.entity, report.project, sig, frozen]);
  return st;
}

/** The frame of a panel: title, what it shows, its state, and the editor when editing. */
export function PanelFrame(props: {
  type: string;
  title: string;
  runs?: RunSet;
  state: "loading" | "ready" | "error" | "empty";
  error?: string | null;
  attrs?: Record<string, string | number>;
  editor?: ComponentChildren;
  children?: ComponentChildren;
}) {
  return (
    <section
      class="report-panel"
      data-testid="report-panel"
      data-panel-type={props.type}
      data-state={props.state}
      aria-label={`${props.title} panel`}
      {...props.attrs}
    >
      <header class="report-panel-head">
        <h3 class="report-panel-title">{props.title}</h3>
        {props.runs !== undefined && (
          <span class="report-panel-runs muted" data-testid="panel-runset" title="The runs this panel shows">
            {describeRunSet(props.runs)}
          </span>
        )}
      </header>
      {props.editor !== undefined && (
        <div class="report-panel-editor" data-testid="panel-editor">
          {props.editor}
        </div>
      )}
      {props.state === "loading" && <div class="report-panel-note muted">Loading…</div>}
      {props.state === "error" && (
        <div class="report-panel-note field-error" role="alert" data-testid="panel-error">
          {props.error ?? "Could not load this panel"}
        </div>
      )}
      {props.children}
    </section>
  );
}

/** A panel block's title field. */
export function TitleField(props: { value: string | undefined; onChange: (title: string) => void }) {
  return (
    <label class="rp-field">
      Title
      <input class="input input-small" value={props.value ?? ""} data-testid="panel-title-input" onChange={(e) => { props.onChange(e.currentTarget.value); }} />
    </label>
  );
}

/** The keys of `first` (the run set's first run) for an editor's key picker, loaded only while
 * the panel is edited. */
export function useEditorKeys(editing: boolean, first: RunInfo | undefined, load: (run: RunInfo, signal: AbortSignal) => Promise<string[]>): string[] {
  const [keys, setKeys] = useState<string[]>([]);
  useEffect(() => {
    if (!editing || first === undefined) return;
    const ctrl = new AbortController();
    load(first, ctrl.signal)
      .then(setKeys)
      .catch(() => undefined);
    return () => { ctrl.abort(); };
  }, [editing, first?.id]);
  return keys;
}

/** An optional step: empty is null (every step, or the last), else a whole number. */
export function StepField(props: { label: string; value: number | null | undefined; onChange: (step: number | null) => void; testid: string }) {
  return (
    <label class="rp-field">
      {props.label}
      <input
        class="input input-small"
        type="number"
        value={props.value ?? ""}
        data-testid={props.testid}
        onChange={(e) => {
          const v = e.currentTarget.value.trim();
          props.onChange(v === "" ? null : Math.floor(Number(v)));
        }}
      />
    </label>
  );
}

/** The run set field: a filter (live) or a list of run ids, with limit and sort. */
export function RunSetField(props: { value: RunSet; onChange: (rs: RunSet) => void }) {
  const rs = props.value;
  const mode = rs.ids !== undefined ? "ids" : "filter";
  const [draft, setDraft] = useState(mode === "ids" ? (rs.ids ?? []).join(", ") : (rs.filter ?? ""));
  useEffect(() => {
    setDraft(mode === "ids" ? (rs.ids ?? []).join(", ") : (rs.filter ?? ""));
  }, [mode, rs.filter, (rs.ids ?? []).join(",")]);
  const base = (): RunSet => {
    const out: RunSet = {};
    if (rs.limit !== undefined) out.limit = rs.limit;
    if (rs.sort !== undefined) out.sort = rs.sort;
    return out;
  };
  const commit = (m: "ids" | "filter", text: string): void => {
    if (m === "ids") {
      props.onChange({ ...base(), ids: text.split(/[\s,]+/).filter((s) => s !== "") });
    } else props.onChange({ ...base(), filter: text.trim() });
  };
  return (
    <fieldset class="rp-runset" data-testid="runset-editor">
      <legend>Runs</legend>
      <select
        class="input input-small"
        value={mode}
        aria-label="Run set kind"
        data-testid="runset-mode"
        onChange={(e) => { commit(e.currentTarget.value === "ids" ? "ids" : "filter", e.currentTarget.value === mode ? draft : ""); }}
      >
        <option value="filter">Filter (stays live)</option>
        <option value="ids">These runs (ids)</option>
      </select>
      <input
        class="input input-small mono"
        value={draft}
        aria-label={mode === "ids" ? "Run ids, comma separated" : "Filter, e.g. config.lr > 0.01 and tags ~ baseline"}
        placeholder={mode === "ids" ? "run ids, comma separated" : "config.lr > 0.01 and tags ~ baseline"}
        data-testid="runset-input"
        onInput={(e) => { setDraft(e.currentTarget.value); }}
        onKeyDown={(e) => {
          if (e.key === "Enter") {
            e.preventDefault();
            commit(mode, draft);
          }
        }}
        onBlur={() => { commit(mode, draft); }}
      />
      <label class="rp-field">
        Limit
        <input
          class="input input-small"
          type="number"
          min={1}
          max={500}
          value={rs.limit ?? 50}
          data-testid="runset-limit"
          onChange={(e) => {
            const n = Number(e.currentTarget.value);
            props.onChange({ ...rs, limit: Number.isFinite(n) ? Math.max(1, Math.min(500, Math.floor(n))) : 50 });
          }}
        />
      </label>
    </fieldset>
  );
}

/** A `<select>` of keys (with a "choose" placeholder when the value is not among them). */
export function KeySelect(props: { label: string; value: string; keys: readonly string[]; onChange: (key: string) => void; testid?: string }) {
  const keys = props.keys.includes(props.value) || props.value === "" ? props.keys : [props.value, ...props.keys];
  return (
    <label class="rp-field">
      {props.label}
      <select class="input input-small" value={props.value} data-testid={props.testid} onChange={(e) => { props.onChange(e.currentTarget.value); }}>
        {props.value === "" && <option value="">Choose…</option>}
        {keys.map((k) => (
          <option key={k} value={k}>
            {k}
          </option>
        ))}
      </select>
    </label>
  );
}

/** Checkboxes of keys (metrics of a line chart, columns of a table). */
export function KeyChecks(props: { label: string; value: readonly string[]; keys: readonly string[]; onChange: (keys: string[]) => void; testid?: string }) {
  const keys = [...props.value.filter((k) => !props.keys.includes(k)), ...props.keys];
  return (
    <fieldset class="rp-checks" data-testid={props.testid}>
      <legend>{props.label}</legend>
      {keys.length === 0 && <span class="muted">No keys in these runs yet</span>}
      {keys.map((k) => (
        <label key={k} class="rp-check">
          <input
            type="checkbox"
            checked={props.value.includes(k)}
            data-key={k}
            onChange={(e) => {
              const on = e.currentTarget.checked;
              props.onChange(on ? [...props.value, k] : props.value.filter((v) => v !== k));
            }}
          />
          <span class="mono">{k}</span>
        </label>
      ))}
    </fieldset>
  );
}

/** The grouping field: none, or by a config key / `group` / `job_type`, with agg and band. */
export function GroupingField(props: { value: Grouping | null | undefined; configKeys: readonly string[]; onChange: (g: Grouping | null) => void }) {
  const g = props.value ?? null;
  const choices = ["group", "job_type", ...props.configKeys.map((k) => `config.${k}`)];
  return (
    <fieldset class="rp-group" data-testid="grouping-editor">
      <legend>Group</legend>
      <select
        class="input input-small"
        aria-label="Group by"
        value={g?.by ?? ""}
        data-testid="group-by"
        onChange={(e) => {
          const by = e.currentTarget.value;
          props.onChange(by === "" ? null : { by, agg: g?.agg ?? "mean", band: g?.band ?? "minmax" });
        }}
      >
        <option value="">No grouping</option>
        {(g !== null && !choices.includes(g.by) ? [g.by, ...choices] : choices).map((c) => (
          <option key={c} value={c}>
            {c}
          </option>
        ))}
      </select>
      {g !== null && (
        <>
          <select class="input input-small" aria-label="Group line" value={g.agg} data-testid="group-agg" onChange={(e) => { props.onChange({ ...g, agg: e.currentTarget.value === "median" ? "median" : "mean" }); }}>
            <option value="mean">mean</option>
            <option value="median">median</option>
          </select>
          <select
            class="input input-small"
            aria-label="Group band"
            value={g.band}
            data-testid="group-band"
            onChange={(e) => {
              const v = e.currentTarget.value;
              props.onChange({ ...g, band: v === "std" ? "std" : v === "none" ? "none" : "minmax" });
            }}
          >
            <option value="minmax">min–max</option>
            <option value="std">± std</option>
            <option value="none">no band</option>
          </select>
        </>
      )}
    </fieldset>
  );
}

/** The value of a `config.<k>` / `summary.<k>` field of a run (config keys may be dotted paths). */
export function fieldOf(run: RunInfo, field: string): unknown {
  if (field.startsWith("summary.")) return run.summary[field.slice("summary.".length)];
  if (field.startsWith("config.")) {
    let v: unknown = run.config;
    for (const part of field.slice("config.".length).split(".")) {
      if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
      v = (v as Record<string, unknown>)[part];
    }
    return v;
  }
  if (field === "name") return run.name;
  if (field === "state") return run.state;
  if (field === "created_at") return run.created_at;
  if (field === "group" || field === "job_type") return run.metadata[field] ?? (run as unknown as Record<string, unknown>)[field];
  return undefined;
}

/** All `config.<k>` and `summary.<k>` fields of a run set. */
export function fieldChoices(keys: RunSetKeys): string[] {
  return [...keys.config.map((k) => `config.${k}`), ...keys.summary.map((k) => `summary.${k}`)];
}
