// The workspace's grouped runs: the "Group by" control (any config key seen in the project's
// runs, `group`, `job_type`) with its aggregate and band pickers, kept in the URL (groupby=,
// agg=, band=) and in the saved workspace document (member "grouping"), and which groups are
// expanded (kept in memory). The groups themselves come from charts/group.ts.

import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { RunFields, RunInfo } from "../../api/types";
import type { ChartGrouping } from "../../charts/groupChart";
import { AGGS, BANDS, GROUP_BY_BUILTINS, groupRuns, parseGrouping, type GroupAgg, type GroupBand, type Grouping, type RunGroup } from "../../charts/group";
import { loadWorkspace, saveWorkspaceMember } from "../../charts/workspaceDoc";
import type { Params } from "../../lib/route";

/** The workspace document member holding the grouping. */
export const GROUPING_MEMBER = "grouping";

const AGG_LABEL: Record<GroupAgg, string> = { mean: "Mean", median: "Median" };
const BAND_LABEL: Record<GroupBand, string> = { minmax: "Min–max", std: "± std", none: "No band" };

/** The grouping named by the URL, or null. */
export function groupingFromParams(params: Params): Grouping | null {
  return params.groupby === undefined ? null : parseGrouping({ by: params.groupby, agg: params.agg, band: params.band });
}

/** URL changes for `g` (null clears the grouping). */
export function groupingToParams(g: Grouping | null): Record<string, string | undefined> {
  if (g === null) return { groupby: undefined, agg: undefined, band: undefined };
  return { groupby: g.by, agg: g.agg === "mean" ? undefined : g.agg, band: g.band === "minmax" ? undefined : g.band };
}

export interface WorkspaceGrouping {
  grouping: Grouping | null;
  setGrouping: (g: Grouping | null) => void;
  expanded: ReadonlySet<string>;
  toggle: (key: string) => void;
}

/**
 * The workspace's grouping: from the URL; when the URL names none, the saved document's is put
 * into the URL once. Changes go to the URL and are saved in the document.
 */
export function useWorkspaceGrouping(
  entity: string,
  project: string,
  params: Params,
  setParams: (changes: Record<string, string | undefined>) => void,
): WorkspaceGrouping {
  const grouping = useMemo(() => groupingFromParams(params), [params.groupby, params.agg, params.band]);
  const touched = useRef(false);
  const setRef = useRef(setParams);
  setRef.current = setParams;
  const hadUrl = useRef(params.groupby !== undefined);
  useEffect(() => {
    if (hadUrl.current) return;
    const ctrl = new AbortController();
    loadWorkspace(entity, project, ctrl.signal)
      .then((doc) => {
        const saved = doc === null ? null : parseGrouping(doc[GROUPING_MEMBER]);
        if (saved !== null && !touched.current) setRef.current(groupingToParams(saved));
      })
      .catch(() => undefined);
    return () => { ctrl.abort(); };
  }, [entity, project]);

  const setGrouping = useCallback(
    (g: Grouping | null): void => {
      touched.current = true;
      setParams(groupingToParams(g));
      saveWorkspaceMember(entity, project, GROUPING_MEMBER, g).catch(() => undefined);
    },
    [entity, project, setParams],
  );

  const [expanded, setExpanded] = useState<ReadonlySet<string>>(new Set());
  useEffect(() => { setExpanded(new Set()); }, [grouping?.by]);
  const toggle = useCallback((key: string): void => {
    setExpanded((prev) => {
      const next = new Set(prev);
      if (next.has(key)) next.delete(key);
      else next.add(key);
      return next;
    });
  }, []);
  return { grouping, setGrouping, expanded, toggle };
}

/** The chart grid's grouping of `runs` (the runs shown in the charts). */
export function chartGroupingOf(
  g: Grouping,
  runs: readonly RunInfo[],
  expanded: ReadonlySet<string>,
  onToggle: (key: string) => void,
): ChartGrouping {
  return {
    agg: g.agg,
    band: g.band,
    onToggle,
    groups: groupRuns(runs, g.by).map((x) => ({ key: x.key, name: x.name, color: x.color, runIds: x.runs.map((r) => r.id), expanded: expanded.has(x.key) })),
  };
}

/** The runs table's groups of its runs. */
export interface TableGrouping {
  by: string;
  groups: readonly RunGroup<RunInfo>[];
  expanded: ReadonlySet<string>;
  onToggle: (key: string) => void;
}

/** "Group by" with aggregate and band pickers. Config keys are loaded when the control is used. */
export function GroupByControl(props: { load: () => Promise<RunFields>; grouping: Grouping | null; onChange: (g: Grouping | null) => void }) {
  const { grouping } = props;
  const [keys, setKeys] = useState<string[]>([]);
  const loadRef = useRef(props.load);
  loadRef.current = props.load;
  const fetchKeys = useCallback((): void => {
    loadRef
      .current()
      .then((f) => { setKeys(f.config.map((k) => `config.${k}`)); })
      .catch(() => undefined);
  }, []);
  useEffect(() => { fetchKeys(); }, [fetchKeys]);
  const options = [...GROUP_BY_BUILTINS, ...keys];
  if (grouping !== null && !options.includes(grouping.by)) options.push(grouping.by);
  return (
    <span class="group-by" data-testid="group-by">
      <label>
        Group by{" "}
        <select
          class="input input-small"
          value={grouping?.by ?? ""}
          onFocus={fetchKeys}
          onChange={(e) => {
            const by = e.currentTarget.value;
            props.onChange(by === "" ? null : { by, agg: grouping?.agg ?? "mean", band: grouping?.band ?? "minmax" });
          }}
          data-testid="group-by-select"
        >
          <option value="">None</option>
          {options.map((k) => (
            <option key={k} value={k}>
              {k}
            </option>
          ))}
        </select>
      </label>
      {grouping !== null && (
        <>
          <select
            class="input input-small"
            aria-label="Group line"
            value={grouping.agg}
            onChange={(e) => { props.onChange({ ...grouping, agg: AGGS.find((a) => a === e.currentTarget.value) ?? "mean" }); }}
            data-testid="group-agg"
          >
            {AGGS.map((a) => (
              <option key={a} value={a}>
                {AGG_LABEL[a]}
              </option>
            ))}
          </select>
          <select
            class="input input-small"
            aria-label="Group band"
            value={grouping.band}
            onChange={(e) => { props.onChange({ ...grouping, band: BANDS.find((b) => b === e.currentTarget.value) ?? "minmax" }); }}
            data-testid="group-band"
          >
            {BANDS.map((b) => (
              <option key={b} value={b}>
                {BAND_LABEL[b]}
              </option>
            ))}
          </select>
        </>
      )}
    </span>
  );
}
